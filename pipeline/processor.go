package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/idp/idp/retry"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// Config holds the processor's knobs. Zero values take the defaults of DefaultConfig.
type Config struct {
	// Workers is how many documents are processed at once.
	Workers int
	// PageWorkers bounds the pages being worked on at once across all documents.
	PageWorkers int
	// ExtractWorkers bounds the pages in stage 4 at once across all documents (default
	// PageWorkers). A model extractor waits on the network, not on the CPUs: give it as
	// many as the model's concurrency.
	ExtractWorkers int
	// OCRDPI is the resolution pages are rendered at for OCR.
	OCRDPI int
	// OCRLang is Tesseract's language ("eng", "eng+spa").
	OCRLang string
	// MaxAttempts is how many tries a document gets. A try counts when it fails; one
	// interrupted by the process's own end (a stop, kill -9, a reboot) does not.
	MaxAttempts int
	// MaxFileBytes, MaxPages and MaxPagePixels refuse absurd inputs before anything is
	// rendered. MaxPagePixels counts pixels of one page: a page over it at OCRDPI is read at
	// the highest resolution that fits, down to MinOCRDPI; below that it is not read.
	MaxFileBytes  int64
	MaxPages      int
	MaxPagePixels int64
	MinOCRDPI     int
	// MaxImagePixels refuses a page that draws an image declared larger, before the image
	// is decoded.
	MaxImagePixels int64
	// PageTimeout bounds one page of one stage; DocTimeout one whole try of a document.
	PageTimeout time.Duration
	DocTimeout  time.Duration
	// RetryBase and RetryMax shape the wait before retrying a failed try: retry.Backoff,
	// RetryBase * attempt^4, capped at RetryMax, jittered.
	RetryBase time.Duration
	RetryMax  time.Duration
	// StopTimeout is how long a graceful stop lets running pages finish before cancelling
	// them.
	StopTimeout time.Duration
	// KeepStale leaves completed documents whose results another configuration made (another
	// extractor, model, prompt, schema, DPI or OCR language) out of the queue at start; their
	// pages are then extracted again only when someone opens them. By default they are
	// queued again at low priority, which with a paid model costs a call per page.
	KeepStale bool
	// Retain deletes documents that finished (completed or failed) longer ago, with
	// everything they own (retention.go); 0 keeps them forever. RetainEvery is how often the
	// background sweep runs.
	Retain      time.Duration
	RetainEvery time.Duration
}

// DefaultConfig is the configuration of `idp serve` without flags.
func DefaultConfig() Config {
	return Config{
		Workers:        5,
		PageWorkers:    runtime.NumCPU(),
		OCRDPI:         300,
		OCRLang:        "eng",
		MaxAttempts:    3,
		MaxFileBytes:   200 << 20,
		MaxPages:       2000,
		MaxPagePixels:  60_000_000,
		MinOCRDPI:      150,
		MaxImagePixels: 150_000_000,
		PageTimeout:    2 * time.Minute,
		DocTimeout:     2 * time.Hour,
		RetryBase:      time.Second,
		RetryMax:       10 * time.Minute,
		StopTimeout:    10 * time.Second,
		RetainEvery:    time.Hour,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.PageWorkers <= 0 {
		c.PageWorkers = d.PageWorkers
	}
	if c.ExtractWorkers <= 0 {
		c.ExtractWorkers = c.PageWorkers
	}
	if c.OCRDPI <= 0 {
		c.OCRDPI = d.OCRDPI
	}
	if c.OCRLang == "" {
		c.OCRLang = d.OCRLang
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.MaxFileBytes <= 0 {
		c.MaxFileBytes = d.MaxFileBytes
	}
	if c.MaxPages <= 0 {
		c.MaxPages = d.MaxPages
	}
	if c.MaxPagePixels <= 0 {
		c.MaxPagePixels = d.MaxPagePixels
	}
	if c.MinOCRDPI <= 0 {
		c.MinOCRDPI = d.MinOCRDPI
	}
	if c.MaxImagePixels <= 0 {
		c.MaxImagePixels = d.MaxImagePixels
	}
	if c.PageTimeout <= 0 {
		c.PageTimeout = d.PageTimeout
	}
	if c.DocTimeout <= 0 {
		c.DocTimeout = d.DocTimeout
	}
	if c.RetryBase <= 0 {
		c.RetryBase = d.RetryBase
	}
	if c.RetryMax <= 0 {
		c.RetryMax = d.RetryMax
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = d.StopTimeout
	}
	if c.RetainEvery <= 0 {
		c.RetainEvery = d.RetainEvery
	}
	return c
}

// Deps are the parts the processor is made of.
type Deps struct {
	DB    *store.DB
	Queue store.Queue
	// Files keeps uploaded originals under store.OriginalKey. A DirBlob rooted at the data
	// directory keeps them at {data_dir}/documents/{id}/original.pdf.
	Files *store.DirBlob
	// Reader runs the C engines (MuPDF, Tesseract): the worker pool in the server.
	Reader    stage.Reader
	Splitter  stage.AccountSplitter
	Extractor stage.Extractor
	Events    *Broker
	// Cluster is the other nodes, when several share the queue (Queue is then theirs) and
	// the hot cache; nil on a single node (cluster.go).
	Cluster Cluster
	Logger  *slog.Logger
	// Now and Rand replace the clock and the randomness of retry waits (tests).
	Now  func() time.Time
	Rand func() float64
}

// errStopping ends a try because the processor is stopping; the document goes back to the
// queue and the try is not counted.
var errStopping = errors.New("processor is stopping")

// Processor runs documents through the four stages with a pool of workers.
type Processor struct {
	cfg      Config
	db       *store.DB
	queue    store.Queue
	files    *store.DirBlob
	reader   stage.Reader
	splitter stage.AccountSplitter
	extract  stage.Extractor
	events   *Broker
	cluster  Cluster
	log      *slog.Logger
	now      func() time.Time
	rand     func() float64
	pages    chan struct{} // global page slots
	extSlots chan struct{} // stage 4's page slots
	wake     chan struct{}
	versions versions
	counters *counters
	flight   singleflight.Group // page work shared by the background and people waiting
	started  time.Time
	keys     keyring // passwords of encrypted documents, in memory only
	plans    plans   // how the pages of documents are read, once they were opened

	ret retention // reads through the API, sweep totals (retention.go)

	mu      sync.Mutex
	run     *runState
	active  map[string]*Active
	running bool
}

// runState is one generation of workers, from Start to Stop.
type runState struct {
	soft     context.Context // cancelled first: take no new documents or pages
	softStop context.CancelFunc
	hard     context.Context // cancelled after StopTimeout: abandon running pages
	hardStop context.CancelFunc
	wg       sync.WaitGroup
}

// Active describes a document a worker holds.
type Active struct {
	DocID    string    `json:"doc_id"`
	FileName string    `json:"file_name"`
	Stage    string    `json:"stage"`
	Progress int       `json:"progress"`
	Done     int       `json:"pages_processed"`
	Total    int       `json:"total_pages"`
	Attempt  int       `json:"attempt"`
	Since    time.Time `json:"since"`

	cancel context.CancelCauseFunc
	done   chan struct{}
}

// New makes a processor. Start runs it.
func New(cfg Config, deps Deps) (*Processor, error) {
	cfg = cfg.withDefaults()
	if deps.DB == nil || deps.Files == nil || deps.Reader == nil || deps.Splitter == nil || deps.Extractor == nil {
		return nil, errors.New("pipeline: DB, Files, Reader, Splitter and Extractor are required")
	}
	if deps.Queue == nil {
		deps.Queue = store.NewBoltQueue(deps.DB)
	}
	if deps.Events == nil {
		deps.Events = NewBroker()
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Rand == nil {
		deps.Rand = rand.Float64
	}
	p := &Processor{
		cfg: cfg, db: deps.DB, queue: deps.Queue, files: deps.Files, reader: deps.Reader,
		splitter: deps.Splitter, extract: deps.Extractor, events: deps.Events, cluster: deps.Cluster,
		log: deps.Logger.With("component", "processor"), now: deps.Now, rand: deps.Rand,
		pages:    make(chan struct{}, cfg.PageWorkers),
		extSlots: make(chan struct{}, cfg.ExtractWorkers),
		wake:     make(chan struct{}, cfg.Workers),
		active:   map[string]*Active{},
		counters: newCounters(),
	}
	p.versions = newVersions(cfg, deps.Reader, deps.Splitter, deps.Extractor)
	if p.cluster != nil {
		p.relayEvents(context.Background())
	}
	return p, nil
}

// Config is the effective configuration.
func (p *Processor) Config() Config { return p.cfg }

// Broker is where the processor publishes events.
func (p *Processor) Broker() *Broker { return p.events }

// recoverInFlight puts back every document a worker held when the process stopped, at the
// front of its priority: the resume after a crash or kill -9. The interrupted try is not
// counted (tries count when they fail): the process's end is not the document's doing.
// Start calls it before any worker runs, so the server (which answers only after Start)
// never sees half-resumed work.
func (p *Processor) recoverInFlight(ctx context.Context) ([]string, error) {
	ids, err := p.queue.Recover(ctx)
	if err != nil {
		return nil, fmt.Errorf("recover in-flight documents: %w", err)
	}
	for _, id := range ids {
		p.log.Info("Resuming interrupted document", "doc_id", id)
		_ = p.db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.UpdateDocument(id, func(d *store.Document) error {
				d.Status = store.StatusQueued
				return nil
			})
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
	}
	return ids, nil
}

// Start recovers in-flight work and starts the workers. They run until Stop or until ctx
// ends.
func (p *Processor) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		return errors.New("processor already running")
	}
	if _, err := p.recoverInFlight(ctx); err != nil {
		return err
	}
	if !p.cfg.KeepStale {
		if _, err := p.requeueStale(ctx); err != nil {
			return fmt.Errorf("find stale results: %w", err)
		}
	}
	rs := &runState{}
	rs.hard, rs.hardStop = context.WithCancel(context.WithoutCancel(ctx))
	rs.soft, rs.softStop = context.WithCancel(rs.hard)
	go func() {
		// The caller's context ending is a stop request like any other.
		select {
		case <-ctx.Done():
			rs.softStop()
		case <-rs.soft.Done():
		}
	}()
	for i := range p.cfg.Workers {
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			p.worker(rs, i)
		}()
	}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		p.housekeep(rs.soft)
	}()
	p.run = rs
	p.running = true
	p.started = p.now()
	p.log.Info("Processor started", "workers", p.cfg.Workers, "page_workers", p.cfg.PageWorkers,
		"engines", p.reader.Version(), "extractor", p.extract.Name())
	return nil
}

// Stop stops gracefully: no new documents or pages are started, running pages get
// StopTimeout to finish and be cached, then the rest is cancelled. Interrupted documents go
// back to the front of the queue with the try not counted.
func (p *Processor) Stop() {
	p.mu.Lock()
	rs := p.run
	p.run = nil
	p.running = false
	p.mu.Unlock()
	if rs == nil {
		return
	}
	rs.softStop()
	done := make(chan struct{})
	go func() { rs.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.StopTimeout):
		p.log.Warn("Stop timeout: cancelling running pages", "timeout", p.cfg.StopTimeout)
		rs.hardStop()
		<-done
	}
	rs.hardStop()
	p.log.Info("Processor stopped")
}

// Running reports whether the workers run.
func (p *Processor) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// Wake tells idle workers that there is new work.
func (p *Processor) Wake() {
	for range cap(p.wake) {
		select {
		case p.wake <- struct{}{}:
		default:
			return
		}
	}
}

func (p *Processor) worker(rs *runState, n int) {
	log := p.log.With("worker", n)
	for {
		if rs.soft.Err() != nil {
			return
		}
		item, err := p.queue.Pop(rs.soft)
		if errors.Is(err, store.ErrQueueEmpty) {
			wait := 5 * time.Second
			if !item.NotBefore.IsZero() {
				wait = min(wait, max(item.NotBefore.Sub(p.now()), 10*time.Millisecond))
			}
			t := time.NewTimer(wait)
			select {
			case <-rs.soft.Done():
			case <-p.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		if err != nil {
			if rs.soft.Err() != nil {
				return
			}
			log.Error("Queue pop failed", "err", err)
			time.Sleep(time.Second)
			continue
		}
		p.process(rs, item)
	}
}

// process makes one try of one document and decides what becomes of it.
func (p *Processor) process(rs *runState, item store.QueueItem) {
	id := item.ID
	log := p.log.With("doc_id", id)
	doc, err := p.beginAttempt(rs.hard, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Deleted while queued.
			_ = p.queue.Ack(rs.hard, id)
			return
		}
		// A stop that lands between the pop and the first write leaves the document held:
		// give it back at once, whatever the stop did to rs.hard.
		opts := store.PushOptions{NotBefore: p.now().Add(time.Minute)}
		if rs.hard.Err() != nil {
			opts = store.PushOptions{Front: true}
		} else {
			log.Error("Cannot start document", "err", err)
		}
		err = p.db.Update(context.WithoutCancel(rs.hard), func(tx *store.Tx) error {
			return p.queue.Push(tx, id, item.Priority, opts)
		})
		if err != nil {
			log.Error("Cannot give the document back to the queue; the next start recovers it", "err", err)
		}
		return
	}
	runCtx, supersede := context.WithCancelCause(rs.hard)
	defer supersede(nil)
	ctx, cancel := context.WithTimeoutCause(runCtx, p.cfg.DocTimeout,
		stage.NewPermanent(fmt.Errorf("processing took longer than the document time limit (%s)", p.cfg.DocTimeout)))
	defer cancel()
	done := p.setActive(doc, supersede)
	defer close(done)
	defer p.clearActive(id)
	started := p.now()
	var c carried
	err = p.runPipeline(withDoc(ctx, id), rs.soft, doc, &c)
	p.counters.observeDocument(err, p.now().Sub(started))
	superseded := errors.Is(context.Cause(runCtx), errSuperseded)
	if err != nil && !superseded && !c.empty() {
		// What the try finished before it failed or was interrupted is kept: the next try
		// starts from it.
		if cerr := c.commit(context.WithoutCancel(rs.hard), p.db, nil, nil); cerr != nil {
			log.Warn("Cannot record the finished stages of an interrupted try; the next try redoes them", "err", cerr)
		}
	}
	switch {
	case superseded:
		// Reprocessed or deleted meanwhile: whoever did that has set the record; what the
		// run carried is dropped.
		log.Info("Run abandoned: the document was reprocessed or deleted")
	case err == nil:
		p.finishCompleted(rs.hard, doc, &c)
	case errors.Is(err, errStopping) || (rs.hard.Err() != nil && errors.Is(err, context.Canceled)):
		p.requeueInterrupted(doc, item.Priority)
	default:
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && stage.IsPermanent(cause) {
			err = cause
		}
		doc.Attempts++ // this try failed: it counts
		if stage.IsPermanent(err) || doc.Attempts >= p.cfg.MaxAttempts {
			p.finishFailed(rs.hard, doc, err)
			return
		}
		p.retryLater(rs.hard, doc, item.Priority, err)
	}
}

// beginAttempt marks a document processing. The try is not counted here: it counts when it
// fails (finishFailed, retryLater), so a try cut short by the process's end (kill -9, an OOM
// of the machine, a reboot, a deploy) costs the document nothing, and it resumes where it
// was. A page that crashes the engines can no longer take the process down with it: it
// stops a worker process, and is quarantined after two.
func (p *Processor) beginAttempt(ctx context.Context, id string) (store.Document, error) {
	var doc store.Document
	err := p.db.Batch(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err != nil {
			return err
		}
		d.Status = store.StatusProcessing
		d.Error = ""
		now := tx.Now()
		d.StartedAt = &now
		d.FinishedAt = nil
		doc = d
		return tx.PutDocument(&d)
	})
	if err == nil {
		p.log.Info("Starting complete pipeline for "+id, "doc_id", id, "attempt", doc.Attempts+1, "file", doc.FileName)
		p.publish(Event{Type: EventStarted, DocID: id, Status: string(store.StatusProcessing)})
	}
	return doc, err
}

// finishCompleted records a document completed and lets go of it in the queue, in one
// transaction (with the last stage's end, which c carries): a crash cannot leave a
// completed document in flight.
func (p *Processor) finishCompleted(ctx context.Context, doc store.Document, c *carried) {
	p.plans.forget(doc.ID)
	err := c.commit(ctx, p.db, func(tx *store.Tx) error {
		_, err := tx.UpdateDocument(doc.ID, func(d *store.Document) error {
			d.Status = store.StatusCompleted
			d.Stage = stage.Completed
			d.Error = ""
			d.ResultsVersion = p.versions.extract
			now := tx.Now()
			d.FinishedAt = &now
			return nil
		})
		if err != nil {
			return err
		}
		return p.queue.Remove(tx, doc.ID)
	}, nil)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			p.log.Error("Cannot record completion", "doc_id", doc.ID, "err", err)
		}
		_ = p.queue.Ack(ctx, doc.ID)
	}
	p.log.Info("Completed full pipeline for "+doc.ID, "doc_id", doc.ID)
	p.publish(Event{Type: EventCompleted, DocID: doc.ID, Stage: stage.Completed, Progress: 100, Status: string(store.StatusCompleted)})
}

// finishFailed records a document failed for good and lets go of it in the queue, in one
// transaction.
func (p *Processor) finishFailed(ctx context.Context, doc store.Document, cause error) {
	p.plans.forget(doc.ID)
	msg := cause.Error()
	err := p.db.Batch(ctx, func(tx *store.Tx) error {
		_, err := tx.UpdateDocument(doc.ID, func(d *store.Document) error {
			d.Status = store.StatusFailed
			d.Attempts = doc.Attempts
			d.Error = msg
			d.Errors = appendAttemptError(d.Errors, d.Attempts, tx.Now(), msg)
			now := tx.Now()
			d.FinishedAt = &now
			return nil
		})
		if err != nil {
			return err
		}
		_, err = tx.UpdateProgress(doc.ID, currentStage(tx, doc.ID), func(sp *store.StageProgress) {
			sp.Status = store.StageFailed
			sp.Error = msg
		})
		if err != nil {
			return err
		}
		return p.queue.Remove(tx, doc.ID)
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			p.log.Error("Cannot record failure", "doc_id", doc.ID, "err", err)
		}
		_ = p.queue.Ack(ctx, doc.ID)
	}
	p.log.Error("Failed pipeline for "+doc.ID, "doc_id", doc.ID, "err", msg)
	p.publish(Event{Type: EventFailed, DocID: doc.ID, Stage: stage.Failed, Status: string(store.StatusFailed), Error: msg})
}

// currentStage is the first stage of a document that has not completed.
func currentStage(tx *store.Tx, id string) string {
	for _, s := range stage.All {
		if sp, err := tx.Progress(id, s); err == nil && sp.Status != store.StageCompleted {
			return s
		}
	}
	return stage.LLMExtraction
}

func appendAttemptError(errs []store.AttemptError, attempt int, at time.Time, msg string) []store.AttemptError {
	errs = append(errs, store.AttemptError{Attempt: attempt, At: at, Error: msg})
	if len(errs) > 20 {
		errs = errs[len(errs)-20:]
	}
	return errs
}

func (p *Processor) retryLater(ctx context.Context, doc store.Document, prio store.Priority, cause error) {
	wait := retry.Backoff(doc.Attempts, p.cfg.RetryBase, p.cfg.RetryMax, p.rand())
	msg := cause.Error()
	err := p.requeue(ctx, doc.ID, prio, func(d *store.Document, now time.Time) store.PushOptions {
		d.Attempts = doc.Attempts
		d.Error = msg
		d.Errors = appendAttemptError(d.Errors, d.Attempts, now, msg)
		return store.PushOptions{NotBefore: now.Add(wait)}
	})
	if err != nil {
		p.log.Error("Cannot queue retry", "doc_id", doc.ID, "err", err)
		return
	}
	p.log.Warn("Attempt failed; will retry", "doc_id", doc.ID, "attempt", doc.Attempts, "retry_in", wait.Round(time.Millisecond), "err", msg)
	p.publish(Event{Type: EventRequeued, DocID: doc.ID, Status: string(store.StatusQueued), Error: msg})
}

// requeueInterrupted puts a document back after a graceful stop, ahead of its priority; the
// try does not count: the interruption was ours, not the document's.
func (p *Processor) requeueInterrupted(doc store.Document, prio store.Priority) {
	err := p.requeue(context.Background(), doc.ID, prio, func(d *store.Document, _ time.Time) store.PushOptions {
		return store.PushOptions{Front: true}
	})
	if err != nil {
		p.log.Error("Cannot re-queue interrupted document", "doc_id", doc.ID, "err", err)
		return
	}
	p.log.Info("Interrupted; re-queued with finished pages kept", "doc_id", doc.ID)
	p.publish(Event{Type: EventRequeued, DocID: doc.ID, Status: string(store.StatusQueued)})
}

// requeue marks a document queued, lets change adjust it and choose how it is pushed, and
// queues it, in one transaction. The document keeps a priority raised while it ran (a loan
// packet seen after OCR).
func (p *Processor) requeue(ctx context.Context, id string, prio store.Priority, change func(d *store.Document, now time.Time) store.PushOptions) error {
	return p.db.Batch(ctx, func(tx *store.Tx) error {
		var opts store.PushOptions
		d, err := tx.UpdateDocument(id, func(d *store.Document) error {
			d.Status = store.StatusQueued
			opts = change(d, tx.Now())
			return nil
		})
		if err != nil {
			return err
		}
		return p.queue.Push(tx, id, min(prio, d.Priority), opts)
	})
}

func (p *Processor) publish(e Event) {
	if e.Time.IsZero() {
		e.Time = p.now()
	}
	if p.cluster != nil {
		e.Node = p.cluster.NodeID()
	}
	p.events.Publish(e)
}

func (p *Processor) setActive(doc store.Document, cancel context.CancelCauseFunc) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := make(chan struct{})
	p.active[doc.ID] = &Active{DocID: doc.ID, FileName: doc.FileName, Attempt: doc.Attempts + 1, Since: p.now(), Stage: stage.OCRExtraction,
		cancel: cancel, done: done}
	return done
}

func (p *Processor) busyWorkers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.active)
}

func (p *Processor) clearActive(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.active, id)
}

func (p *Processor) updateActive(id, name string, sp store.StageProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.active[id]; a != nil {
		a.Stage, a.Progress, a.Done, a.Total = name, sp.Percent, sp.Done, sp.Total
	}
}

// ActiveDocuments lists what the workers hold now.
func (p *Processor) ActiveDocuments() []Active {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Active, 0, len(p.active))
	for _, a := range p.active {
		out = append(out, *a)
	}
	return out
}
