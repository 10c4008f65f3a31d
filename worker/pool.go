package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/idp/idp/stage"
)

// Config configures a Pool.
type Config struct {
	// Command starts one worker process: the idp binary and "worker", or a test binary
	// (which runs RunChild when ChildEnv is set).
	Command []string
	// Env is added to the workers' environment.
	Env []string
	// Size is the most workers at once, one per page slot (each reads one page at a time).
	Size int
	// MaxMB caps each worker's memory (0: no cap).
	MaxMB int
	// Recycle replaces a worker after this many requests (0: never), which bounds what the
	// engines leak.
	Recycle int
	// Timeout bounds one request (a page); a worker past it is killed.
	Timeout time.Duration
	// IdleTimeout ends a worker idle that long (0: a minute).
	IdleTimeout time.Duration
	// Lang is Tesseract's language.
	Lang   string
	Logger *slog.Logger
}

// Stats are what a pool did since it started, and its workers now.
type Stats struct {
	Alive int `json:"alive"`
	Busy  int `json:"busy"`
	// PIDs are the process ids of the workers alive.
	PIDs []int `json:"pids"`
	// Started counts workers started; Recycled those retired after Config.Recycle pages.
	Started  int64 `json:"started"`
	Recycled int64 `json:"recycled"`
	// Died counts workers that stopped during a request; TimedOut and OutOfMemory are
	// among them.
	Died        int64 `json:"died"`
	TimedOut    int64 `json:"timed_out"`
	OutOfMemory int64 `json:"out_of_memory"`
	// Quarantined counts requests given up after they stopped two workers.
	Quarantined int64 `json:"quarantined"`
}

// ErrClosed is returned by a closed pool.
var ErrClosed = errors.New("worker pool is closed")

// Pool supervises the worker processes; it is the server's stage.Reader.
type Pool struct {
	cfg     Config
	log     *slog.Logger
	version string
	slots   chan struct{} // one per request being served
	spawnCh chan spawnRequest
	done    chan struct{} // closed by Close

	mu     sync.Mutex
	idle   []*proc
	all    map[*proc]struct{}
	closed bool
	stats  Stats
	wg     sync.WaitGroup
}

var _ stage.Reader = (*Pool)(nil)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// New starts a pool and its first worker, which starts the OCR engine: a missing binary, a
// missing OCR language or a memory cap too low to start fails here, not on the first page.
func New(ctx context.Context, cfg Config) (*Pool, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("worker: no command to start workers with")
	}
	if cfg.Size < 1 {
		cfg.Size = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Pool{
		cfg: cfg, log: cfg.Logger.With("component", "worker"),
		slots:   make(chan struct{}, cfg.Size),
		spawnCh: make(chan spawnRequest),
		done:    make(chan struct{}),
		all:     map[*proc]struct{}{},
	}
	p.wg.Add(2)
	go p.spawner()
	go p.janitor()
	w, err := p.start(ctx, true)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.version = w.version
	p.mu.Lock()
	p.all[w] = struct{}{}
	w.idleSince = time.Now()
	p.idle = append(p.idle, w)
	p.mu.Unlock()
	return p, nil
}

// spawner starts every worker from one OS thread that lives as long as the pool: a child's
// Pdeathsig fires when the thread that started it ends, not the process.
func (p *Pool) spawner() {
	defer p.wg.Done()
	runtime.LockOSThread()
	for {
		select {
		case r := <-p.spawnCh:
			r.done <- r.cmd.Start()
		case <-p.done:
			return
		}
	}
}

func (p *Pool) spawn(cmd *exec.Cmd) error {
	r := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	select {
	case p.spawnCh <- r:
		return <-r.done
	case <-p.done:
		return ErrClosed
	}
}

// janitor retires workers idle longer than IdleTimeout.
func (p *Pool) janitor() {
	defer p.wg.Done()
	t := time.NewTicker(max(time.Second, p.cfg.IdleTimeout/4))
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		p.mu.Lock()
		keep := p.idle[:0]
		for _, w := range p.idle {
			if time.Since(w.idleSince) > p.cfg.IdleTimeout {
				delete(p.all, w)
				w.retire()
				continue
			}
			keep = append(keep, w)
		}
		p.idle = keep
		p.mu.Unlock()
	}
}

// Version implements stage.Reader: what the workers run, as the first one said.
func (p *Pool) Version() string { return p.version }

// Stats reports what the pool did and its workers now.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Alive = len(p.all)
	s.Busy = len(p.slots)
	s.PIDs = []int{}
	for w := range p.all {
		s.PIDs = append(s.PIDs, w.pid)
	}
	slices.Sort(s.PIDs)
	return s
}

func (p *Pool) counted(f func(s *Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

// acquire takes a request slot and a worker: an idle one, or a new one. Among idle workers
// it prefers the one whose last request was about docID: that one still holds the document
// open (MuPDF loads a document's fonts once per open), then the most recently used.
func (p *Pool) acquire(ctx context.Context, docID string) (*proc, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-p.done:
		return nil, ErrClosed
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.slots
			return nil, ErrClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		i := n - 1
		for j := n - 1; j >= 0; j-- {
			if p.idle[j].lastDoc == docID {
				i = j
				break
			}
		}
		w := p.idle[i]
		p.idle = append(p.idle[:i], p.idle[i+1:]...)
		if !w.alive() {
			delete(p.all, w)
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		return w, nil
	}
	w, err := p.start(ctx, false)
	if err != nil {
		<-p.slots
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		w.retire()
		<-p.slots
		return nil, ErrClosed
	}
	p.all[w] = struct{}{}
	return w, nil
}

// release gives back a worker that answered: it is retired after Recycle requests, else it
// waits for the next.
func (p *Pool) release(w *proc) {
	w.served++
	p.mu.Lock()
	switch {
	case p.closed:
		delete(p.all, w)
		w.retire()
	case p.cfg.Recycle > 0 && w.served >= p.cfg.Recycle:
		delete(p.all, w)
		p.stats.Recycled++
		w.retire()
		p.log.Debug("Worker recycled", "worker", w.pid, "requests", w.served)
	default:
		w.idleSince = time.Now()
		if t := w.task.Load(); t != nil {
			w.lastDoc = t.docID
		}
		p.idle = append(p.idle, w)
	}
	p.mu.Unlock()
	<-p.slots
}

// discard forgets a worker that died or was killed.
func (p *Pool) discard(w *proc) {
	p.mu.Lock()
	delete(p.all, w)
	p.mu.Unlock()
	<-p.slots
}

// diedTwice is a request that stopped two workers.
type diedTwice struct{ reasons []string }

func (e *diedTwice) Error() string {
	return fmt.Sprintf("it stopped %d workers: %s", len(e.reasons), e.reasons[len(e.reasons)-1])
}

// do serves one request. A worker that dies on it fails it; it is sent once more, to another
// worker, and a second death gives up with *diedTwice. A worker found dead before it got the
// request is replaced without blame.
func (p *Pool) do(ctx context.Context, t task, req request) (response, error) {
	var reasons []string
	for idleDeaths := 0; len(reasons) < 2; {
		w, err := p.acquire(ctx, t.docID)
		if err != nil {
			return response{}, err
		}
		w.task.Store(&t)
		resp, err := w.call(ctx, req, p.cfg.Timeout)
		var de *deathError
		switch {
		case err == nil:
			p.release(w)
			return resp, nil
		case errors.As(err, &de) && de.beforeRequest && idleDeaths < 3:
			p.discard(w)
			idleDeaths++
			p.log.Warn("Worker found dead; starting another", "worker", w.pid, "reason", de.reason)
			continue
		case errors.As(err, &de):
			p.discard(w)
			reasons = append(reasons, de.reason)
			p.counted(func(s *Stats) {
				s.Died++
				if de.timeout {
					s.TimedOut++
				}
				if de.memory {
					s.OutOfMemory++
				}
			})
			attrs := []any{"worker", w.pid, "doc_id", t.docID, "op", t.op, "reason", de.reason}
			if t.page >= 0 {
				attrs = append(attrs, "page", t.page)
			}
			if len(reasons) < 2 {
				p.log.Warn("Worker died; trying once more in another worker", attrs...)
			} else {
				p.log.Error("Worker died again; giving up", attrs...)
			}
		default:
			// ctx ended: the worker was killed, its work abandoned.
			p.discard(w)
			return response{}, err
		}
	}
	p.counted(func(s *Stats) { s.Quarantined++ })
	return response{}, &diedTwice{reasons: reasons}
}

// Inspect implements stage.Reader. A PDF that stops two workers while it is opened fails for
// good.
func (p *Pool) Inspect(ctx context.Context, doc stage.Doc, opts stage.InspectOptions) (stage.DocInfo, error) {
	resp, err := p.do(ctx, task{op: opInspect, docID: doc.ID, page: -1}, request{Op: opInspect, Doc: toWire(doc), Inspect: &opts})
	var dt *diedTwice
	switch {
	case errors.As(err, &dt):
		return stage.DocInfo{}, stage.NewPermanent(fmt.Errorf("opening the PDF %s", dt.Error()))
	case err != nil:
		return stage.DocInfo{}, err
	case resp.Err != nil:
		return stage.DocInfo{}, resp.Err.decode()
	case resp.Info == nil:
		return stage.DocInfo{}, errors.New("worker: inspect answered without an answer")
	}
	return *resp.Info, nil
}

// ReadPage implements stage.Reader. A page that stops two workers is a *stage.PageError.
func (p *Pool) ReadPage(ctx context.Context, doc stage.Doc, req stage.PageRequest) (stage.PageText, error) {
	resp, err := p.do(ctx, task{op: opRead, docID: doc.ID, page: req.Page}, request{Op: opRead, Doc: toWire(doc), Page: &req})
	var dt *diedTwice
	switch {
	case errors.As(err, &dt):
		return stage.PageText{Page: req.Page}, &stage.PageError{Page: req.Page, Reason: dt.Error(), Err: dt}
	case err != nil:
		return stage.PageText{Page: req.Page}, err
	case resp.Err != nil:
		return stage.PageText{Page: req.Page}, resp.Err.decode()
	case resp.Text == nil:
		return stage.PageText{Page: req.Page}, errors.New("worker: read answered without an answer")
	}
	return *resp.Text, nil
}

// RenderPNG implements stage.Reader.
func (p *Pool) RenderPNG(ctx context.Context, doc stage.Doc, req stage.PageRequest) ([]byte, error) {
	resp, err := p.do(ctx, task{op: opRender, docID: doc.ID, page: req.Page}, request{Op: opRender, Doc: toWire(doc), Render: &req})
	var dt *diedTwice
	switch {
	case errors.As(err, &dt):
		return nil, &stage.PageError{Page: req.Page, Reason: dt.Error(), Err: dt}
	case err != nil:
		return nil, err
	case resp.Err != nil:
		return nil, resp.Err.decode()
	}
	return resp.PNG, nil
}

// Close ends every worker: idle ones at once, busy ones when they have answered (or are
// killed after a few seconds), and waits for them.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	all := make([]*proc, 0, len(p.all))
	for w := range p.all {
		all = append(all, w)
	}
	p.idle = nil
	p.mu.Unlock()
	for _, w := range all {
		w.retire()
	}
	for _, w := range all {
		<-w.exited
	}
	close(p.done)
	p.wg.Wait()
	return nil
}
