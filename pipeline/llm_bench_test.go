package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/pipeline/llmtest"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// BenchmarkLLMExtraction measures stage 4 of a real processor against the llmtest server
// answering every request after a fixed 200 ms, at LLM concurrency 1, 4 and 16: pages per
// second of the stage, and requests per page (1 when nothing fails). Stages 1-3 are cached
// once; each iteration names another model, so only stage 4 runs. It prints, asserts
// nothing. Run with `make bench`, or alone:
//
//	go test -run '^$' -bench LLMExtraction -benchtime 1x ./pipeline/
func BenchmarkLLMExtraction(b *testing.B) {
	const latency = 200 * time.Millisecond
	p, err := gen.Generate(gen.Options{Seed: 1, Accounts: 2, MinPages: 32})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	srv := llmtest.NewServer(b)
	srv.SetLatency(latency)
	benchProcess(b, dir, p.PDF, pipeline.Config{}, nil) // stages 1-3, cached from here on
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("concurrency-%d", conc), func(b *testing.B) {
			var pages, requests int64
			var seconds float64
			for i := range b.N {
				srv.Reset()
				c := llmConfig(srv, nil)
				c.Model = fmt.Sprintf("bench-%d-%d", conc, i)
				c.Concurrency = conc
				counters := benchProcess(b, dir, p.PDF, pipeline.Config{ExtractWorkers: conc}, newLLM(b, c))
				if counters.Pages[pipeline.StageOCR]["done"] != 0 {
					b.Fatal("stage 1 ran again")
				}
				seconds += counters.StageSeconds[pipeline.StageExtraction]
				pages += counters.Pages[pipeline.StageExtraction]["done"]
				requests += int64(srv.RequestCount())
			}
			b.ReportMetric(float64(pages)/seconds, "pages/s")
			b.ReportMetric(float64(requests)/float64(pages), "requests/page")
			b.ReportMetric(0, "ns/op")
			b.Logf("stage 4, %d pages, %s per request, concurrency %d: %.2f pages/s, %.2f requests/page",
				pages/int64(b.N), latency, conc, float64(pages)/seconds, float64(requests)/float64(pages))
		})
	}
}

// benchProcess runs one document through a processor on dir (the rule extractor when ex is
// nil) and returns its counters.
func benchProcess(b *testing.B, dir string, pdf []byte, cfg pipeline.Config, ex pipeline.Extractor) pipeline.CountersSnapshot {
	b.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	workers := cfg.PageWorkers
	if workers == 0 {
		workers = pipeline.DefaultConfig().PageWorkers
	}
	ocr, err := pipeline.NewTesseract("eng", workers+2)
	if err != nil {
		b.Fatal(err)
	}
	defer ocr.Close()
	proc, err := pipeline.New(cfg, pipeline.Deps{DB: db, Files: store.NewDirBlob(dir), Renderer: pipeline.FitzRenderer{}, OCR: ocr,
		Extractor: ex, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	sub, err := proc.Submit(ctx, "p.pdf", bytesReader(pdf), pipeline.SubmitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := proc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer proc.Stop()
	for {
		st, err := proc.Status(ctx, sub.Document.ID)
		if err != nil {
			b.Fatal(err)
		}
		if st.Status == string(store.StatusCompleted) {
			proc.Stop()
			return proc.Counters()
		}
		if st.Status == string(store.StatusFailed) {
			b.Fatal(st.Error)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
