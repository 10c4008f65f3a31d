package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/store"
)

func newCacheCommand(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "cache",
		Short: "Inspect the cache",
	}
	c.AddCommand(newCacheDumpCommand(g), newCacheShowCommand(), newCacheGCCommand(g))
	return c
}

type cacheDumpOptions struct {
	dataDir string
	doc     string
	prefix  string
	json    bool
	remote  bool
	s3      s3Options
}

func newCacheDumpCommand(g *globalOptions) *cobra.Command {
	o := &cacheDumpOptions{}
	c := &cobra.Command{
		Use:   "dump",
		Short: "List cached records: key, version, size and time",
		Long: `dump lists every cached record of the data directory with the version of what made it, its
size and when it was made. It opens the database read-only, so it runs while no server holds
it (bbolt allows one writer or several readers).

With --remote (and the bucket: --s3-bucket or IDP_S3_BUCKET) it lists the bucket too and
says where each key stands: local only, pending upload, in sync, remote only (or pending
delete, after a reprocess).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCacheDump(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.dataDir, "data-dir", "./data", "directory of the database")
	c.Flags().StringVar(&o.doc, "doc", "", "only this document's records")
	c.Flags().StringVar(&o.prefix, "prefix", "", "only keys with this prefix (e.g. page_data/)")
	c.Flags().BoolVar(&o.json, "json", false, "one JSON object per line")
	c.Flags().BoolVar(&o.remote, "remote", false, "compare with the S3 bucket: local only, pending upload, in sync, remote only")
	o.s3.AddFlags(c.Flags())
	return c
}

type dumpRow struct {
	Key     string    `json:"key"`
	Version string    `json:"version"`
	Size    int       `json:"size"`
	Created time.Time `json:"created_at"`
	State   string    `json:"state,omitempty"`
}

func runCacheDump(ctx context.Context, o *cacheDumpOptions, out io.Writer) error {
	if o.doc != "" && !store.ValidID(o.doc) {
		return fmt.Errorf("--doc %q is not a document id (24 hex digits)", o.doc)
	}
	db, err := openReadOnly(o.dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	prefixes := []string{o.prefix}
	if o.doc != "" {
		prefixes = store.DocCachePrefixes(o.doc)
	}
	if o.remote {
		return runCacheDumpRemote(ctx, o, db, prefixes, out)
	}
	var rows []dumpRow
	err = db.View(ctx, func(tx *store.Tx) error {
		for _, p := range prefixes {
			err := tx.CacheEntries(p, func(e store.CacheEntry) error {
				if !strings.HasPrefix(e.Key, o.prefix) {
					return nil
				}
				rows = append(rows, dumpRow{Key: e.Key, Version: e.Record.Version, Size: e.Size, Created: e.Record.CreatedAt})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if o.json {
		return writeJSONLines(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSIZE\tCREATED\tVERSION")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", r.Key, r.Size, r.Created.Local().Format(time.DateTime), r.Version)
	}
	fmt.Fprintf(tw, "%d records\n", len(rows))
	return tw.Flush()
}

func newCacheShowCommand() *cobra.Command {
	var dataDir string
	c := &cobra.Command{
		Use:   "show KEY",
		Short: "Print one cached record (version, time and data) as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openReadOnly(dataDir)
			if err != nil {
				return err
			}
			defer db.Close()
			var rec store.Record
			err = db.View(cmd.Context(), func(tx *store.Tx) error {
				var err error
				rec, err = tx.Cache(args[0])
				return err
			})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(rec)
		},
	}
	c.Flags().StringVar(&dataDir, "data-dir", "./data", "directory of the database")
	return c
}

// runCacheDumpRemote is dump --remote: every key of the cache and of the bucket, with its
// state.
func runCacheDumpRemote(ctx context.Context, o *cacheDumpOptions, db *store.DB, prefixes []string, out io.Writer) error {
	if !o.s3.enabled() {
		return errors.New("--remote needs the bucket: --s3-bucket (or IDP_S3_BUCKET)")
	}
	if o.doc == "" && o.prefix == "" {
		prefixes = store.CachePrefixes()
	}
	blob, err := o.s3.blob(ctx)
	if err != nil {
		return err
	}
	states, err := store.CompareRemote(ctx, db, blob, prefixes)
	if err != nil {
		return err
	}
	var rows []dumpRow
	counts := map[string]int{}
	for _, st := range states {
		if !strings.HasPrefix(st.Key, o.prefix) {
			continue
		}
		rows = append(rows, dumpRow{Key: st.Key, Version: st.Version, Size: int(st.Size), Created: st.CreatedAt, State: st.State})
		counts[st.State]++
	}
	if o.json {
		return writeJSONLines(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATE\tSIZE\tCREATED\tVERSION")
	for _, r := range rows {
		created := ""
		if !r.Created.IsZero() {
			created = r.Created.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Key, r.State, r.Size, created, r.Version)
	}
	fmt.Fprintf(tw, "%d keys: %d in sync, %d pending upload, %d local only, %d remote only",
		len(rows), counts[store.SyncInSync], counts[store.SyncPending], counts[store.SyncLocalOnly], counts[store.SyncRemoteOnly])
	if n := counts[store.SyncPendingDelete]; n > 0 {
		fmt.Fprintf(tw, ", %d pending delete", n)
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}

// openReadOnly opens a data directory for offline inspection.
func openReadOnly(dataDir string) (*store.DB, error) {
	db, err := store.Open(dataDir, store.Options{ReadOnly: true, LockTimeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("a running server holds %s: inspect it offline, after stopping the server", dataDir)
	}
	return db, err
}

// writeJSONLines writes one JSON object a line, for jq.
func writeJSONLines[T any](out io.Writer, rows []T) error {
	enc := json.NewEncoder(out)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
