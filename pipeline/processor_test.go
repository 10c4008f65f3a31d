package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/eval"
	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

func TestMain(m *testing.M) { idptest.Main(m) }

// TestAccuracy runs generated packets through the real pipeline (MuPDF, Tesseract, the rule
// extractor) and holds the scores to the bar: on the first generator's packets (the layouts
// the rules were written beside), born-digital page -> account accuracy >= 0.97 and field
// F1 >= 0.95, scanned >= 0.90 and >= 0.85. On the second generator's held-out seeds (from
// gen.HeldOutSeeds, never tuned on), born-digital packets are held to issue 10's targets:
// field F1 >= 0.95, page -> account >= 0.98, precision >= 0.97. Scanned ones are held to
// floors under today's scores, a guard against regressions, not the targets: four packets
// are too few to hold them to 0.97 (one wrong value of their 54 is 0.02 of precision; one
// page of their 25 is 0.04 of page -> account, and one is missed today). `make accuracy`
// reports the full held-out figures (README, "Accuracy").
func TestAccuracy(t *testing.T) {
	tests := []struct {
		name         string
		layouts      string
		seeds        []uint64
		scanned      bool
		minPageAcc   float64
		minFieldF1   float64
		minPrecision float64
		timeoutPerPg time.Duration
	}{
		{"born-digital", gen.LayoutsHouse, []uint64{11, 12, 13, 14, 15, 16, 17, 18}, false, 0.97, 0.95, 0, time.Second},
		{"scanned", gen.LayoutsHouse, []uint64{21, 22}, true, 0.90, 0.85, 0, 20 * time.Second},
		{"other layouts, born-digital, held out", gen.LayoutsOther, []uint64{gen.HeldOutSeeds, gen.HeldOutSeeds + 1, gen.HeldOutSeeds + 2, gen.HeldOutSeeds + 3}, false, 0.98, 0.95, 0.97, time.Second},
		// Floors, not issue 10's targets: these four packets score page -> account 0.960,
		// F1 0.964, precision 0.981 with rules/9 (0.960, 0.926, 0.962 with rules/7, before
		// values were checked against the pages beside theirs).
		{"other layouts, scanned, held out", gen.LayoutsOther, []uint64{gen.HeldOutSeeds, gen.HeldOutSeeds + 1, gen.HeldOutSeeds + 2, gen.HeldOutSeeds + 3}, true, 0.88, 0.90, 0.95, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := idptest.NewEnv(t, "", pipeline.Config{}, nil)
			truth := map[string]stage.Result{}
			var ids []string
			pages := 0
			for _, seed := range tt.seeds {
				accounts := 0
				if tt.scanned {
					accounts = 2 + int(seed%2)
				}
				p := idptest.Generate(t, gen.Options{Seed: seed, Scanned: tt.scanned, Accounts: accounts, Layouts: tt.layouts})
				id := e.Submit(t, fmt.Sprintf("packet-%d.pdf", seed), p.PDF, store.PriorityNormal)
				truth[id] = p.Truth
				ids = append(ids, id)
				pages += p.Truth.TotalPages
			}
			e.Start(t)
			docs := e.Wait(t, time.Minute+time.Duration(pages)*tt.timeoutPerPg, ids...)
			scores := eval.NewScores()
			for _, id := range ids {
				if docs[id].Status != store.StatusCompleted {
					t.Fatalf("%s %s: %s", id, docs[id].Status, docs[id].Error)
				}
				got, err := e.Proc.Result(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if got.TotalPages != truth[id].TotalPages || len(got.Pages) != got.TotalPages {
					t.Errorf("%s: %d pages, %d page results; want %d", id, got.TotalPages, len(got.Pages), truth[id].TotalPages)
				}
				scores.Add(got, truth[id])
				checkEvidence(t, got)
			}
			var b strings.Builder
			scores.Print(&b)
			t.Logf("%d documents, %d pages\n%s", len(ids), pages, b.String())
			if acc := scores.PageAccuracy(); acc < tt.minPageAcc {
				t.Errorf("page -> account accuracy %.3f < %.2f", acc, tt.minPageAcc)
			}
			if f1 := scores.Overall().F1(); f1 < tt.minFieldF1 {
				t.Errorf("field F1 %.3f < %.2f", f1, tt.minFieldF1)
			}
			if pr := scores.Overall().Precision(); pr < tt.minPrecision {
				t.Errorf("field precision %.3f < %.2f", pr, tt.minPrecision)
			}
			// A held-out packet's mistakes are not printed: they would invite tuning on
			// them. Find the cause on the tuning seeds (below gen.HeldOutSeeds).
			if t.Failed() && tt.seeds[0] < gen.HeldOutSeeds {
				var m strings.Builder
				scores.PrintMistakes(&m)
				t.Logf("mistakes:\n%s", m.String())
			}
		})
	}
}

// checkEvidence: every value of every page's data has its evidence beside it, in the order
// of the values, with a confidence from 0 to 1.
func checkEvidence(t *testing.T, res stage.Result) {
	t.Helper()
	for _, p := range res.Pages {
		for field, v := range p.Data {
			values := stage.Values(v)
			evs := p.Evidence[field]
			if len(evs) != len(values) {
				t.Errorf("%s page %d %s: %d values, %d evidence", res.File, p.Page, field, len(values), len(evs))
				continue
			}
			for i, e := range evs {
				if e.Value != values[i] || e.Confidence <= 0 || e.Confidence > 1 || e.Source == "" {
					t.Errorf("%s page %d %s: evidence %+v for %q", res.File, p.Page, field, e, values[i])
				}
			}
		}
	}
}

// pdfWith returns a minimal PDF whose page tree says what claims says: a page count, a page
// size. Such files are a few hundred bytes and must be refused before anything is rendered.
func pdfWith(count int, mediaBox string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	b.WriteString("%PDF-1.4\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [3 0 R] /Count %d >>", count))
	obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox %s /Contents 4 0 R >>", mediaBox))
	stream := "BT /F1 12 Tf 72 720 Td (hello) Tj ET"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// TestBadInput: each bad file fails alone, with a clear reason, and a good document submitted
// with them completes.
func TestBadInput(t *testing.T) {
	good := idptest.Generate(t, gen.Options{Seed: 3, Accounts: 2})
	encrypted, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", "good", "libreoffice-writer-password.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	e := idptest.NewEnv(t, "", pipeline.Config{MaxPages: 500, MaxPagePixels: 40_000_000, MaxFileBytes: 8 << 20}, nil)

	refused := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, pipeline.ErrNotPDF},
		{"not a PDF", []byte("PK\x03\x04 this is a zip file"), pipeline.ErrNotPDF},
		{"too large", append([]byte("%PDF-1.4\n"), make([]byte, 9<<20)...), pipeline.ErrTooLarge},
	}
	for _, tt := range refused {
		_, err := e.Proc.Submit(context.Background(), tt.name, bytes.NewReader(tt.data), pipeline.SubmitOptions{})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: submit = %v, want %v", tt.name, err, tt.want)
		}
	}

	failing := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good.PDF[:len(good.PDF)/3], "page"},
		{"encrypted", encrypted, "encrypted"},
		{"a billion pages", pdfWith(1_000_000_000, "[0 0 612 792]"), "--max-pages"},
		{"a page 200 inches wide", pdfWith(1, "[0 0 14400 14400]"), "--max-page-pixels"},
		{"garbage after the header", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("garbage "), 100)...), "not a readable PDF"},
	}
	ids := map[string]string{}
	for _, tt := range failing {
		ids[tt.name] = e.Submit(t, tt.name+".pdf", tt.data, store.PriorityNormal)
	}
	goodID := e.Submit(t, "good.pdf", good.PDF, store.PriorityLow)
	e.Start(t)
	all := []string{goodID}
	for _, id := range ids {
		all = append(all, id)
	}
	docs := e.Wait(t, 2*time.Minute, all...)
	for _, tt := range failing {
		d := docs[ids[tt.name]]
		t.Logf("%s: %s: %s", tt.name, d.Status, d.Error)
		if d.Status != store.StatusFailed || !strings.Contains(d.Error, tt.want) {
			t.Errorf("%s: status %s, error %q; want failed mentioning %q", tt.name, d.Status, d.Error, tt.want)
		}
		if d.Attempts != 1 {
			t.Errorf("%s: %d attempts; a bad file is not retried", tt.name, d.Attempts)
		}
	}
	if d := docs[goodID]; d.Status != store.StatusCompleted {
		t.Errorf("the good document beside them: %s %s", d.Status, d.Error)
	}
}

// TestCorpus runs every valid PDF of testdata/corpus (from other projects; see its README):
// each completes, except the password-protected one, which fails as encrypted, and the
// processor carries on. (The malformed ones go through `idp serve` in cmd's
// TestServeBadCorpus.)
func TestCorpus(t *testing.T) {
	root := filepath.Join("..", "testdata", "corpus")
	files, err := filepath.Glob(filepath.Join(root, "good", "*.pdf"))
	if err != nil || len(files) < 25 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	e := idptest.NewEnv(t, "", pipeline.Config{DocTimeout: 3 * time.Minute, PageTimeout: time.Minute}, nil)
	ids := map[string]string{}
	var all []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := e.Proc.Submit(context.Background(), filepath.Base(f), bytes.NewReader(data), pipeline.SubmitOptions{})
		if err != nil {
			t.Errorf("%s: submit: %v", f, err)
			continue
		}
		ids[f] = sub.Document.ID
		all = append(all, sub.Document.ID)
	}
	e.Start(t)
	started := time.Now()
	docs := e.Wait(t, 15*time.Minute, all...)
	completed, failed := 0, 0
	for f, id := range ids {
		d := docs[id]
		rel, _ := filepath.Rel(root, f)
		switch {
		case strings.HasSuffix(f, "libreoffice-writer-password.pdf"):
			if d.Status != store.StatusFailed || !strings.Contains(d.Error, "encrypted") {
				t.Errorf("%s: %s %q, want failed as encrypted", rel, d.Status, d.Error)
			}
		case d.Status != store.StatusCompleted:
			t.Errorf("%s: %s %q, want completed", rel, d.Status, d.Error)
		}
		if d.Status == store.StatusCompleted {
			completed++
		} else {
			failed++
		}
	}
	t.Logf("%d files: %d completed, %d failed, in %s", len(ids), completed, failed, time.Since(started).Round(time.Second))

	// And the processor is still fine.
	p := idptest.Generate(t, gen.Options{Seed: 5, Accounts: 2})
	id := e.Submit(t, "after.pdf", p.PDF, store.PriorityHigh)
	if d := e.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
		t.Errorf("a document after the corpus: %s %s", d.Status, d.Error)
	}
}

// countingExtractor wraps the rule extractor, counting calls per page, optionally slowly or
// failing.
type countingExtractor struct {
	version string
	delay   time.Duration
	fail    error
	calls   atomic.Int64
	mu      sync.Mutex
	pages   map[int]int
}

func (c *countingExtractor) Extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	c.calls.Add(1)
	c.mu.Lock()
	if c.pages == nil {
		c.pages = map[int]int{}
	}
	c.pages[in.Page]++
	c.mu.Unlock()
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return stage.Extraction{}, ctx.Err()
		}
	}
	if c.fail != nil {
		return stage.Extraction{}, c.fail
	}
	return rules.Extractor{}.Extract(ctx, in)
}

func (c *countingExtractor) Version() string { return c.version }
func (c *countingExtractor) Name() string    { return "counting" }

func (c *countingExtractor) perPage() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int]int{}
	for k, v := range c.pages {
		out[k] = v
	}
	return out
}

// TestVersionAware: a record made by another version of its stage is recomputed; a change to
// the extractor re-runs stage 4 only, a change to the DPI every stage.
func TestVersionAware(t *testing.T) {
	dir := t.TempDir()
	p := idptest.Generate(t, gen.Options{Seed: 9, Accounts: 3})
	n := p.Truth.TotalPages
	run := func(cfg pipeline.Config, ex stage.Extractor) pipeline.CountersSnapshot {
		t.Helper()
		e := idptest.NewEnv(t, dir, cfg, func(d *pipeline.Deps) { d.Extractor = ex })
		id := e.Submit(t, "p.pdf", p.PDF, store.PriorityNormal)
		e.Start(t)
		if d := e.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
			t.Fatalf("%s: %s", d.Status, d.Error)
		}
		e.Proc.Stop()
		c := e.Proc.Counters()
		e.Close()
		return c
	}
	first := run(pipeline.Config{}, &countingExtractor{version: "x/1"})
	if got := first.Pages[stage.OCRExtraction]["done"]; got != int64(n) {
		t.Fatalf("first run read %d pages, want %d", got, n)
	}
	same := run(pipeline.Config{}, &countingExtractor{version: "x/1"})
	if len(same.Pages) != 0 || same.StageRuns[stage.AccountSplitting] != 0 {
		t.Errorf("unchanged configuration recomputed: %+v", same)
	}
	model := &countingExtractor{version: "x/2"}
	changed := run(pipeline.Config{}, model)
	if got := changed.Pages[stage.OCRExtraction]["done"]; got != 0 {
		t.Errorf("another extractor re-read %d pages; stages 1-3 must stay cached", got)
	}
	if changed.StageRuns[stage.AccountSplitting] != 0 || changed.StageRuns[stage.PageAnalysis] != 0 {
		t.Errorf("another extractor re-ran stages 2-3: %v", changed.StageRuns)
	}
	if got := model.calls.Load(); got != int64(n) {
		t.Errorf("another extractor ran on %d pages, want %d", got, n)
	}
	// Nothing submitted: at start, the completed document made by another extractor is
	// queued again by itself, and only stage 4 runs.
	{
		model3 := &countingExtractor{version: "x/3"}
		e := idptest.NewEnv(t, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Extractor = model3 })
		e.Start(t)
		var id string
		_ = e.DB.View(context.Background(), func(tx *store.Tx) error {
			docs, _ := tx.Documents()
			id = docs[0].ID
			return nil
		})
		e.Wait(t, time.Minute, id)
		deadline := time.Now().Add(time.Minute)
		for model3.calls.Load() < int64(n) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		e.Proc.Stop()
		if got := model3.calls.Load(); got != int64(n) {
			t.Errorf("at start, a document made by another extractor was re-extracted on %d pages, want %d", got, n)
		}
		if c := e.Proc.Counters(); c.Pages[stage.OCRExtraction]["done"] != 0 {
			t.Errorf("at start, stage 1 ran again on %d pages", c.Pages[stage.OCRExtraction]["done"])
		}
		e.Close()
	}
	dpi := run(pipeline.Config{OCRDPI: 200}, &countingExtractor{version: "x/2"})
	if got := dpi.Pages[stage.OCRExtraction]["done"]; got != int64(n) {
		t.Errorf("another DPI re-read %d pages, want all %d", got, n)
	}
	if dpi.StageRuns[stage.AccountSplitting] != 1 || dpi.Pages[stage.LLMExtraction]["done"] != int64(n) {
		t.Errorf("another DPI must re-run every later stage: %+v", dpi)
	}
}

// TestAttempts: a transient failure is retried with backoff and recorded; after the last
// try the document fails with the reason. A document that was in flight when the process died
// three times resumes and completes: the process's death is not counted against it.
func TestAttempts(t *testing.T) {
	p := idptest.Generate(t, gen.Options{Seed: 4, Accounts: 2})
	flaky := &countingExtractor{version: "flaky/1", fail: errors.New("model endpoint reset the connection")}
	e := idptest.NewEnv(t, "", pipeline.Config{MaxAttempts: 3, RetryBase: time.Millisecond, RetryMax: 50 * time.Millisecond},
		func(d *pipeline.Deps) { d.Extractor = flaky })
	id := e.Submit(t, "p.pdf", p.PDF, store.PriorityNormal)
	e.Start(t)
	d := e.Wait(t, time.Minute, id)[id]
	if d.Status != store.StatusFailed || d.Attempts != 3 || !strings.Contains(d.Error, "reset the connection") {
		t.Errorf("status %s after %d attempts: %q; want failed after 3 with the reason", d.Status, d.Attempts, d.Error)
	}
	if len(d.Errors) != 3 {
		t.Errorf("recorded %d attempt errors, want 3: %+v", len(d.Errors), d.Errors)
	}
	st, err := e.Proc.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stage != stage.Failed || st.Stages[stage.LLMExtraction].Status != string(store.StageFailed) ||
		st.Stages[stage.OCRExtraction].Status != string(store.StageCompleted) {
		t.Errorf("status = %+v", st)
	}

	// Three deaths of the process while a worker held the document (kill -9, an OOM of the
	// machine, a reboot): none is the document's doing, none counts, and it completes.
	dir := t.TempDir()
	e1 := idptest.NewEnv(t, dir, pipeline.Config{}, nil)
	id = e1.Submit(t, "p.pdf", p.PDF, store.PriorityNormal)
	e1.Close()
	ctx := context.Background()
	for range 3 {
		db, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		q := store.NewBoltQueue(db)
		if _, err := q.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Pop(ctx); err != nil { // a worker holds it when the process dies
			t.Fatal(err)
		}
		db.Close()
	}
	e2 := idptest.NewEnv(t, dir, pipeline.Config{}, nil)
	e2.Start(t)
	d = e2.Wait(t, time.Minute, id)[id]
	if d.Status != store.StatusCompleted || d.Attempts != 0 {
		t.Errorf("after three deaths of the process: %s after %d counted attempts (%q); want completed, none counted", d.Status, d.Attempts, d.Error)
	}
}

// TestGracefulStop: stopping in the middle of stage 4 keeps every finished page, puts the
// document back at the front without counting the try, and the next start computes only the
// pages that were not finished.
func TestGracefulStop(t *testing.T) {
	dir := t.TempDir()
	p := idptest.Generate(t, gen.Options{Seed: 8, Accounts: 3, MinPages: 16})
	n := p.Truth.TotalPages
	slow := &countingExtractor{version: "slow/1", delay: 150 * time.Millisecond}
	e := idptest.NewEnv(t, dir, pipeline.Config{PageWorkers: 2, StopTimeout: 5 * time.Second}, func(d *pipeline.Deps) { d.Extractor = slow })
	id := e.Submit(t, "p.pdf", p.PDF, store.PriorityNormal)
	events, unsubscribe := e.Proc.Broker().Subscribe(1024)
	e.Start(t)
	pagesDone := 0
	for ev := range events {
		if ev.Type == pipeline.EventPage && ev.Stage == stage.LLMExtraction {
			pagesDone++
			if pagesDone == 4 {
				break
			}
		}
	}
	unsubscribe()
	e.Proc.Stop()
	first := slow.perPage()
	var d store.Document
	_ = e.DB.View(context.Background(), func(tx *store.Tx) error { d, _ = tx.Document(id); return nil })
	if d.Status != store.StatusQueued || d.Attempts != 0 {
		t.Fatalf("after stop: %s with %d attempts; want queued, try not counted", d.Status, d.Attempts)
	}
	if len(first) >= n {
		t.Fatalf("all %d pages ran before the stop; the test needs a slower extractor", n)
	}
	cached := 0
	for page := range n {
		if _, err := e.Proc.PageData(context.Background(), id, page); err == nil {
			cached++
		}
	}
	if cached != len(first) {
		t.Errorf("%d pages were extracted but %d are cached: a page started before the stop must finish and be kept", len(first), cached)
	}
	e.Close()

	again := &countingExtractor{version: "slow/1"}
	e2 := idptest.NewEnv(t, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Extractor = again })
	e2.Start(t)
	if d := e2.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
		t.Fatalf("after restart: %s %s", d.Status, d.Error)
	}
	for page, c := range again.perPage() {
		if first[page] > 0 {
			t.Errorf("page %d was extracted again after the restart (%d times)", page, c)
		}
	}
	if got := len(again.perPage()) + len(first); got != n {
		t.Errorf("pages extracted across both runs: %d, want %d", got, n)
	}
	if c := e2.Proc.Counters(); c.Pages[stage.OCRExtraction]["done"] != 0 {
		t.Errorf("OCR ran again on %d pages after the restart", c.Pages[stage.OCRExtraction]["done"])
	}
}

// TestPriorityOrder: with one worker, documents run by priority, then first in first out.
func TestPriorityOrder(t *testing.T) {
	e := idptest.NewEnv(t, "", pipeline.Config{Workers: 1}, nil)
	var ids []string
	for i, prio := range []store.Priority{store.PriorityLow, store.PriorityNormal, store.PriorityHigh, store.PriorityNormal} {
		p := idptest.Generate(t, gen.Options{Seed: uint64(30 + i), Accounts: 2})
		ids = append(ids, e.Submit(t, fmt.Sprintf("p%d.pdf", i), p.PDF, prio))
	}
	events, unsubscribe := e.Proc.Broker().Subscribe(4096)
	defer unsubscribe()
	e.Start(t)
	var order []string
	for ev := range events {
		if ev.Type == pipeline.EventStarted {
			order = append(order, ev.DocID)
			if len(order) == len(ids) {
				break
			}
		}
	}
	want := []string{ids[2], ids[1], ids[3], ids[0]}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("order = %v, want %v (high, normal in arrival order, low)", order, want)
	}
}

// failingSplitter is the rules' splitter with stage 2 or stage 3 failing for good.
type failingSplitter struct {
	rules.Splitter
	failSplit, failMap bool
}

func (s failingSplitter) Split(ctx context.Context, pages []stage.PageText) ([]stage.Account, error) {
	if s.failSplit {
		return nil, stage.NewPermanent(errors.New("splitter refused"))
	}
	return s.Splitter.Split(ctx, pages)
}

func (s failingSplitter) MapPages(ctx context.Context, pages []stage.PageText, accounts []stage.Account) ([]stage.PageMap, error) {
	if s.failMap {
		return nil, stage.NewPermanent(errors.New("mapper refused"))
	}
	return s.Splitter.MapPages(ctx, pages, accounts)
}

// TestFinishedStagesOfAFailedTry: the ends of quick stages are committed with the
// document's next commit; a try that fails before that commit still records them, so the
// status shows them completed and their results are cached for the next try.
func TestFinishedStagesOfAFailedTry(t *testing.T) {
	card, err := gen.SignatureCard(42)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		splitter failingSplitter
		cached   []string // stages completed and cached
		failed   string   // the stage shown failed
	}{
		{"stage 2 fails: stage 1 kept", failingSplitter{failSplit: true}, []string{stage.OCRExtraction}, stage.AccountSplitting},
		{"stage 3 fails: stages 1 and 2 kept", failingSplitter{failMap: true}, []string{stage.OCRExtraction, stage.AccountSplitting}, stage.PageAnalysis},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := idptest.NewEnv(t, "", pipeline.Config{}, func(d *pipeline.Deps) { d.Splitter = tt.splitter })
			id := e.Submit(t, "card.pdf", card.PDF, store.PriorityNormal)
			e.Start(t)
			if d := e.Wait(t, time.Minute, id)[id]; d.Status != store.StatusFailed || d.Pages != 1 {
				t.Fatalf("status %s, %d pages; want failed, 1 page (%q)", d.Status, d.Pages, d.Error)
			}
			st, err := e.Proc.Status(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.cached {
				if got := st.Stages[s].Status; got != string(store.StageCompleted) {
					t.Errorf("stage %s: %s, want completed", s, got)
				}
			}
			if got := st.Stages[tt.failed].Status; got != string(store.StageFailed) {
				t.Errorf("stage %s: %s, want failed", tt.failed, got)
			}
			keys := map[string]string{stage.OCRExtraction: store.OCRKey(id), stage.AccountSplitting: store.AccountsKey(id)}
			for _, s := range tt.cached {
				var v json.RawMessage
				if err := e.DB.GetCached(context.Background(), keys[s], "", &v); err != nil && !errors.Is(err, store.ErrStale) {
					t.Errorf("stage %s's result not cached: %v", s, err)
				}
			}
		})
	}
}
