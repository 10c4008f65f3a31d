package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/llm/llmtest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/store/s3"
	"github.com/idp/idp/store/s3/s3test"
	"github.com/idp/idp/testdata/gen"
)

// BenchmarkThroughput measures idp's pages per second on a born-digital and on a scanned
// packet and, in the same iteration on the same file, a baseline that renders every page
// with `mutool draw` and reads it with the `tesseract` command, two processes at a time (what
// a shell script on a 2-core machine would do). It prints both and their ratio; it asserts
// nothing. Run with `make bench`.
func BenchmarkThroughput(b *testing.B) {
	for _, tool := range []string{"mutool", "tesseract"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s not found: run `make test-deps`", tool)
		}
	}
	cases := []struct {
		name string
		opts gen.Options
	}{
		{"born-digital", gen.Options{Seed: 101, Accounts: 4, MinPages: 60}},
		{"scanned", gen.Options{Seed: 102, Accounts: 3, MinPages: 16, Scanned: true}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p, file := packetFile(b, c.opts)
			n := p.Truth.TotalPages
			var idpTime, baseTime time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := baseline(file, n, 2, 300); err != nil {
					b.Fatal(err)
				}
				baseTime += time.Since(t0)
				t1 := time.Now()
				benchProcess(b, b.TempDir(), p.PDF, pipeline.Config{}, nil)
				idpTime += time.Since(t1)
			}
			idpRate := float64(n*b.N) / idpTime.Seconds()
			baseRate := float64(n*b.N) / baseTime.Seconds()
			b.ReportMetric(idpRate, "idp_pages/s")
			b.ReportMetric(baseRate, "baseline_pages/s")
			b.ReportMetric(idpRate/baseRate, "speedup")
			b.Logf("%s, %d pages: idp %.2f pages/s, mutool+tesseract x2 %.2f pages/s, ratio %.2f",
				c.name, n, idpRate, baseRate, idpRate/baseRate)
		})
	}
}

// baseline renders and OCRs every page with the command-line tools, procs at a time.
func baseline(file string, pages, procs, dpi int) error {
	dir, err := os.MkdirTemp("", "idp-baseline-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return inParallel(pages, procs, func(n int) error {
		img := filepath.Join(dir, fmt.Sprintf("p%d.pgm", n))
		draw := exec.Command("mutool", "draw", "-q", "-r", fmt.Sprint(dpi), "-c", "gray", "-o", img, file, fmt.Sprint(n+1))
		if out, err := draw.CombinedOutput(); err != nil {
			return fmt.Errorf("mutool: %v: %s", err, out)
		}
		ocr := exec.Command("tesseract", img, "-")
		ocr.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
		if out, err := ocr.CombinedOutput(); err != nil {
			return fmt.Errorf("tesseract: %v: %s", err, out)
		}
		return os.Remove(img)
	})
}

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
				c := srv.Config(nil)
				c.Model = fmt.Sprintf("bench-%d-%d", conc, i)
				c.Concurrency = conc
				counters := benchProcess(b, dir, p.PDF, pipeline.Config{ExtractWorkers: conc}, llmtest.NewExtractor(b, c))
				if counters.Pages[stage.OCRExtraction]["done"] != 0 {
					b.Fatal("stage 1 ran again")
				}
				seconds += counters.StageSeconds[stage.LLMExtraction]
				pages += counters.Pages[stage.LLMExtraction]["done"]
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

// BenchmarkS3Tier measures what the S3 tier costs the pipeline: pages per second of one
// born-digital packet processed from scratch with S3 off and, in the same iteration, with S3
// on (write-through to versitygw on loopback, the uploader draining while pages are made),
// and their ratio; then the outbox drain rate: the records of a run made with the uploader
// stopped, sent at once. It prints and asserts nothing. Run with `make bench`.
func BenchmarkS3Tier(b *testing.B) {
	srv := s3test.Start(b)
	srv.SetEnv(b)
	p, err := gen.Generate(gen.Options{Seed: 101, Accounts: 4, MinPages: 60})
	if err != nil {
		b.Fatal(err)
	}
	pages := p.Truth.TotalPages
	var offTime, onTime, drainTime time.Duration
	var drained, drainedBytes int64
	b.ResetTimer()
	for i := range b.N {
		offTime += runS3Bench(b, srv, p.PDF, "", false, nil)
		onTime += runS3Bench(b, srv, p.PDF, "bench-on/"+string(rune('a'+i%26)), true, nil)
		var st store.UploaderStats
		drainTime += runS3Bench(b, srv, p.PDF, "bench-drain/"+string(rune('a'+i%26)), false, &st)
		drained += st.Uploaded
		drainedBytes += st.UploadedBytes
	}
	off := float64(pages*b.N) / offTime.Seconds()
	on := float64(pages*b.N) / onTime.Seconds()
	rate := float64(drained) / drainTime.Seconds()
	b.ReportMetric(off, "s3_off_pages/s")
	b.ReportMetric(on, "s3_on_pages/s")
	b.ReportMetric(on/off, "on/off")
	b.ReportMetric(rate, "drain_objects/s")
	b.Logf("%d pages: S3 off %.1f pages/s, S3 on %.1f pages/s (ratio %.2f); outbox drain %.0f objects/s (%.2f MB/s, %d objects)",
		pages, off, on, on/off, rate, float64(drainedBytes)/1e6/drainTime.Seconds(), drained/int64(b.N))
}

// runS3Bench processes pdf in a new data directory and returns how long it took. With a
// prefix the store writes through to srv: with live, the uploader runs during the run;
// otherwise the writes wait in the outbox and the returned time is that of draining them,
// whose stats go to drain.
func runS3Bench(b *testing.B, srv *s3test.Server, pdf []byte, prefix string, live bool, drain *store.UploaderStats) time.Duration {
	b.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	var out *store.Uploader
	e := idptest.NewEnv(b, "", pipeline.Config{}, func(d *pipeline.Deps) {
		d.Logger = quiet
		if prefix == "" {
			return
		}
		blob, err := s3.New(ctx, s3.Config{Bucket: srv.Bucket, Prefix: prefix, Endpoint: srv.Endpoint, PathStyle: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.DB.AttachRemote(blob, store.RemoteOptions{Files: d.Files, Logger: quiet}); err != nil {
			b.Fatal(err)
		}
		if out, err = store.NewUploader(d.DB, store.UploaderOptions{Logger: quiet}); err != nil {
			b.Fatal(err)
		}
	})
	if live {
		if err := out.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer out.Stop()
	}
	start := time.Now()
	processOne(b, e, pdf)
	elapsed := time.Since(start)
	e.Proc.Stop()
	if out == nil || live {
		return elapsed
	}
	t0 := time.Now()
	if err := out.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed = time.Since(t0)
	st, err := out.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if st.Pending != 0 {
		b.Fatalf("outbox not drained: %+v", st)
	}
	*drain = st
	return elapsed
}

// benchProcess runs one document through a processor on dir (the rule extractor when ex is
// nil) and returns its counters.
func benchProcess(b *testing.B, dir string, pdf []byte, cfg pipeline.Config, ex stage.Extractor) pipeline.CountersSnapshot {
	b.Helper()
	e := idptest.NewEnv(b, dir, cfg, func(d *pipeline.Deps) {
		d.Logger = slog.New(slog.DiscardHandler)
		if ex != nil {
			d.Extractor = ex
		}
	})
	defer e.Close()
	processOne(b, e, pdf)
	e.Proc.Stop()
	return e.Proc.Counters()
}

// processOne submits pdf, starts the workers and returns when the document is completed.
func processOne(b *testing.B, e *idptest.Env, pdf []byte) {
	b.Helper()
	id := e.Submit(b, "p.pdf", pdf, store.PriorityNormal)
	e.Start(b)
	if d := e.Wait(b, time.Hour, id)[id]; d.Status != store.StatusCompleted {
		b.Fatalf("%s: %s", d.Status, d.Error)
	}
}
