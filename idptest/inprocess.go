package idptest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/worker"
)

// InProcess is a stage.Reader that runs MuPDF and Tesseract in this process, n pages at a
// time, as idp did before its worker processes: benchmarks compare it with the pool to say
// what the processes and pipes cost. Nothing bounds its memory or its time.
type InProcess struct {
	locals  chan *worker.Local
	version string
}

var _ stage.Reader = (*InProcess)(nil)

// NewInProcess returns an InProcess reading n pages at once, OCR in lang.
func NewInProcess(n int, lang string) *InProcess {
	r := &InProcess{locals: make(chan *worker.Local, n)}
	for range n {
		l := worker.NewLocal(Engines(), lang)
		r.version = l.Version()
		r.locals <- l
	}
	return r
}

func (r *InProcess) with(f func(l *worker.Local)) {
	l := <-r.locals
	defer func() { r.locals <- l }()
	f(l)
}

// Inspect implements stage.Reader.
func (r *InProcess) Inspect(ctx context.Context, doc stage.Doc, opts stage.InspectOptions) (info stage.DocInfo, err error) {
	r.with(func(l *worker.Local) { info, err = l.Inspect(ctx, doc, opts) })
	return info, err
}

// ReadPage implements stage.Reader.
func (r *InProcess) ReadPage(ctx context.Context, doc stage.Doc, req stage.PageRequest) (pt stage.PageText, err error) {
	r.with(func(l *worker.Local) { pt, err = l.ReadPage(ctx, doc, req) })
	return pt, err
}

// RenderPNG implements stage.Reader.
func (r *InProcess) RenderPNG(ctx context.Context, doc stage.Doc, req stage.PageRequest) (b []byte, err error) {
	r.with(func(l *worker.Local) { b, err = l.RenderPNG(ctx, doc, req) })
	return b, err
}

// Version implements stage.Reader.
func (r *InProcess) Version() string { return r.version }

// InProcessEnv names the PDF a test binary processes in process (engines and all) and
// exits, when Main finds it set: the in-process side of the benchmarks, in a process of its
// own so that its memory is measured alone.
const InProcessEnv = "IDP_BENCH_IN_PROCESS"

// runInProcess processes the file with the engines in this process, on as many page slots as
// CPUs, in a temporary data directory, and prints the document's status.
func runInProcess(file string) error {
	dir, err := os.MkdirTemp("", "idp-inprocess-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := pipeline.DefaultConfig()
	splitter, extractor := rules.New()
	proc, err := pipeline.New(cfg, pipeline.Deps{DB: db, Files: store.NewDirBlob(dir), Reader: NewInProcess(cfg.PageWorkers, cfg.OCRLang),
		Splitter: splitter, Extractor: extractor, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	sub, err := proc.Submit(context.Background(), filepath.Base(file), bytes.NewReader(data), pipeline.SubmitOptions{})
	if err != nil {
		return err
	}
	data = nil
	if err := proc.Start(context.Background()); err != nil {
		return err
	}
	defer proc.Stop()
	for {
		st, err := proc.Status(context.Background(), sub.Document.ID)
		if err != nil {
			return err
		}
		if st.Status == string(store.StatusCompleted) || st.Status == string(store.StatusFailed) {
			fmt.Printf("%s %d pages %s\n", st.Status, st.TotalPages, st.Error)
			if st.Status != string(store.StatusCompleted) {
				return fmt.Errorf("%s", st.Error)
			}
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
