package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

type reprocessOptions struct {
	g         *globalOptions
	dataDir   string
	fromStage string
	client    clientOptions
	s3        s3Options
}

func newReprocessCommand(g *globalOptions) *cobra.Command {
	o := &reprocessOptions{g: g}
	c := &cobra.Command{
		Use:   "reprocess DOC",
		Short: "Drop a document's cached results and queue it again at high priority",
		Long: `reprocess drops the cached results of DOC (all stages, or from --from-stage on), resets its
progress and tries, and queues it at the front of high priority.

When a running server holds the database, the request goes through its API (--server);
otherwise it changes the database directly and the next ` + "`idp serve`" + ` runs it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReprocess(cmd.Context(), o, args[0], cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.dataDir, "data-dir", "./data", "directory of the database")
	c.Flags().StringVar(&o.fromStage, "from-stage", "", fmt.Sprintf("first stage to redo, one of %v (default: all)", stage.All))
	o.client.AddFlags(c.Flags())
	// With S3, the dropped results are deleted from the bucket too (queued; the next serve
	// sends the deletes), or a read-through would bring them back.
	o.s3.AddFlags(c.Flags())
	return c
}

func runReprocess(ctx context.Context, o *reprocessOptions, id string, out io.Writer) error {
	if !store.ValidID(id) {
		return fmt.Errorf("%q is not a document id (24 hex digits)", id)
	}
	from := "all stages"
	if o.fromStage != "" {
		from = "from " + o.fromStage
	}
	db, err := store.Open(o.dataDir, store.Options{LockTimeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		path := "/api/document/" + id + "/reprocess"
		if o.fromStage != "" {
			path += "?from_stage=" + url.QueryEscape(o.fromStage)
		}
		if err := o.client.call(ctx, http.MethodPost, path, nil); err != nil {
			return fmt.Errorf("a running server holds %s, and asking it failed: %w", o.dataDir, err)
		}
		fmt.Fprintf(out, "%s: cached results dropped (%s); queued at high priority by the server at %s\n", id, from, o.client.server)
		return nil
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if o.s3.enabled() {
		blob, err := o.s3.blob(ctx)
		if err != nil {
			return err
		}
		if err := db.AttachRemote(blob, store.RemoteOptions{Files: store.NewDirBlob(o.dataDir)}); err != nil {
			return err
		}
	}
	if err := pipeline.ResetDocument(ctx, db, store.NewBoltQueue(db), id, o.fromStage); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no document %s in %s", id, o.dataDir)
		}
		return err
	}
	fmt.Fprintf(out, "%s: cached results dropped (%s); queued at high priority\n", id, from)
	return nil
}
