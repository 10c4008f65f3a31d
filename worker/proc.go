package worker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one worker process and the pipes to it. Whoever holds it (the pool while it is
// idle, one request while it is busy) is the only one to call it.
type proc struct {
	pool *Pool
	cmd  *exec.Cmd
	pid  int
	req  *os.File // our end of its fd 3

	// answers are its answers, from the reader goroutine, which closes the channel when fd 4
	// ends (the worker exited) and then reaps the process: exited is closed, state is set.
	answers chan response
	exited  chan struct{}
	state   *os.ProcessState

	out    *lineLog
	task   atomic.Pointer[task]
	killed atomic.Pointer[string] // why we killed it; nil when we did not

	version   string
	served    int
	idleSince time.Time
	lastDoc   string // the document of its last answered request, which it may hold open
}

// task is what a worker works on, for its log lines.
type task struct {
	op    string
	docID string
	page  int // -1 when the request is not about one page
}

// Why the pool kills a worker.
const (
	killTimeout = "timeout"
	killCancel  = "cancel"
	killClose   = "close"
	killStart   = "start"
)

// start starts a worker process and says hello. startOCR starts its OCR engine at once.
func (p *Pool) start(ctx context.Context, startOCR bool) (*proc, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	ansR, ansW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	cmd := exec.Command(p.cfg.Command[0], p.cfg.Command[1:]...)
	// OMP_THREAD_LIMIT: Tesseract would parallelise one page with OpenMP threads; idp
	// parallelises by page (one worker each). OpenMP reads it before main runs.
	cmd.Env = append(append(workerEnv(os.Environ()), p.cfg.Env...), ChildEnv+"=1", "OMP_THREAD_LIMIT=1")
	cmd.ExtraFiles = []*os.File{reqR, ansW} // fd 3 and fd 4
	w := &proc{pool: p, cmd: cmd, req: reqW, answers: make(chan response, 1), exited: make(chan struct{})}
	w.out = &lineLog{w: w}
	cmd.Stdout, cmd.Stderr = w.out, w.out
	// Its own process group: a Ctrl-C at the terminal stops the server, which stops its
	// workers in order, rather than killing the pages in flight. Pdeathsig: a server killed
	// with -9 takes its workers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = p.spawn(cmd)
	reqR.Close()
	ansW.Close()
	if err != nil {
		reqW.Close()
		ansR.Close()
		return nil, fmt.Errorf("start worker %s: %w", cmd.Path, err)
	}
	w.pid = cmd.Process.Pid
	go w.readAnswers(ansR)
	p.counted(func(s *Stats) { s.Started++ })

	w.task.Store(&task{op: opHello, page: -1})
	resp, err := w.call(ctx, request{Op: opHello, Hello: &hello{Lang: p.cfg.Lang, MaxMB: p.cfg.MaxMB, StartOCR: startOCR}}, startTimeout)
	if err == nil && resp.Err != nil {
		err = resp.Err.decode()
	}
	if err == nil && p.version != "" && resp.Version != p.version {
		err = fmt.Errorf("it runs %s, not %s", resp.Version, p.version)
	}
	if err != nil {
		w.kill(killStart)
		<-w.exited
		return nil, fmt.Errorf("start worker %s: %w", strings.Join(p.cfg.Command, " "), err)
	}
	w.version = resp.Version
	p.log.Debug("Worker started", "worker", w.pid, "version", resp.Version)
	return w, nil
}

// workerEnv is the part of the server's environment a worker gets: what the engines and the Go
// runtime read, and nothing else. A worker parses untrusted PDFs; the server's secrets (S3
// credentials, a model's API key) stay out of its reach.
func workerEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "PATH", name == "HOME", name == "TMPDIR", name == "TESSDATA_PREFIX", name == "LD_LIBRARY_PATH",
			name == "LANG", strings.HasPrefix(name, "LC_"), name == "TZ",
			strings.HasPrefix(name, "GO") && name != "GOPROXY", // GODEBUG, GOMAXPROCS, GOGC, GORACE, GOCOVERDIR
			name == "OMP_THREAD_LIMIT":
			out = append(out, kv)
		}
	}
	return out
}

// startTimeout bounds a worker's start (Tesseract loads its language data in it).
const startTimeout = time.Minute

func (w *proc) readAnswers(r *os.File) {
	defer r.Close()
	for {
		var resp response
		if err := readFrame(r, &resp); err != nil {
			break
		}
		w.answers <- resp
	}
	close(w.answers)
	_ = w.cmd.Wait() // the exit status is in ProcessState
	w.state = w.cmd.ProcessState
	close(w.exited)
}

// alive reports whether the process has not exited.
func (w *proc) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// call sends one request and waits for its answer, at most timeout. A worker that dies
// meanwhile, or runs past timeout (it is killed), is a *deathError; when ctx ends the worker
// is killed (its work is abandoned) and the cause of ctx returned.
func (w *proc) call(ctx context.Context, req request, timeout time.Duration) (response, error) {
	if err := writeFrame(w.req, req); err != nil {
		// It died before it got the request (while it was idle): not the request's doing.
		w.kill(killCancel)
		<-w.exited
		d := w.death(timeout)
		d.beforeRequest = true
		return response{}, d
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case resp, ok := <-w.answers:
		if ok {
			return resp, nil
		}
		<-w.exited
		return response{}, w.death(timeout)
	case <-t.C:
		w.kill(killTimeout)
		<-w.exited
		return response{}, w.death(timeout)
	case <-ctx.Done():
		w.kill(killCancel)
		return response{}, context.Cause(ctx)
	}
}

// kill sends SIGKILL to the worker's process group; the first reason given is kept.
func (w *proc) kill(why string) {
	w.killed.CompareAndSwap(nil, &why)
	if err := syscall.Kill(-w.pid, syscall.SIGKILL); err != nil {
		_ = w.cmd.Process.Kill()
	}
}

// retire lets the worker end: it exits when it reads the end of its requests. One that does
// not within a few seconds is killed.
func (w *proc) retire() {
	w.req.Close()
	go func() {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-w.exited:
		case <-t.C:
			w.kill(killClose)
		}
	}()
}

// deathError is a worker that stopped while (or before) it worked on a request.
type deathError struct {
	reason        string
	timeout       bool
	memory        bool
	beforeRequest bool
}

func (e *deathError) Error() string { return e.reason }

// death says why the exited worker stopped.
func (w *proc) death(timeout time.Duration) *deathError {
	d := &deathError{}
	why := ""
	if k := w.killed.Load(); k != nil {
		why = *k
	}
	detail, memory := w.out.diagnosis()
	st := w.state
	var ws syscall.WaitStatus
	if st != nil {
		ws, _ = st.Sys().(syscall.WaitStatus)
	}
	switch {
	case why == killTimeout:
		d.timeout = true
		d.reason = fmt.Sprintf("the worker ran past the page time limit (%s) and was killed", timeout)
	case memory:
		d.memory = true
		d.reason = fmt.Sprintf("the worker ran out of memory (%d MB, --worker-max-mb)", w.pool.cfg.MaxMB)
	case st == nil:
		d.reason = "the worker stopped"
	case ws.Signaled():
		switch sig := ws.Signal(); sig {
		case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGILL, syscall.SIGFPE, syscall.SIGABRT:
			d.reason = fmt.Sprintf("the worker crashed (%s)", signalName(sig))
		default:
			d.reason = fmt.Sprintf("the worker was killed (%s)", signalName(sig))
		}
	default:
		d.reason = fmt.Sprintf("the worker exited with status %d", st.ExitCode())
	}
	if detail != "" && !d.timeout {
		d.reason += ": " + detail
	}
	return d
}

func signalName(sig syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV", syscall.SIGBUS: "SIGBUS", syscall.SIGILL: "SIGILL",
		syscall.SIGFPE: "SIGFPE", syscall.SIGABRT: "SIGABRT", syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT",
	}
	if n, ok := names[sig]; ok {
		return n
	}
	return sig.String()
}

// lineLog logs what a worker prints (MuPDF's warnings, a crash's last words) through the
// pool's logger, a line at a time, with the document and page the worker was on; and keeps
// the last lines to say why a worker died. A task logs at most maxTaskLines lines.
type lineLog struct {
	w *proc

	mu      sync.Mutex
	partial []byte
	last    []string
	notable []string // lines that say why a process stops, since its task began
	perTask int
	task    *task
}

const (
	maxTaskLines = 20
	keepLines    = 20
	keepNotable  = 10
)

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(bytes.TrimRight(l.partial[:i], "\r")))
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a line without end
		l.line(string(l.partial))
		l.partial = l.partial[:0]
	}
	return len(b), nil
}

func (l *lineLog) line(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	l.last = append(l.last, s)
	if len(l.last) > keepLines {
		l.last = l.last[len(l.last)-keepLines:]
	}
	t := l.w.task.Load()
	if t != l.task {
		l.task, l.perTask, l.notable = t, 0, nil
	}
	if notable(s) && len(l.notable) < keepNotable {
		l.notable = append(l.notable, s)
	}
	l.perTask++
	if l.perTask > maxTaskLines {
		if l.perTask == maxTaskLines+1 {
			l.w.pool.log.Warn("Worker: more output not logged", l.attrs(t)...)
		}
		return
	}
	l.w.pool.log.Warn("Worker: "+s, l.attrs(t)...)
}

func (l *lineLog) attrs(t *task) []any {
	a := []any{slog.Int("worker", l.w.pid)}
	if t != nil {
		if t.docID != "" {
			a = append(a, slog.String("doc_id", t.docID))
		}
		if t.page >= 0 {
			a = append(a, slog.Int("page", t.page))
		}
	}
	return a
}

// memoryWords are how the Go runtime (and its race detector), MuPDF, Leptonica and the C++
// runtime say that an allocation failed.
var memoryWords = []string{"out of memory", "bad_alloc", "malloc", "cannot allocate", "failed to allocate"}

func isMemory(s string) bool {
	low := strings.ToLower(s)
	for _, m := range memoryWords {
		if strings.Contains(low, m) {
			return true
		}
	}
	return false
}

// notable lines say why a process stops: a Go fatal error or panic, an uncaught MuPDF error,
// a C++ exception, a failed allocation.
func notable(s string) bool {
	return strings.HasPrefix(s, "fatal error:") || strings.HasPrefix(s, "panic:") || strings.HasPrefix(s, "error:") ||
		strings.Contains(s, "terminate called") || isMemory(s)
}

// diagnosis is the line that best says why the worker stopped (a fatal error, an uncaught
// MuPDF error), and whether it ran out of memory.
func (l *lineLog) diagnosis() (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	memory := false
	best := ""
	for _, s := range append(slices.Clone(l.notable), l.last...) {
		memory = memory || isMemory(s)
		if best == "" && notable(s) {
			best = s
		}
	}
	if len(best) > 200 {
		best = best[:200] + "..."
	}
	return best, memory
}
