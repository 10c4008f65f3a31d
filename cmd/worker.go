package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/idp/idp/mupdf"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/tesseract"
	"github.com/idp/idp/worker"
)

// newWorkerCommand is `idp worker`: one worker process, started by `idp serve` and `idp
// process` (never by hand), which runs MuPDF and Tesseract for them over its pipes.
func newWorkerCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "worker",
		Short:  "A worker process of idp serve and idp process (started by them, over pipes)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			mupdf.SetStoreLimit(workerStoreMB)
			return worker.RunChild(engines())
		},
	}
}

// workerStoreMB bounds MuPDF's cache of decoded resources in a worker: a scan's page images
// are each drawn once, so a large cache only holds memory.
const workerStoreMB = 16

// engines are the C engines a worker process runs: MuPDF and Tesseract (idptest.Main wires
// the same for test binaries that run as workers).
func engines() worker.Engines {
	return worker.Engines{
		Renderer:   mupdf.NewSerial(), // a worker reads one document at a time
		NewOCR:     func(lang string) (stage.OCREngine, error) { return tesseract.New(lang, 1) },
		OCRVersion: tesseract.Version,
		Trim:       tesseract.TrimMemory,
	}
}

// workerOptions configure the worker processes of serve, process and eval.
type workerOptions struct {
	maxMB   int
	recycle int
}

// Defaults: a worker reading a 300-dpi page of a real packet (Letter or Legal, a scan or
// born-digital) peaks near 250 MB; the cap leaves room for a page several times that.
const (
	defaultWorkerMaxMB   = 1024
	defaultWorkerRecycle = 100
)

func (o *workerOptions) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.maxMB, "worker-max-mb", defaultWorkerMaxMB, "memory cap of one worker process, in MiB: a page that needs more stops its worker and is quarantined after a retry")
	fs.IntVar(&o.recycle, "worker-recycle", defaultWorkerRecycle, "a worker process is replaced after this many pages, which bounds what MuPDF and Tesseract leak")
}

func (o *workerOptions) check() error {
	var errs []error
	if o.maxMB < 128 {
		errs = append(errs, fmt.Errorf("--worker-max-mb must be at least 128 (MuPDF and Tesseract need that much to start)"))
	}
	if o.recycle < 1 {
		errs = append(errs, fmt.Errorf("--worker-recycle must be at least 1"))
	}
	return errors.Join(errs...)
}

// start starts the worker pool of this binary (`idp worker`): one worker per page slot, and
// one more so that a page someone opens, or an upload's first look, does not wait behind the
// background's pages.
func (o *workerOptions) start(cfg pipeline.Config, logger *slog.Logger) (*worker.Pool, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable for the workers: %w", err)
	}
	return worker.New(context.Background(), worker.Config{
		Command: []string{exe, "worker"},
		Size:    cfg.PageWorkers + 1,
		MaxMB:   o.maxMB,
		Recycle: o.recycle,
		Timeout: cfg.PageTimeout,
		Lang:    cfg.OCRLang,
		Logger:  logger,
	})
}

// workerStatus is the pool's part of the processor status and the metrics.
func workerStatus(pool *worker.Pool) map[string]any {
	if pool == nil {
		return nil
	}
	st := pool.Stats()
	return map[string]any{
		"worker_processes":      st,
		"worker_alive":          st.Alive,
		"worker_busy":           st.Busy,
		"worker_started":        st.Started,
		"worker_recycled":       st.Recycled,
		"worker_died":           st.Died,
		"worker_timed_out":      st.TimedOut,
		"worker_out_of_memory":  st.OutOfMemory,
		"worker_pages_given_up": st.Quarantined,
	}
}
