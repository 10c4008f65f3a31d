// Package idptest is what the tests of several packages share: TestMain (which also runs the
// test binary as a worker process when the pool starts it as one), a pool of real worker
// processes running MuPDF and Tesseract, a processor over a fresh data directory with that
// pool and the rules, a log buffer that is safe for concurrent writes, and packet
// generation. It is imported by tests only, and imports what it puts together: pipeline,
// store, worker, the engines and the generator.
package idptest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/mupdf"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/tesseract"
	"github.com/idp/idp/testdata/gen"
	"github.com/idp/idp/worker"
)

// Main is TestMain for packages whose tests run worker processes. Started by a pool (with
// worker.ChildEnv set), the test binary is a worker process: it serves the pool over its
// pipes with MuPDF and Tesseract and exits, running no test. Otherwise it restarts with
// OMP_THREAD_LIMIT=1 (tesseract.ReexecWithOMPLimit) and runs the tests, or, with
// InProcessEnv set, processes that file with the engines in process (benchmarks).
func Main(m *testing.M) {
	if os.Getenv(worker.ChildEnv) != "" {
		mupdf.SetStoreLimit(16) // as `idp worker` does
		if err := worker.RunChild(Engines()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if err := tesseract.ReexecWithOMPLimit(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if file := os.Getenv(InProcessEnv); file != "" {
		if err := runInProcess(file); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Engines are the engines of a test binary running as a worker: what `idp worker` runs.
func Engines() worker.Engines {
	return worker.Engines{
		Renderer:   mupdf.NewSerial(), // a worker reads one document at a time
		NewOCR:     func(lang string) (stage.OCREngine, error) { return tesseract.New(lang, 1) },
		OCRVersion: tesseract.Version,
		Trim:       tesseract.TrimMemory,
	}
}

// NewPool starts a pool of worker processes running this test binary (its TestMain must be
// Main), closed when the test ends. Zero fields of cfg take a test's defaults: the page
// slots of this machine, English, a 2-minute page limit.
func NewPool(t testing.TB, cfg worker.Config) *worker.Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Command == nil {
		cfg.Command = []string{exe}
	}
	if cfg.Size == 0 {
		cfg.Size = runtime.NumCPU() + 1
	}
	if cfg.Lang == "" {
		cfg.Lang = "eng"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pool, err := worker.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

// LogBuffer collects log output from many goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tail is the last lines of s.
func Tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// Env is a processor over a data directory with the real engines in worker processes.
type Env struct {
	Dir  string
	DB   *store.DB
	Proc *pipeline.Processor
	// Pool is the worker pool NewEnv started; nil when deps gave the Reader.
	Pool *worker.Pool
	Logs *LogBuffer

	closeOnce sync.Once
}

// NewEnv opens a processor on dir (a new temporary directory when empty) with a pool of
// worker processes (MuPDF and Tesseract, one per page slot plus one, cfg's page time limit)
// and the rules; deps may replace parts (a Reader it sets replaces the pool). Its log, and the
// pool's, go to Env.Logs, whose tail is shown when the test fails. The test closes it at its
// end.
func NewEnv(t testing.TB, dir string, cfg pipeline.Config, deps func(*pipeline.Deps)) *Env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PageWorkers == 0 {
		cfg.PageWorkers = runtime.NumCPU()
	}
	logs := &LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	splitter, extractor := rules.New()
	d := pipeline.Deps{
		DB:        db,
		Files:     store.NewDirBlob(dir),
		Splitter:  splitter,
		Extractor: extractor,
		Logger:    logger,
	}
	if deps != nil {
		deps(&d)
	}
	var pool *worker.Pool
	if d.Reader == nil {
		pool = NewPool(t, worker.Config{Size: cfg.PageWorkers + 1, Timeout: cfg.PageTimeout, Logger: logger})
		d.Reader = pool
	}
	proc, err := pipeline.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Dir: dir, DB: db, Proc: proc, Pool: pool, Logs: logs}
	t.Cleanup(func() {
		e.Close()
		if t.Failed() {
			t.Logf("processor log:\n%s", Tail(logs.String(), 60))
		}
	})
	return e
}

// Close stops the processor and closes the engine and the database; again is a no-op.
func (e *Env) Close() {
	e.closeOnce.Do(func() {
		e.Proc.Stop()
		if e.Pool != nil {
			e.Pool.Close()
		}
		e.DB.Close()
	})
}

// Start starts the processor's workers.
func (e *Env) Start(t testing.TB) {
	t.Helper()
	if err := e.Proc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Submit queues data as a document named name at prio and returns its id.
func (e *Env) Submit(t testing.TB, name string, data []byte, prio store.Priority) string {
	t.Helper()
	sub, err := e.Proc.Submit(context.Background(), name, bytes.NewReader(data), pipeline.SubmitOptions{Priority: prio})
	if err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	return sub.Document.ID
}

// Wait returns when every id is completed or failed.
func (e *Env) Wait(t testing.TB, timeout time.Duration, ids ...string) map[string]store.Document {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := map[string]store.Document{}
		err := e.DB.View(context.Background(), func(tx *store.Tx) error {
			for _, id := range ids {
				d, err := tx.Document(id)
				if err != nil {
					return err
				}
				if d.Status == store.StatusCompleted || d.Status == store.StatusFailed {
					out[id] = d
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) == len(ids) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("documents not done after %s: %d of %d", timeout, len(out), len(ids))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Generate makes a packet or fails the test.
func Generate(t testing.TB, opts gen.Options) *gen.Packet {
	t.Helper()
	p, err := gen.Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Backlog adds n documents of status st and priority prio to db, as benchmarks at scale
// need them: ids made from seed, no original file, queued ones pushed to q. Their
// creation times are a millisecond apart; completed ones carry resultsVersion. It writes
// 10,000 documents a transaction.
func Backlog(t testing.TB, db *store.DB, q store.Queue, seed string, n int, st store.Status, prio store.Priority, resultsVersion string) []string {
	t.Helper()
	ids := make([]string, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for start := 0; start < n; start += 10_000 {
		err := db.Update(context.Background(), func(tx *store.Tx) error {
			for i := start; i < min(n, start+10_000); i++ {
				sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", seed, i)))
				id := store.DocID(hex.EncodeToString(sum[:]))
				ids[i] = id
				d := store.Document{ID: id, FileName: fmt.Sprintf("backlog-%d.pdf", i), SHA256: hex.EncodeToString(sum[:]),
					Size: 1000, Pages: 1, Priority: prio, Status: st, CreatedAt: base.Add(time.Duration(i) * time.Millisecond)}
				if st == store.StatusCompleted {
					d.Stage, d.ResultsVersion = "completed", resultsVersion
				}
				if err := tx.PutDocument(&d); err != nil {
					return err
				}
				if st == store.StatusQueued {
					if err := q.Push(tx, id, prio, store.PushOptions{}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}
