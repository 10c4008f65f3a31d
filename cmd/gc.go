package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
)

// retentionValue is a --retain flag: "90d", "36h", "1d12h", or "off".
type retentionValue struct{ d *time.Duration }

func (v retentionValue) String() string {
	if v.d == nil {
		return "off"
	}
	return pipeline.FormatRetention(*v.d)
}

func (v retentionValue) Set(s string) error {
	d, err := pipeline.ParseRetention(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (retentionValue) Type() string { return "period" }

const retainUsage = "delete documents this long after they finished (completed or failed), with their files, cache and S3 objects: 90d, 36h, 1d12h, or off"

type cacheGCOptions struct {
	g       *globalOptions
	dataDir string
	retain  time.Duration
	dryRun  bool
	json    bool
	client  clientOptions
	s3      s3Options
}

func newCacheGCCommand(g *globalOptions) *cobra.Command {
	o := &cacheGCOptions{g: g}
	c := &cobra.Command{
		Use:   "gc",
		Short: "Run one retention sweep now: delete documents finished longer ago than --retain (--dry-run lists them)",
		Long: `gc deletes every document that finished (completed or failed) longer ago than --retain, with
its uploaded PDF, page images, cached results and, with S3, its objects in the bucket: what
` + "`idp serve --retain`" + ` does in the background, once, now. A document that is queued, being
processed, or was read through the API in the last hour is kept. --dry-run lists what would be
deleted and deletes nothing.

When a running server holds the database the sweep runs in the server (--server, --api-token;
without --retain it uses the server's own); otherwise gc works on the database directly, and
with the bucket configured (--s3-bucket) sends the deletes to S3 before it exits.`,
		Example: `  idp cache gc --retain 90d --dry-run
  IDP_RETAIN=90d idp cache gc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCacheGC(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.dataDir, "data-dir", "./data", "directory of the database")
	c.Flags().Var(retentionValue{&o.retain}, "retain", retainUsage)
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "list what would be deleted; delete nothing")
	c.Flags().BoolVar(&o.json, "json", false, "one JSON object per document")
	o.client.AddFlags(c.Flags())
	o.s3.AddFlags(c.Flags())
	return c
}

func runCacheGC(ctx context.Context, o *cacheGCOptions, out io.Writer) error {
	db, err := store.Open(o.dataDir, store.Options{LockTimeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return cacheGCThroughServer(ctx, o, out)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if o.retain <= 0 {
		return errors.New("--retain is needed (e.g. --retain 90d, or IDP_RETAIN=90d)")
	}
	log := o.g.logger
	var outbox *store.Uploader
	if !o.dryRun {
		// The bucket's copies go too: the deletes are queued with the records, and sent now.
		if outbox, err = o.s3.attach(db, store.NewDirBlob(o.dataDir), log); err != nil {
			return err
		}
		if outbox != nil {
			if err := outbox.Start(ctx); err != nil {
				return err
			}
			defer shutdownOutbox(outbox, log)
		}
	}
	proc, err := offlineProcessor(db, o.dataDir, pipeline.Config{}, log)
	if err != nil {
		return err
	}
	docs, err := proc.Sweep(ctx, pipeline.SweepOptions{Retain: o.retain, DryRun: o.dryRun})
	if perr := printSwept(out, o, docs, pipeline.FormatRetention(o.retain)); perr != nil {
		return perr
	}
	return err
}

func cacheGCThroughServer(ctx context.Context, o *cacheGCOptions, out io.Writer) error {
	q := url.Values{}
	if o.retain > 0 {
		q.Set("retain", pipeline.FormatRetention(o.retain))
	}
	q.Set("dry_run", strconv.FormatBool(o.dryRun))
	// A sweep deletes one document at a time: give it longer than a status call.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res, err := o.client.do(ctx, http.MethodPost, "/api/retention/sweep?"+q.Encode())
	if err != nil {
		return fmt.Errorf("a running server holds %s, and asking it to sweep failed: %w", o.dataDir, err)
	}
	defer res.Body.Close()
	var body struct {
		Retain    string           `json:"retain"`
		Documents []pipeline.Swept `json:"documents"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&body); err != nil {
		return fmt.Errorf("the server's answer: %w", err)
	}
	if err := printSwept(out, o, body.Documents, body.Retain); err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(out, "(by the server at %s)\n", o.client.server)
	}
	return nil
}

func printSwept(out io.Writer, o *cacheGCOptions, docs []pipeline.Swept, retain string) error {
	if o.json {
		return writeJSONLines(out, docs)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if len(docs) > 0 {
		fmt.Fprintln(tw, "DOC\tFILE\tSTATUS\tFINISHED\tAGE")
	}
	for _, d := range docs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.DocID, d.FileName, d.Status, d.FinishedAt.Local().Format(time.DateTime), d.Age)
	}
	if o.dryRun {
		fmt.Fprintf(tw, "%d documents would be deleted (retain %s); nothing was deleted (--dry-run)\n", len(docs), retain)
	} else {
		fmt.Fprintf(tw, "%d documents deleted (retain %s)\n", len(docs), retain)
	}
	return tw.Flush()
}
