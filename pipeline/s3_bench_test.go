package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
	"github.com/idp/idp/store/s3test"
	"github.com/idp/idp/testdata/gen"
)

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
		var st store.OutboxStats
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
func runS3Bench(b *testing.B, srv *s3test.Server, pdf []byte, prefix string, live bool, drain *store.OutboxStats) time.Duration {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	files := store.NewDirBlob(dir)
	var out *store.Outbox
	if prefix != "" {
		blob, err := store.NewS3Blob(ctx, store.S3Config{Bucket: srv.Bucket, Prefix: prefix, Endpoint: srv.Endpoint, PathStyle: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := db.AttachRemote(blob, store.RemoteOptions{Files: files, Logger: discardLogger()}); err != nil {
			b.Fatal(err)
		}
		if out, err = store.NewOutbox(db, store.OutboxOptions{Logger: discardLogger()}); err != nil {
			b.Fatal(err)
		}
	}
	cfg := pipeline.DefaultConfig()
	ocr, err := pipeline.NewTesseract(cfg.OCRLang, cfg.PageWorkers)
	if err != nil {
		b.Fatal(err)
	}
	defer ocr.Close()
	proc, err := pipeline.New(cfg, pipeline.Deps{DB: db, Files: files, Renderer: pipeline.FitzRenderer{}, OCR: ocr, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if live {
		if err := out.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer out.Stop()
	}
	start := time.Now()
	sub, err := proc.Submit(ctx, "p.pdf", bytesReader(pdf), pipeline.SubmitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := proc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for {
		st, err := proc.Status(ctx, sub.Document.ID)
		if err != nil {
			b.Fatal(err)
		}
		if st.Status == string(store.StatusCompleted) {
			break
		}
		if st.Status == string(store.StatusFailed) {
			b.Fatal(st.Error)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	proc.Stop()
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
