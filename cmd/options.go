package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/idp/idp/llm"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
	"github.com/idp/idp/store/redisq"
	"github.com/idp/idp/worker"
)

// processorOptions configure the pipeline for serve, process and eval.
type processorOptions struct {
	dataDir   string
	maxFileMB int64
	cfg       pipeline.Config
	llm       llmOptions
	s3        s3Options
	workers   workerOptions
	// redis makes this process one node of several (serve only; nil elsewhere).
	redis *redisOptions
}

func (o *processorOptions) AddFlags(fs *pflag.FlagSet) {
	d := pipeline.DefaultConfig()
	fs.StringVar(&o.dataDir, "data-dir", "./data", "directory of the database (idp.db) and the uploaded PDFs")
	fs.IntVar(&o.cfg.Workers, "workers", d.Workers, "documents processed at once")
	fs.IntVar(&o.cfg.PageWorkers, "page-workers", d.PageWorkers, "pages worked on at once across all documents (default: the number of CPUs)")
	fs.IntVar(&o.cfg.OCRDPI, "ocr-dpi", d.OCRDPI, "resolution pages are rendered at for OCR")
	fs.StringVar(&o.cfg.OCRLang, "ocr-lang", d.OCRLang, "Tesseract language(s), e.g. eng or eng+spa")
	fs.IntVar(&o.cfg.MaxAttempts, "max-attempts", d.MaxAttempts, "tries per document before it fails (a try counts when it fails; the process's own end does not count)")
	fs.Int64Var(&o.maxFileMB, "max-file-mb", d.MaxFileBytes>>20, "largest accepted PDF, in MiB")
	fs.IntVar(&o.cfg.MaxPages, "max-pages", d.MaxPages, "most pages a PDF may have")
	fs.Int64Var(&o.cfg.MaxPagePixels, "max-page-pixels", d.MaxPagePixels, "most pixels one page may have when rendered: a larger page is read at the highest resolution that fits, down to --min-ocr-dpi")
	fs.IntVar(&o.cfg.MinOCRDPI, "min-ocr-dpi", d.MinOCRDPI, "lowest resolution a page too large for --max-page-pixels is read at; below it the page is refused")
	fs.Int64Var(&o.cfg.MaxImagePixels, "max-image-pixels", d.MaxImagePixels, "a page that draws an image declared larger than this many pixels is refused before the image is decoded")
	fs.DurationVar(&o.cfg.PageTimeout, "page-timeout", d.PageTimeout, "time limit for one page of one stage")
	fs.DurationVar(&o.cfg.DocTimeout, "doc-timeout", d.DocTimeout, "time limit for one try of one document")
	fs.DurationVar(&o.cfg.StopTimeout, "stop-timeout", d.StopTimeout, "on shutdown, how long running pages may finish before they are cancelled")
	fs.BoolVar(&o.cfg.KeepStale, "keep-stale", false, "at start, do not queue again the completed documents whose results another configuration made (pages opened are still extracted again)")
	o.workers.AddFlags(fs)
	o.llm.AddFlags(fs)
	o.s3.AddFlags(fs)
	o.s3.AddCacheFlags(fs)
}

// tempDataDirUnlessGiven points the data directory at a new temporary one unless --data-dir
// (or IDP_DATA_DIR) was given; the cleanup removes it.
func (o *processorOptions) tempDataDirUnlessGiven(cmd *cobra.Command, pattern string) (func(), error) {
	if cmd.Flags().Changed("data-dir") {
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	o.dataDir = dir
	return func() { os.RemoveAll(dir) }, nil
}

func (o *processorOptions) config() (pipeline.Config, error) {
	c := o.cfg
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers must be at least 1"))
	}
	if c.PageWorkers < 1 {
		errs = append(errs, fmt.Errorf("--page-workers must be at least 1"))
	}
	if c.OCRDPI < 50 || c.OCRDPI > 1200 {
		errs = append(errs, fmt.Errorf("--ocr-dpi must be between 50 and 1200"))
	}
	if o.maxFileMB < 1 {
		errs = append(errs, fmt.Errorf("--max-file-mb must be at least 1"))
	}
	if c.MaxPages < 1 || c.MaxPagePixels < 1 || c.MaxAttempts < 1 || c.MaxImagePixels < 1 || c.MinOCRDPI < 1 {
		errs = append(errs, fmt.Errorf("--max-pages, --max-page-pixels, --max-image-pixels, --min-ocr-dpi and --max-attempts must be positive"))
	}
	errs = append(errs, o.workers.check())
	c.MaxFileBytes = o.maxFileMB << 20
	return c, errors.Join(errs...)
}

// app is the opened database and a processor over it.
type app struct {
	db   *store.DB
	proc *pipeline.Processor
	// pool runs MuPDF and Tesseract in worker processes.
	pool *worker.Pool
	// model is the LLM extractor; nil without one.
	model *llm.Extractor
	// outbox is the S3 uploader (its Stats show the backlog); nil without --s3-bucket.
	outbox *store.Uploader
	// cluster is the connection to the other nodes; nil without --redis-url.
	cluster *redisq.Client
	log     *slog.Logger
}

func (a *app) Close() error {
	a.proc.Stop()
	if a.cluster != nil {
		_ = a.cluster.Close() // sends what the journal holds first
	}
	shutdownOutbox(a.outbox, a.log)
	poolErr := a.pool.Close()
	return errors.Join(a.db.Close(), poolErr)
}

// openApp opens the data directory and builds the processor; it does not start it.
func openApp(o *processorOptions, logger *slog.Logger) (*app, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	if err := o.redis.check(&o.s3); err != nil {
		return nil, err
	}
	ex, err := o.llm.build(&cfg, logger)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(o.dataDir, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w: is `idp serve` running on %s? Stop it, or use another --data-dir", err, o.dataDir)
	}
	if err != nil {
		return nil, err
	}
	files := store.NewDirBlob(o.dataDir)
	outbox, err := o.s3.attach(db, files, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	cluster, err := o.redis.open(db, files, o.dataDir, cfg.Workers, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	closeCluster := func() {
		if cluster != nil {
			cluster.Close()
		}
	}
	pool, err := o.workers.start(cfg, logger)
	if err != nil {
		closeCluster()
		db.Close()
		return nil, err
	}
	deps := pipeline.Deps{
		DB:     db,
		Files:  files,
		Reader: pool,
		Logger: logger,

		Extractor: ex.extractor,
		Splitter:  ex.splitter,
	}
	if cluster != nil {
		deps.Queue, deps.Cluster = cluster, cluster
	}
	proc, err := pipeline.New(cfg, deps)
	if err == nil && outbox != nil {
		err = outbox.Start(context.Background()) // stopped by Close
	}
	if err != nil {
		pool.Close()
		closeCluster()
		db.Close()
		return nil, err
	}
	if cluster != nil {
		cluster.OnLeaseLost(proc.LeaseLost)
		cluster.SetBusy(func() int { return len(proc.ActiveDocuments()) })
		cluster.Start(context.Background()) // stopped by Close
	}
	return &app{db: db, proc: proc, pool: pool, model: ex.model, outbox: outbox, cluster: cluster, log: logger}, nil
}

// extraStatus is state of optional parts for the processor status and metrics; nil when
// none is configured.
func (a *app) extraStatus() map[string]any {
	return joinStatus(llmStatus(a.model), s3Status(a.outbox), workerStatus(a.pool), redisStatus(a.cluster))
}
