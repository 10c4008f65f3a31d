package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/mupdf"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/tesseract"
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
// stored, and deletes (retention). Nothing is recognised or extracted with it.
func offlineProcessor(db *store.DB, dataDir string, cfg pipeline.Config, logger *slog.Logger) (*pipeline.Processor, error) {
	return pipeline.New(cfg, pipeline.Deps{
		DB: db, Files: store.NewDirBlob(dataDir), Renderer: mupdf.Renderer{}, OCR: offlineOCR{},
		Splitter: rules.Splitter{}, Extractor: rules.Extractor{}, Logger: logger,
	})
}

// offlineOCR stands in for Tesseract where nothing is recognised, only versions compared.
type offlineOCR struct{}

func (offlineOCR) Recognize(context.Context, *image.Gray, int) (stage.OCRPage, error) {
	return stage.OCRPage{}, errors.New("no OCR in an offline status")
}
func (offlineOCR) Version() string {
	return tesseract.Version(pipeline.DefaultConfig().OCRLang)
}
func (offlineOCR) Close() error { return nil }
