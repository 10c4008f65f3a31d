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
	c.AddCommand(newCacheDumpCommand(g), newCacheShowCommand())
	return c
}

type cacheDumpOptions struct {
	dataDir string
	doc     string
	prefix  string
	json    bool
}

func newCacheDumpCommand(g *globalOptions) *cobra.Command {
	o := &cacheDumpOptions{}
	c := &cobra.Command{
		Use:   "dump",
		Short: "List cached records: key, version, size and time",
		Long: `dump lists every cached record of the data directory with the version of what made it, its
size and when it was made. It opens the database read-only, so it runs while no server holds
it (bbolt allows one writer or several readers).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCacheDump(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.dataDir, "data-dir", "./data", "directory of the database")
	c.Flags().StringVar(&o.doc, "doc", "", "only this document's records")
	c.Flags().StringVar(&o.prefix, "prefix", "", "only keys with this prefix (e.g. page_data/)")
	c.Flags().BoolVar(&o.json, "json", false, "one JSON object per line")
	return c
}

type dumpRow struct {
	Key     string    `json:"key"`
	Version string    `json:"version"`
	Size    int       `json:"size"`
	Created time.Time `json:"created_at"`
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
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
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

// openReadOnly opens a data directory for offline inspection.
func openReadOnly(dataDir string) (*store.DB, error) {
	db, err := store.Open(dataDir, store.Options{ReadOnly: true, LockTimeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("a running server holds %s: inspect it offline, after stopping the server", dataDir)
	}
	return db, err
}
