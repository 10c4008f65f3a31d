package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
	"github.com/idp/idp/worker"
)

// account is a page a test builds: what a statement page prints.
var account = []string{"Account Number: 4401 2231 0097", "Account Holder: Maria L. Gonzalez", "Phone: (555) 201-7788"}

// TestQuarantine: pages that fail alone (one that hangs, one whose image is declared far too
// large, one too large to render even at the lowest resolution, one that needs more memory
// than a worker may have) are quarantined with their reasons; the rest of the document
// completes and is served, its answer, result and status list the failed pages, and the
// processor goes on.
func TestQuarantine(t *testing.T) {
	const capMB = 1024 // the race detector's memory counts too: a lower cap kills its start
	var pool *worker.Pool
	e := idptest.NewEnv(t, "", pipeline.Config{PageTimeout: 3 * time.Second, MaxPagePixels: 3_000_000_000}, func(d *pipeline.Deps) {
		pool = idptest.NewPool(t, worker.Config{Size: 3, MaxMB: capMB, Timeout: 3 * time.Second, Logger: d.Logger})
		d.Reader = pool
	})
	pdf := idptest.RawPDF(
		idptest.RawPage{Text: account},
		idptest.RawPage{Content: idptest.SlowContent(5000)}, // minutes of drawing
		idptest.RawPage{Content: "q 612 0 0 792 0 0 cm /Im0 Do Q", Images: []idptest.RawImage{{Width: 100000, Height: 100000, Data: []byte{0}}}},
		idptest.RawPage{W: 400 * 72, H: 400 * 72, Content: "0 0 m 100 100 l S"}, // 3,600 million pixels at 150 dpi
		idptest.RawPage{W: 150 * 72, H: 150 * 72, Content: "0 0 m 100 100 l S"}, // 2,025 million at 300 dpi: 2 GB
		idptest.RawPage{Text: account},
	)
	rss := idptest.SampleRSS(os.Getpid(), 20*time.Millisecond)
	id := e.Submit(t, "mixed.pdf", pdf, store.PriorityNormal)
	e.Start(t)
	d := e.Wait(t, 3*time.Minute, id)[id]
	_, workerPeak, _ := rss.Stop()
	if d.Status != store.StatusCompleted {
		t.Fatalf("%s: %s", d.Status, d.Error)
	}
	want := map[int]string{1: "page time limit", 2: "--max-image-pixels", 3: "--max-page-pixels", 4: "out of memory"}
	check := func(where string, failed []stage.FailedPage) {
		t.Helper()
		got := map[int]string{}
		for _, f := range failed {
			got[f.Page] = f.Reason
		}
		for page, words := range want {
			if !strings.Contains(got[page], words) {
				t.Errorf("%s: page %d failed with %q; want a reason that says %q", where, page, got[page], words)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: failed pages %v; want %v", where, got, want)
		}
	}
	st, err := e.Proc.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	check("status", st.FailedPages)
	res, err := e.Proc.Result(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	check("result", res.FailedPages)
	if len(res.Pages) != 6 {
		t.Fatalf("result has %d pages", len(res.Pages))
	}
	for _, pg := range res.Pages {
		_, failed := want[pg.Page]
		if failed != (pg.Error != "") {
			t.Errorf("page %d: error %q", pg.Page, pg.Error)
		}
		if !failed && pg.Data[stage.FieldAccountNumber] == nil {
			t.Errorf("page %d was read but nothing extracted: %v", pg.Page, pg.Data)
		}
	}
	if s := pool.Stats(); s.TimedOut != 2 || s.OutOfMemory != 2 || s.Quarantined != 2 {
		t.Errorf("workers: %+v; want the hung page and the huge page each to stop two", s)
	}
	if workerPeak > capMB<<20 {
		t.Errorf("a worker reached %d MB resident; the cap is %d MB", workerPeak>>20, capMB)
	}
	t.Logf("peak resident memory of one worker: %d MB (cap %d MB)", workerPeak>>20, capMB)

	// The processor is fine: the next document completes.
	next := e.Submit(t, "next.pdf", idptest.RawPDF(idptest.RawPage{Text: account}), store.PriorityHigh)
	if d := e.Wait(t, time.Minute, next)[next]; d.Status != store.StatusCompleted {
		t.Errorf("the next document: %s %s", d.Status, d.Error)
	}
}

// TestBlankPages: a thousand blank pages are recognised as such, cheaply, and never OCR'd; a
// page with one faint line of text is read, whether it is drawn or scanned.
func TestBlankPages(t *testing.T) {
	e := idptest.NewEnv(t, "", pipeline.Config{}, nil)
	blank := make([]idptest.RawPage, 1000)
	faint := idptest.TextPDF(t, 170, "", "", []string{"Account Number 7310 5521"})
	pages := []idptest.RawPage{
		{Text: account},
		// A faint line drawn (its text layer is too short to keep, so it is rendered), and
		// the same scanned.
		{Content: "0.67 g BT /F1 11 Tf 72 700 Td (Account Number 7310 5521) Tj ET"},
		idptest.Scanned(t, faint, 0, 200, 4, 1),
		// A scanned blank page: paper and noise.
		idptest.Scanned(t, idptest.RawPDF(idptest.RawPage{}), 0, 200, 4, 2),
	}
	blankID := e.Submit(t, "blank.pdf", idptest.RawPDF(blank...), store.PriorityNormal)
	mixedID := e.Submit(t, "mixed.pdf", idptest.RawPDF(pages...), store.PriorityNormal)
	e.Start(t)
	start := time.Now()
	docs := e.Wait(t, 10*time.Minute, blankID, mixedID)
	t.Logf("1,000 blank pages and 4 others in %s", time.Since(start).Round(time.Millisecond))
	for id, d := range docs {
		if d.Status != store.StatusCompleted {
			t.Fatalf("%s: %s %s", id, d.Status, d.Error)
		}
	}
	res, err := e.Proc.Result(context.Background(), blankID)
	if err != nil {
		t.Fatal(err)
	}
	for _, pg := range res.Pages {
		if !pg.Blank || len(pg.Data) != 0 {
			t.Fatalf("page %d of the blank document: blank %v, data %v", pg.Page, pg.Blank, pg.Data)
		}
	}
	if c := e.Proc.Counters(); c.OCRPages != 2 || c.BlankPages != 1001 {
		t.Errorf("%d pages OCR'd, %d blank: want 2 OCR'd (the faint lines), 1,001 blank", c.OCRPages, c.BlankPages)
	}
	res, err = e.Proc.Result(context.Background(), mixedID)
	if err != nil {
		t.Fatal(err)
	}
	wantBlank := []bool{false, false, false, true}
	for i, pg := range res.Pages {
		if pg.Blank != wantBlank[i] {
			t.Errorf("page %d: blank %v", i, pg.Blank)
		}
	}
	for _, page := range []int{1, 2} {
		pd, err := e.Proc.PageData(context.Background(), mixedID, page)
		if err != nil {
			t.Fatal(err)
		}
		if got := digitsOf(pd.Data[stage.FieldAccountNumber]); got != "73105521" {
			t.Errorf("faint line, page %d: account number %q (source %s)", page, got, pd.Source)
		}
	}
}

func digitsOf(v any) string {
	s, _ := v.(string)
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestLargePagesAndDamage: a page too large for --max-page-pixels at --ocr-dpi is read at the
// highest resolution that fits, and the document says so; a file MuPDF had to repair
// completes with a warning that pages may be missing.
func TestLargePagesAndDamage(t *testing.T) {
	e := idptest.NewEnv(t, "", pipeline.Config{}, nil)
	poster := idptest.RawPDF(idptest.RawPage{Text: account}, idptest.RawPage{W: 30 * 72, H: 30 * 72, Text: account})
	// Half of a file whose objects come in page order: the second half's pages are lost,
	// and its page tree and cross-reference table with them.
	var statement []idptest.RawPage
	for range 8 {
		statement = append(statement, idptest.RawPage{Text: account})
	}
	whole := idptest.RawPDF(statement...)
	truncated := whole[:len(whole)/2+bytes.Index(whole[len(whole)/2:], []byte("endobj\n"))+7]
	posterID := e.Submit(t, "poster.pdf", poster, store.PriorityNormal)
	truncID := e.Submit(t, "truncated.pdf", truncated, store.PriorityNormal)
	e.Start(t)
	docs := e.Wait(t, 2*time.Minute, posterID, truncID)

	d := docs[posterID]
	if d.Status != store.StatusCompleted || len(d.FailedPages) != 0 {
		t.Fatalf("poster: %s %q, failed pages %v", d.Status, d.Error, d.FailedPages)
	}
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "page 1 (30.0 x 30.0 in) at 258 dpi") {
		t.Errorf("poster warnings: %q", d.Warnings)
	}
	pd, err := e.Proc.PageData(context.Background(), posterID, 1)
	if err != nil || digitsOf(pd.Data[stage.FieldAccountNumber]) != "440122310097" {
		t.Errorf("the 30-inch page: %v %v", pd.Data, err)
	}

	d = docs[truncID]
	if d.Status != store.StatusCompleted {
		t.Fatalf("truncated: %s %s", d.Status, d.Error)
	}
	res, err := e.Proc.Result(context.Background(), truncID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.Proc.Status(context.Background(), truncID)
	if err != nil {
		t.Fatal(err)
	}
	for where, w := range map[string][]string{"document": d.Warnings, "result": res.Warnings, "status": st.Warnings} {
		if len(w) == 0 || w[0] != pipeline.WarnRepaired {
			t.Errorf("truncated file, %s warnings: %q", where, w)
		}
	}
	if !strings.Contains(e.Logs.String(), "trying to repair broken xref") {
		t.Error("MuPDF's warning about the damage is not in the log")
	}
}

// TestPassword: an encrypted PDF without its password fails with a clear reason; given the
// password (in memory only: it is in no record, file or log), a reprocess completes it. A PDF
// with only an owner password opens without one.
func TestPassword(t *testing.T) {
	const secret = "s3cret-Pa55word"
	e := idptest.NewEnv(t, "", pipeline.Config{}, nil)
	locked := idptest.TextPDF(t, 0, secret, "owner-"+secret, account)
	ownerOnly := idptest.TextPDF(t, 0, "", "owner-"+secret, append(account, "(owner only)"))
	lockedID := e.Submit(t, "locked.pdf", locked, store.PriorityNormal)
	ownerID := e.Submit(t, "owner.pdf", ownerOnly, store.PriorityNormal)
	sub, err := e.Proc.Submit(context.Background(), "wrong.pdf", bytes.NewReader(append(bytes.Clone(locked), '\n')),
		pipeline.SubmitOptions{Password: "not-it"})
	if err != nil {
		t.Fatal(err)
	}
	wrongID := sub.Document.ID
	e.Start(t)
	docs := e.Wait(t, time.Minute, lockedID, ownerID, wrongID)
	if d := docs[lockedID]; d.Status != store.StatusFailed || d.Error != "encrypted: a password is needed" || d.Attempts != 1 {
		t.Errorf("without a password: %s %q after %d attempts", d.Status, d.Error, d.Attempts)
	}
	if d := docs[wrongID]; d.Status != store.StatusFailed || d.Error != "encrypted: the password is wrong" {
		t.Errorf("with a wrong password: %s %q", d.Status, d.Error)
	}
	if d := docs[ownerID]; d.Status != store.StatusCompleted {
		t.Errorf("owner password only: %s %q", d.Status, d.Error)
	}

	e.Proc.SetPassword(lockedID, secret)
	if err := e.Proc.Reprocess(context.Background(), lockedID, ""); err != nil {
		t.Fatal(err)
	}
	if d := e.Wait(t, time.Minute, lockedID)[lockedID]; d.Status != store.StatusCompleted {
		t.Fatalf("with its password: %s %q", d.Status, d.Error)
	}
	pd, err := e.Proc.PageData(context.Background(), lockedID, 0)
	if err != nil || digitsOf(pd.Data[stage.FieldAccountNumber]) != "440122310097" {
		t.Errorf("the opened document: %v %v", pd.Data, err)
	}
	if _, err := e.Proc.PageImage(context.Background(), lockedID, 0, 50); err != nil {
		t.Errorf("page image of the opened document: %v", err)
	}
	e.Close()
	var found []string
	err = filepath.Walk(e.Dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if bytes.Contains(b, []byte(secret)) {
			found = append(found, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Logs.String(), secret) {
		found = append(found, "the log")
	}
	if len(found) > 0 {
		t.Errorf("the password is stored in %v", found)
	}
	if !errors.Is(stage.ErrPasswordWrong, stage.ErrEncrypted) {
		t.Error("a wrong password is not an encryption error")
	}
}

// TestWorkerKilledMidPage: a worker SIGKILLed in the middle of a page of a scanned document
// fails that page only; it is read again in another worker, the document completes, and no
// other page is read twice.
func TestWorkerKilledMidPage(t *testing.T) {
	var pool *worker.Pool
	e := idptest.NewEnv(t, "", pipeline.Config{PageWorkers: 1}, func(d *pipeline.Deps) {
		pool = idptest.NewPool(t, worker.Config{Size: 2, Logger: d.Logger})
		d.Reader = pool
	})
	p := idptest.Generate(t, gen.Options{Seed: 44, Accounts: 2, Scanned: true, ScanDPI: 150})
	id := e.Submit(t, "scan.pdf", p.PDF, store.PriorityNormal)
	cpu := map[int]int64{}
	for _, pr := range idptest.Tree(os.Getpid()) {
		cpu[pr.PID] = pr.CPU
	}
	e.Start(t)
	// Wait until a page is being OCR'd (a worker has used a tenth of a second of CPU since),
	// with at least one page done before it, and kill that worker.
	victim := 0
	deadline := time.Now().Add(2 * time.Minute)
	for victim == 0 && time.Now().Before(deadline) {
		if strings.Count(e.Logs.String(), "OCR'd page") >= 1 {
			for _, pr := range idptest.Tree(os.Getpid()) {
				if slices.Contains(pool.Stats().PIDs, pr.PID) && pr.CPU > cpu[pr.PID]+10 {
					victim = pr.PID
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if victim == 0 {
		t.Fatal("no worker got busy on a page")
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d := e.Wait(t, 3*time.Minute, id)[id]
	if d.Status != store.StatusCompleted || len(d.FailedPages) != 0 {
		t.Fatalf("%s %q, failed pages %v", d.Status, d.Error, d.FailedPages)
	}
	if s := pool.Stats(); s.Died != 1 || s.Quarantined != 0 {
		t.Errorf("workers: %+v; want the one killed", s)
	}
	for page := range p.Truth.TotalPages {
		if n := strings.Count(e.Logs.String(), fmt.Sprintf("OCR'd page %d for %s", page, id)); n != 1 {
			t.Errorf("page %d was read %d times", page, n)
		}
	}
}
