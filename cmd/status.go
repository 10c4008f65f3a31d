package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

type statusOptions struct {
	dataDir string
	client  clientOptions
}

func newStatusCommand() *cobra.Command {
	o := &statusOptions{}
	c := &cobra.Command{
		Use:   "status [DOC]",
		Short: "Show where a document stands, or the processor's state, as JSON",
		Long: `status prints the background status of DOC, or without DOC the processor's status and the
documents by status. It asks the running server (--server) when one holds the database, and
reads the database directly otherwise.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc := ""
			if len(args) == 1 {
				doc = args[0]
			}
			return runStatus(cmd.Context(), o, doc, cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.dataDir, "data-dir", "./data", "directory of the database")
	o.client.AddFlags(c.Flags())
	return c
}

func runStatus(ctx context.Context, o *statusOptions, doc string, out io.Writer) error {
	if doc != "" && !store.ValidID(doc) {
		return fmt.Errorf("%q is not a document id (24 hex digits)", doc)
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	db, err := store.Open(o.dataDir, store.Options{ReadOnly: true, LockTimeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		var v any
		path := "/api/background-processor/status"
		if doc != "" {
			path = "/api/document/" + doc + "/background-status"
		}
		if err := o.client.call(ctx, http.MethodGet, path, &v); err != nil {
			return fmt.Errorf("a running server holds %s, and asking it failed: %w", o.dataDir, err)
		}
		return enc.Encode(v)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	// Offline: a processor over the read-only database answers from what is stored.
	proc, err := offlineProcessor(db, o.dataDir, pipeline.Config{}, nil)
	if err != nil {
		return err
	}
	if doc != "" {
		st, err := proc.Status(ctx, doc)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no document %s in %s", doc, o.dataDir)
		}
		if err != nil {
			return err
		}
		return enc.Encode(map[string]any{"success": true, "status": st})
	}
	st, err := proc.ProcessorStatus(ctx)
	if err != nil {
		return err
	}
	return enc.Encode(map[string]any{"success": true, "status": st, "server": "not running"})
}

// offlineProcessor is a processor over db that is never started: it answers from what is
// stored, and deletes (retention). Nothing is read, recognised or extracted with it.
func offlineProcessor(db *store.DB, dataDir string, cfg pipeline.Config, logger *slog.Logger) (*pipeline.Processor, error) {
	return pipeline.New(cfg, pipeline.Deps{
		DB: db, Files: store.NewDirBlob(dataDir), Reader: offlineReader{},
		Splitter: rules.Splitter{}, Extractor: rules.Extractor{}, Logger: logger,
	})
}

// offlineReader stands in for the worker pool where nothing is read, only versions compared.
type offlineReader struct{}

var errOffline = errors.New("no reading in an offline status")

func (offlineReader) Inspect(context.Context, stage.Doc, stage.InspectOptions) (stage.DocInfo, error) {
	return stage.DocInfo{}, errOffline
}
func (offlineReader) ReadPage(context.Context, stage.Doc, stage.PageRequest) (stage.PageText, error) {
	return stage.PageText{}, errOffline
}
func (offlineReader) RenderPNG(context.Context, stage.Doc, stage.PageRequest) ([]byte, error) {
	return nil, errOffline
}
func (offlineReader) Version() string { return engines().Version(pipeline.DefaultConfig().OCRLang) }
