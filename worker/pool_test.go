package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/testdata/gen"
	"github.com/idp/idp/worker"
)

// The test binary is also the worker: idptest.Main runs it as one when the pool starts it.
func TestMain(m *testing.M) { idptest.Main(m) }

// file writes data into the test's directory.
func file(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func corpus(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("..", "testdata", "corpus", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// alive reports whether a process exists (and is not a zombie).
func alive(pid int) bool {
	for _, p := range idptest.Tree(os.Getpid()) {
		if p.PID == pid {
			return true
		}
	}
	return false
}

// TestReads: what the workers answer, and how their errors come back: a born-digital page's
// text layer, a scanned page's OCR, a corrupt file, the three ways of a password, a
// repaired file, an image declared too large (refused without decoding it).
func TestReads(t *testing.T) {
	pool := idptest.NewPool(t, worker.Config{Size: 2, MaxMB: 1024})
	ctx := context.Background()
	digital := file(t, "digital.pdf", idptest.Generate(t, gen.Options{Seed: 3, Accounts: 2}).PDF)
	locked := corpus(t, "good/libreoffice-writer-password.pdf")
	ownerOnly := file(t, "owner.pdf", idptest.TextPDF(t, 0, "", "owner-secret", []string{"Account Number 4401 2231 0097 held by Maria Gonzalez"}))
	userAndOwner := file(t, "user.pdf", idptest.TextPDF(t, 0, "user-secret", "owner-secret", []string{"Account Number 4401 2231 0097 held by Maria Gonzalez"}))
	bomb := file(t, "bomb.pdf", idptest.RawPDF(idptest.RawPage{Content: "q 612 0 0 792 0 0 cm /Im0 Do Q",
		Images: []idptest.RawImage{{Width: 100000, Height: 100000, Data: []byte{0}}}}))

	tests := []struct {
		name     string
		doc      stage.Doc
		wantErr  error
		wantText string
		page     *stage.PageError
	}{
		{"born-digital", stage.Doc{Path: digital}, nil, "Borrower", nil},
		{"garbage", stage.Doc{Path: file(t, "garbage.pdf", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("garbage "), 100)...))}, stage.ErrCorruptPDF, "", nil},
		{"encrypted, no password", stage.Doc{Path: locked}, stage.ErrPasswordNeeded, "", nil},
		{"encrypted, wrong password", stage.Doc{Path: locked, Password: "guess"}, stage.ErrPasswordWrong, "", nil},
		{"encrypted, its password", stage.Doc{Path: locked, Password: "openpassword"}, nil, "", nil},
		{"owner password only", stage.Doc{Path: ownerOnly}, nil, "4401 2231 0097", nil},
		{"user password, given", stage.Doc{Path: userAndOwner, Password: "user-secret"}, nil, "4401 2231 0097", nil},
		{"user password, missing", stage.Doc{Path: userAndOwner}, stage.ErrPasswordNeeded, "", nil},
		{"an image of 10 billion pixels", stage.Doc{Path: bomb}, nil, "", &stage.PageError{Reason: "--max-image-pixels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := pool.Inspect(ctx, tt.doc, stage.InspectOptions{MaxPages: 10})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("inspect: %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == stage.ErrPasswordNeeded && err.Error() != "encrypted: a password is needed" {
					t.Errorf("message %q", err)
				}
				return
			}
			if err != nil || info.Pages < 1 || len(info.Sizes) != info.Pages {
				t.Fatalf("inspect: %+v, %v", info, err)
			}
			start := time.Now()
			pt, err := pool.ReadPage(ctx, tt.doc, stage.PageRequest{Page: 0, DPI: 300, MaxImagePixels: 150_000_000})
			if tt.page != nil {
				var pe *stage.PageError
				if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.page.Reason) {
					t.Fatalf("read: %v, want a page error mentioning %q", err, tt.page.Reason)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("refusing the image took %s: was it decoded?", d)
				}
				return
			}
			if err != nil || !strings.Contains(pt.Text, tt.wantText) {
				t.Fatalf("read: %v, text %q; want %q in it", err, pt.Text, tt.wantText)
			}
		})
	}
	if st := pool.Stats(); st.Died != 0 {
		t.Errorf("no worker should have died: %+v", st)
	}
}

// TestWorkerOutputIsLogged: what MuPDF prints about a damaged file goes through the pool's
// slog logger, as JSON, with the document it was about, and the file is reported repaired.
func TestWorkerOutputIsLogged(t *testing.T) {
	var logs idptest.LogBuffer
	pool := idptest.NewPool(t, worker.Config{Size: 1, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	info, err := pool.Inspect(context.Background(), stage.Doc{ID: "damaged-doc", Path: corpus(t, "bad/qpdf-bad-xref.pdf")}, stage.InspectOptions{MaxPages: 10})
	if err != nil || !info.Repaired {
		t.Fatalf("inspect: %+v %v; want a repaired file", info, err)
	}
	pool.Close() // every line written
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l struct {
			Msg   string `json:"msg"`
			DocID string `json:"doc_id"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("not a JSON line: %q", line)
			continue
		}
		if strings.Contains(l.Msg, "trying to repair broken xref") && l.DocID == "damaged-doc" {
			found = true
		}
	}
	if !found {
		t.Errorf("MuPDF's warning was not logged with its document:\n%s", logs.String())
	}
}

// scannedPage is a file whose page 0 takes Tesseract a while.
func scannedPage(t *testing.T) string {
	t.Helper()
	return file(t, "scan.pdf", idptest.Generate(t, gen.Options{Seed: 41, Accounts: 2, Scanned: true}).PDF)
}

// busyWorker waits until a worker of pool has used some CPU since before, and returns it.
func busyWorker(t *testing.T, pool *worker.Pool, before map[int]int64) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range idptest.Tree(os.Getpid()) {
			if slices.Contains(pool.Stats().PIDs, p.PID) && p.CPU > before[p.PID]+10 {
				return p.PID
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no worker got busy")
	return 0
}

func cpuByPID() map[int]int64 {
	out := map[int]int64{}
	for _, p := range idptest.Tree(os.Getpid()) {
		out[p.PID] = p.CPU
	}
	return out
}

// TestKilledWorkerPageIsRetried: a worker killed in the middle of a page fails that page
// only; it is read again in another worker and the caller gets its text.
func TestKilledWorkerPageIsRetried(t *testing.T) {
	pool := idptest.NewPool(t, worker.Config{Size: 1})
	doc := stage.Doc{ID: "scan", Path: scannedPage(t)}
	before := cpuByPID()
	type result struct {
		pt  stage.PageText
		err error
	}
	done := make(chan result, 1)
	go func() {
		pt, err := pool.ReadPage(context.Background(), doc, stage.PageRequest{Page: 0, DPI: 300})
		done <- result{pt, err}
	}()
	victim := busyWorker(t, pool, before)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.pt.Source != stage.SourceOCR || len(r.pt.Text) < 50 {
		t.Fatalf("after its worker was killed the page came back %q, %v", r.pt.Text, r.err)
	}
	st := pool.Stats()
	if st.Died != 1 || st.Quarantined != 0 || slices.Contains(st.PIDs, victim) {
		t.Errorf("stats %+v: want one death, the killed worker gone", st)
	}
}

// TestHungPageIsKilled: a page that runs past the time limit has its worker killed, twice,
// and comes back a page error; the workers are gone and the CPU is back.
func TestHungPageIsKilled(t *testing.T) {
	const limit = 2 * time.Second
	pool := idptest.NewPool(t, worker.Config{Size: 2, Timeout: limit})
	// Minutes of drawing at 300 dpi.
	doc := stage.Doc{ID: "hang", Path: file(t, "hang.pdf", idptest.RawPDF(idptest.RawPage{Content: idptest.SlowContent(5000)}))}
	seen := map[int]bool{}
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, pid := range pool.Stats().PIDs {
				seen[pid] = true
			}
		}
	}()
	start := time.Now()
	_, err := pool.ReadPage(context.Background(), doc, stage.PageRequest{Page: 0, DPI: 300})
	took := time.Since(start)
	close(stop)
	<-watched
	var pe *stage.PageError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "page time limit") {
		t.Fatalf("read: %v; want a page error about the time limit", err)
	}
	if took > 4*limit {
		t.Errorf("giving up took %s; the limit is %s per try", took, limit)
	}
	st := pool.Stats()
	if st.TimedOut != 2 || st.Quarantined != 1 {
		t.Errorf("stats %+v: want two timeouts, one page given up", st)
	}
	for pid := range seen {
		if !slices.Contains(st.PIDs, pid) && alive(pid) {
			t.Errorf("worker %d was given up but still runs", pid)
		}
	}
	// The CPU comes back: over a second, the whole tree (this process and its workers)
	// uses a fraction of one core.
	cpu := func() int64 {
		var sum int64
		for _, p := range idptest.Tree(os.Getpid()) {
			sum += p.CPU
		}
		return sum
	}
	c0 := cpu()
	time.Sleep(time.Second)
	if used := cpu() - c0; used > 30 { // clock ticks, 100 a second
		t.Errorf("the process tree used %d ticks of CPU in the second after the page was given up", used)
	}
}

// TestMemoryCap: a page that needs more memory than the cap stops its worker (twice) and
// comes back a page error that says so; no worker's memory passes the cap.
func TestMemoryCap(t *testing.T) {
	const capMB = 1024 // the race detector's own memory counts too: a lower cap kills its start
	var logs idptest.LogBuffer
	pool := idptest.NewPool(t, worker.Config{Size: 1, MaxMB: capMB, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer func() {
		if t.Failed() {
			t.Log(idptest.Tail(logs.String(), 30))
		}
	}()
	// 150 x 150 inches: two billion gray pixels at 300 dpi.
	doc := stage.Doc{ID: "huge", Path: file(t, "huge.pdf", idptest.RawPDF(idptest.RawPage{W: 150 * 72, H: 150 * 72, Content: "0 0 m 100 100 l S"}))}
	rss := idptest.SampleRSS(os.Getpid(), 20*time.Millisecond)
	_, err := pool.ReadPage(context.Background(), doc, stage.PageRequest{Page: 0, DPI: 300})
	_, child, _ := rss.Stop()
	var pe *stage.PageError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "out of memory") {
		t.Fatalf("read: %v; want a page error about memory", err)
	}
	if st := pool.Stats(); st.OutOfMemory != 2 || st.Quarantined != 1 {
		t.Errorf("stats %+v: want two workers out of memory, one page given up", st)
	}
	if child > capMB<<20 {
		t.Errorf("a worker's resident memory reached %d MB; the cap is %d", child>>20, capMB)
	}
	t.Logf("peak resident memory of a worker: %d MB (cap %d MB)", child>>20, capMB)
	// The pool goes on.
	if _, err := pool.Inspect(context.Background(), doc, stage.InspectOptions{MaxPages: 1}); err != nil {
		t.Errorf("after the deaths: %v", err)
	}
}

// TestWorkerLifecycle: workers are recycled after Recycle requests; a worker found dead while
// idle is replaced without blaming the next request; a request whose context ends has its
// worker killed, and that is no death of a page.
func TestWorkerLifecycle(t *testing.T) {
	pool := idptest.NewPool(t, worker.Config{Size: 1, Recycle: 2})
	ctx := context.Background()
	doc := stage.Doc{ID: "d", Path: file(t, "d.pdf", idptest.Generate(t, gen.Options{Seed: 3, Accounts: 2}).PDF)}
	for i := range 5 {
		if _, err := pool.ReadPage(ctx, doc, stage.PageRequest{Page: i % 3, DPI: 300}); err != nil {
			t.Fatal(err)
		}
	}
	if st := pool.Stats(); st.Recycled < 2 || st.Started < 3 {
		t.Errorf("after 5 pages with recycling every 2: %+v", st)
	}

	pids := pool.Stats().PIDs
	if len(pids) != 1 {
		t.Fatalf("want one idle worker, have %v", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for alive(pids[0]) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := pool.ReadPage(ctx, doc, stage.PageRequest{Page: 0, DPI: 300}); err != nil {
		t.Fatalf("after the idle worker died: %v", err)
	}

	slow := stage.Doc{ID: "slow", Path: file(t, "slow.pdf", idptest.RawPDF(idptest.RawPage{Content: idptest.SlowContent(5000)}))}
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	busy := pool.Stats().PIDs
	if _, err := pool.ReadPage(cctx, slow, stage.PageRequest{Page: 0, DPI: 300}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled read: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range busy {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("worker %d still runs the abandoned page", pid)
		}
	}
	if st := pool.Stats(); st.Died != 0 {
		t.Errorf("an idle death or an abandoned page counted as a page's death: %+v", st)
	}
}

// TestStartFailures: a pool that cannot start its workers says why at once.
func TestStartFailures(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  worker.Config
		want string
	}{
		{"no such binary", worker.Config{Command: []string{"/nonexistent/idp", "worker"}, Lang: "eng"}, "no such file"},
		{"no such language", worker.Config{Command: []string{exe}, Lang: "xx-not-a-language"}, "xx-not-a-language"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = slog.New(slog.DiscardHandler)
			pool, err := worker.New(context.Background(), tt.cfg)
			if err == nil {
				pool.Close()
				t.Fatal("the pool started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestWorkerEnv(t *testing.T) {
	got := worker.WorkerEnvForTest([]string{"PATH=/bin", "AWS_SECRET_ACCESS_KEY=x", "OPENAI_API_KEY=y", "IDP_API_TOKEN=z",
		"TESSDATA_PREFIX=/t", "LC_ALL=C", "GOMAXPROCS=2", "HOME=/root"})
	want := []string{"PATH=/bin", "TESSDATA_PREFIX=/t", "LC_ALL=C", "GOMAXPROCS=2", "HOME=/root"}
	if !slices.Equal(got, want) {
		t.Errorf("worker environment %q, want %q", got, want)
	}
}
