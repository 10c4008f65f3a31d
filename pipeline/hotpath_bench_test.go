package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idp/idp/eval"
	"github.com/idp/idp/idptest"
	"github.com/idp/idp/mupdf"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/tesseract"
	"github.com/idp/idp/testdata/gen"
)

// BenchmarkSmallDocuments measures how many one-page born-digital documents per second idp
// processes with the default configuration (5 workers, a page worker per CPU), from a queue
// that holds them all to the last one completed, and in the same iteration the anchor: the
// text of the same files extracted by `pdftotext -layout`, one process per file, two at a
// time. It prints both and their ratio; it asserts nothing. Run with `make bench`, or:
//
//	go test -run '^$' -bench SmallDocuments -benchtime 1x ./pipeline/
func BenchmarkSmallDocuments(b *testing.B) {
	tool := lookTool(b, "pdftotext")
	const n = 400
	dir := b.TempDir()
	var files []string
	var pdfs [][]byte
	for i := range n {
		p, err := gen.SignatureCard(uint64(5000 + i))
		if err != nil {
			b.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("card-%d.pdf", i))
		if err := os.WriteFile(f, p.PDF, 0o644); err != nil {
			b.Fatal(err)
		}
		files, pdfs = append(files, f), append(pdfs, p.PDF)
	}
	var idpTime, inProcTime, anchorTime time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		err := inParallel(len(files), 2, func(i int) error {
			if out, err := exec.Command(tool, "-layout", files[i], os.DevNull).CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %v: %s", files[i], err, out)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		anchorTime += time.Since(t0)
		idpTime += drainDocuments(b, pdfs, pipeline.Config{})
		inProcTime += drainInProcess(b, pdfs, pipeline.Config{})
	}
	idpRate := float64(n*b.N) / idpTime.Seconds()
	inProcRate := float64(n*b.N) / inProcTime.Seconds()
	anchorRate := float64(n*b.N) / anchorTime.Seconds()
	b.ReportMetric(idpRate, "idp_docs/s")
	b.ReportMetric(inProcRate, "in_process_docs/s")
	b.ReportMetric(anchorRate, "pdftotext_docs/s")
	b.ReportMetric(idpRate/anchorRate, "ratio")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d one-page documents, default configuration: idp %.1f documents/s (engines in process: %.1f, ratio %.2f); pdftotext -layout per file, 2 at a time: %.1f documents/s; ratio %.2f",
		n, idpRate, inProcRate, idpRate/inProcRate, anchorRate, idpRate/anchorRate)
}

// BenchmarkTextPacket measures idp's pages per second on one born-digital packet of at least
// 200 pages (from the start of the workers to the document completed, all four stages) and,
// in the same iteration, two anchors on the same file: `mutool draw -F stext` (MuPDF's own
// text extraction, the engine idp uses) and `pdftotext -layout`. It prints and asserts
// nothing. Run with `make bench`, or:
//
//	go test -run '^$' -bench TextPacket -benchtime 1x ./pipeline/
func BenchmarkTextPacket(b *testing.B) {
	mutool, pdftotext := lookTool(b, "mutool"), lookTool(b, "pdftotext")
	p, file := packetFile(b, gen.Options{Seed: 104, Accounts: 4, MinPages: 200})
	n := p.Truth.TotalPages
	var idpTime, inProcTime, mutoolTime, popplerTime time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if out, err := exec.Command(mutool, "draw", "-q", "-F", "stext", "-o", os.DevNull, file).CombinedOutput(); err != nil {
			b.Fatalf("mutool: %v: %s", err, out)
		}
		mutoolTime += time.Since(t0)
		t1 := time.Now()
		if out, err := exec.Command(pdftotext, "-layout", file, os.DevNull).CombinedOutput(); err != nil {
			b.Fatalf("pdftotext: %v: %s", err, out)
		}
		popplerTime += time.Since(t1)
		idpTime += drainDocuments(b, [][]byte{p.PDF}, pipeline.Config{})
		inProcTime += drainInProcess(b, [][]byte{p.PDF}, pipeline.Config{})
	}
	rate := func(d time.Duration) float64 { return float64(n*b.N) / d.Seconds() }
	b.Logf("%d-page born-digital packet, engines in process: %.0f pages/s; in worker processes %.2f of that", n, rate(inProcTime), rate(idpTime)/rate(inProcTime))
	b.ReportMetric(rate(inProcTime), "in_process_pages/s")
	b.ReportMetric(rate(idpTime), "idp_pages/s")
	b.ReportMetric(rate(mutoolTime), "mutool_stext_pages/s")
	b.ReportMetric(rate(popplerTime), "pdftotext_pages/s")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d-page born-digital packet: idp %.0f pages/s (%.2f s); mutool draw -F stext %.0f pages/s (%.2f s, ratio %.2f); pdftotext -layout %.0f pages/s (%.2f s, ratio %.2f)",
		n, rate(idpTime), idpTime.Seconds()/float64(b.N), rate(mutoolTime), mutoolTime.Seconds()/float64(b.N), rate(idpTime)/rate(mutoolTime),
		rate(popplerTime), popplerTime.Seconds()/float64(b.N), rate(idpTime)/rate(popplerTime))
}

// drainDocuments queues pdfs in a new data directory, starts the workers and returns the time
// from the start to the last document completed.
func drainDocuments(b *testing.B, pdfs [][]byte, cfg pipeline.Config) time.Duration {
	return drainDocumentsIn(b, "", pdfs, cfg, nil)
}

// drainDocumentsIn is drainDocuments in dir (a new directory when empty): documents already
// queued there stay queued. done, when not nil, is given the processor and the documents'
// ids once they are completed.
func drainDocumentsIn(b *testing.B, dir string, pdfs [][]byte, cfg pipeline.Config, done func(e *idptest.Env, ids []string)) time.Duration {
	return drainWith(b, dir, pdfs, cfg, done, nil)
}

// drainInProcess is drainDocuments with the engines in this process instead of the worker
// processes: the difference is what the pipes cost.
func drainInProcess(b *testing.B, pdfs [][]byte, cfg pipeline.Config) time.Duration {
	return drainWith(b, "", pdfs, cfg, nil, idptest.NewInProcess(runtime.NumCPU()+1, "eng"))
}

func drainWith(b *testing.B, dir string, pdfs [][]byte, cfg pipeline.Config, done func(e *idptest.Env, ids []string), reader stage.Reader) time.Duration {
	b.Helper()
	// Logged as idp serve logs by default (text, info): the cost of the log lines counts.
	e := idptest.NewEnv(b, dir, cfg, func(d *pipeline.Deps) {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
		if reader != nil {
			d.Reader = reader
		}
	})
	defer e.Close()
	ids := make([]string, len(pdfs))
	for i, pdf := range pdfs {
		ids[i] = e.Submit(b, fmt.Sprintf("doc-%d.pdf", i), pdf, store.PriorityNormal)
	}
	// Events, not polling: a poll that reads every document would take CPU from the workers.
	events, unsubscribe := e.Proc.Broker().Subscribe(len(pdfs)*64 + 1024)
	defer unsubscribe()
	start := time.Now()
	e.Start(b)
	left := map[string]bool{}
	for _, id := range ids {
		left[id] = true
	}
	timeout := time.After(time.Hour)
	for len(left) > 0 {
		select {
		case ev := <-events:
			switch ev.Type {
			case pipeline.EventCompleted:
				delete(left, ev.DocID)
			case pipeline.EventFailed:
				if left[ev.DocID] { // not a document of the backlog, which has no files
					b.Fatalf("%s failed: %s", ev.DocID, ev.Error)
				}
			}
		case <-timeout:
			b.Fatalf("%d documents not done after an hour", len(left))
		}
	}
	elapsed := time.Since(start)
	e.Proc.Stop()
	if done != nil {
		done(e, ids)
	}
	return elapsed
}

// packetFile generates a packet and writes it to a file of the benchmark's own directory.
func packetFile(b *testing.B, opts gen.Options) (*gen.Packet, string) {
	b.Helper()
	p, err := gen.Generate(opts)
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "packet.pdf")
	if err := os.WriteFile(file, p.PDF, 0o644); err != nil {
		b.Fatal(err)
	}
	return p, file
}

func lookTool(b *testing.B, name string) string {
	b.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		b.Fatalf("%s not found: run `make test-deps`", name)
	}
	return p
}

// inParallel runs fn for 0 to n-1, procs at a time, and returns the first error (the rest
// is then skipped).
func inParallel(n, procs int, fn func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, procs)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if failed.Load() {
					continue // drain: the first error is the answer
				}
				if err := fn(i); err != nil && !failed.Swap(true) {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

// BenchmarkBacklog measures what a backlog of 100,000 queued documents costs: the start of
// a processor over it (opening the file, putting back what was in flight, finding stale
// results) and the rate at which the first 400 one-page documents of the queue are
// processed with the backlog behind them; in the same iteration the anchors, the same on a
// queue of those 400 alone. It prints both and their ratios; it asserts nothing. Run with
// `make bench`, or:
//
//	go test -run '^$' -bench Backlog -benchtime 1x ./pipeline/
func BenchmarkBacklog(b *testing.B) {
	const n, backlog = 400, 100_000
	var pdfs [][]byte
	for i := range n {
		p, err := gen.SignatureCard(uint64(8000 + i))
		if err != nil {
			b.Fatal(err)
		}
		pdfs = append(pdfs, p.PDF)
	}
	run := func(behind int) (start, drain time.Duration) {
		dir := b.TempDir()
		e := idptest.NewEnv(b, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Logger = slog.New(slog.DiscardHandler) })
		for i, pdf := range pdfs {
			e.Submit(b, fmt.Sprintf("card-%d.pdf", i), pdf, store.PriorityNormal)
		}
		if behind > 0 {
			idptest.Backlog(b, e.DB, store.NewBoltQueue(e.DB), "backlog", behind, store.StatusQueued, store.PriorityLow, "")
		}
		e.Close()
		t0 := time.Now()
		e = idptest.NewEnv(b, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Logger = slog.New(slog.DiscardHandler) })
		if err := e.Proc.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		start = time.Since(t0)
		e.Proc.Stop()
		e.Close()
		return start, drainDocumentsIn(b, dir, pdfs, pipeline.Config{}, nil)
	}
	b.ResetTimer()
	for range b.N {
		aloneStart, aloneDrain := run(0)
		bigStart, bigDrain := run(backlog)
		b.Logf("start (open, recover, find stale) with %d more queued: %s; with none: %s",
			backlog, bigStart.Round(time.Millisecond), aloneStart.Round(time.Millisecond))
		b.Logf("%d one-page documents at the head of the queue: %.1f documents/s with %d queued behind them; %.1f alone; ratio %.2f",
			n, n/bigDrain.Seconds(), backlog, n/aloneDrain.Seconds(), aloneDrain.Seconds()/bigDrain.Seconds())
		b.ReportMetric(bigStart.Seconds()*1000, "start_100k_ms")
		b.ReportMetric(n/bigDrain.Seconds(), "docs/s_100k")
		b.ReportMetric(n/aloneDrain.Seconds(), "docs/s_alone")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkScanned measures idp's pages per second on scanned packets (image-only pages, 200
// dpi scans) and, in the same iteration, the limit that two cores put on rendering and
// OCR'ing them: the CPU time that MuPDF's rendering at 300 dpi and Tesseract's reading of
// every page take one after the other, halved. It also reads the packets with other OCR
// resolutions and prints each one's pages per second beside its field F1 against the
// packets' truth: a faster setting that loses F1 is not a default. The CPU time per page of
// each, beside that of rendering and OCR alone, is printed too: unlike the rates, it does not
// move when other work shares the machine. It asserts nothing. Run with `make bench`, or:
//
//	go test -run '^$' -bench Scanned -benchtime 1x ./pipeline/
func BenchmarkScanned(b *testing.B) {
	var packets []*gen.Packet
	var pdfs [][]byte
	pages := 0
	for i := range 2 {
		p, err := gen.Generate(gen.Options{Seed: uint64(9500 + i), Accounts: 2, MinPages: 6, Scanned: true})
		if err != nil {
			b.Fatal(err)
		}
		packets, pdfs, pages = append(packets, p), append(pdfs, p.PDF), pages+p.Truth.TotalPages
	}
	settings := []int{300, 200}
	b.ResetTimer()
	for range b.N {
		cpu := ocrCPU(b, pdfs, 300)
		limit := float64(pages) / (cpu.Seconds() / 2)
		b.Logf("%d scanned pages: the 2-core limit of rendering at 300 dpi and OCR (their CPU time, halved): %.2f pages/s", pages, limit)
		for _, dpi := range settings {
			var f1 float64
			cpu0 := processCPU()
			elapsed := drainDocumentsIn(b, "", pdfs, pipeline.Config{OCRDPI: dpi}, func(e *idptest.Env, ids []string) {
				scores := eval.NewScores()
				for i, id := range ids {
					res, err := e.Proc.Result(context.Background(), id)
					if err != nil {
						b.Fatal(err)
					}
					scores.Add(res, packets[i].Truth)
				}
				f1 = scores.Overall().F1()
			})
			idpCPU := processCPU() - cpu0
			rate := float64(pages) / elapsed.Seconds()
			b.Logf("idp, --ocr-dpi %d: %.2f pages/s, %.2f of the limit; field F1 %.3f; CPU %.2f s a page (render and OCR alone at 300 dpi: %.2f s)",
				dpi, rate, rate/limit, f1, idpCPU.Seconds()/float64(pages), cpu.Seconds()/float64(pages))
			b.ReportMetric(rate, fmt.Sprintf("dpi%d_pages/s", dpi))
			b.ReportMetric(f1, fmt.Sprintf("dpi%d_f1", dpi))
		}
		b.ReportMetric(limit, "limit_pages/s")
	}
	b.ReportMetric(0, "ns/op")
}

// ocrCPU renders every page of pdfs at dpi with MuPDF and reads it with Tesseract, one page
// after the other, and returns the CPU time that took (the process's, nothing else running).
func ocrCPU(b *testing.B, pdfs [][]byte, dpi int) time.Duration {
	b.Helper()
	ocr, err := tesseract.New("eng", 1)
	if err != nil {
		b.Fatal(err)
	}
	defer ocr.Close()
	dir := b.TempDir()
	start := processCPU()
	for i, data := range pdfs {
		file := filepath.Join(dir, fmt.Sprintf("%d.pdf", i))
		if err := os.WriteFile(file, data, 0o644); err != nil {
			b.Fatal(err)
		}
		pdf, err := mupdf.Renderer{}.Open(file, "")
		if err != nil {
			b.Fatal(err)
		}
		for n := range pdf.NumPages() {
			img, err := pdf.RenderGray(n, dpi)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ocr.Recognize(context.Background(), img, dpi); err != nil {
				b.Fatal(err)
			}
		}
		pdf.Close()
	}
	return processCPU() - start
}

// processCPU is the user and system time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRules measures the built-in rules alone on the text of BenchmarkTextPacket's
// packet, as the pipeline calls them: the account split (stage 2), the page mapping (stage
// 3) and the extraction of every page (stage 4). The text is read once, before the timer.
// Run with `make bench`, or:
//
//	go test -run '^$' -bench Rules -benchtime 20x ./pipeline/
func BenchmarkRules(b *testing.B) {
	_, file := packetFile(b, gen.Options{Seed: 104, Accounts: 4, MinPages: 200})
	pdf, err := mupdf.Renderer{}.Open(file, "")
	if err != nil {
		b.Fatal(err)
	}
	defer pdf.Close()
	ctx := context.Background()
	pages := make([]stage.PageText, pdf.NumPages())
	for i := range pages {
		if pages[i], err = stage.ReadPage(ctx, pdf, nil, stage.PageRequest{Page: i, DPI: 300}); err != nil {
			b.Fatal(err)
		}
		if pages[i].Source != stage.SourceTextLayer {
			b.Fatalf("page %d: read from %s, want its text layer", i, pages[i].Source)
		}
	}
	b.ResetTimer()
	for range b.N {
		splitter, extractor := rules.New() // as a new document: nothing read yet
		accounts, err := splitter.Split(ctx, pages)
		if err != nil {
			b.Fatal(err)
		}
		maps, err := splitter.MapPages(ctx, pages, accounts)
		if err != nil {
			b.Fatal(err)
		}
		for i, p := range pages {
			in := stage.ExtractInput{Page: p.Page, Text: p.Text, Source: p.Source, AccountNumber: maps[i].AccountNumber}
			if _, err := extractor.Extract(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(pages)*b.N)/b.Elapsed().Seconds(), "pages/s")
}
