package cmd

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// measure runs one command: how long it took and the peak resident memory of its whole
// process tree (it and its worker processes), sampled every 100 ms; and a line that says
// where that memory was.
func measure(b *testing.B, cmd *exec.Cmd) (time.Duration, int64, string) {
	b.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	rss := idptest.SampleRSS(cmd.Process.Pid, 100*time.Millisecond)
	err := cmd.Wait()
	elapsed := time.Since(start)
	peak, child, children := rss.Stop()
	if err != nil {
		b.Fatalf("%s: %v\n%s", cmd.Args, err, idptest.Tail(out.String(), 20))
	}
	where := fmt.Sprintf("the process %d MB", rss.Root()>>20)
	if children > 0 {
		where += fmt.Sprintf(", up to %d workers of at most %d MB each", children, child>>20)
	}
	return elapsed, peak, where
}

// variants are the ways one PDF is processed, side by side: this build with its worker
// processes, the same pipeline with the engines in one process (the test binary in
// idptest.InProcessEnv mode: what idp did before its workers, on the same code), and, when
// IDP_BENCH_BASELINE_BIN names one, another build's `idp process` (e.g. the commit before the
// workers).
func variants(b *testing.B, file, data string) map[string]*exec.Cmd {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	inProcess := exec.Command(exe)
	inProcess.Env = append(os.Environ(), idptest.InProcessEnv+"="+file)
	out := map[string]*exec.Cmd{
		"workers":    exec.Command(idpBinary(b), "process", "--data-dir", data+"-workers", "--log-level", "error", "--progress", "never", file),
		"in-process": inProcess,
	}
	if bin := os.Getenv("IDP_BENCH_BASELINE_BIN"); bin != "" {
		out["baseline"] = exec.Command(bin, "process", "--data-dir", data+"-baseline", "--log-level", "error", "--progress", "never", file)
	}
	return out
}

// BenchmarkWorkers measures what the worker processes cost and what they save: on scanned
// packets of 10, 100 and 500 pages (IDP_BENCH_PAGES=10,100 to choose), pages per second and
// the peak resident memory of the whole process tree, for each of the variants
// (IDP_BENCH_VARIANTS=workers,baseline to choose), in one run on one machine. It prints and
// asserts nothing. Run with `make bench`, or alone:
//
//	go test -run '^$' -bench Workers -benchtime 1x -timeout 60m ./cmd/
func BenchmarkWorkers(b *testing.B) {
	sizes := []int{10, 100, 500}
	if s := os.Getenv("IDP_BENCH_PAGES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("IDP_BENCH_PAGES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	names := []string{"workers", "in-process", "baseline"}
	if s := os.Getenv("IDP_BENCH_VARIANTS"); s != "" {
		names = strings.Split(s, ",")
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("%d-pages", n), func(b *testing.B) {
			p, err := gen.Generate(gen.Options{Seed: 103, Accounts: 5, MinPages: n, Scanned: true})
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			file := filepath.Join(dir, "packet.pdf")
			if err := os.WriteFile(file, p.PDF, 0o644); err != nil {
				b.Fatal(err)
			}
			pages := p.Truth.TotalPages
			p = nil
			b.ResetTimer()
			for i := range b.N {
				line := fmt.Sprintf("%d scanned pages:", pages)
				for _, name := range names {
					cmd, ok := variants(b, file, filepath.Join(dir, fmt.Sprint(i)))[name]
					if !ok {
						continue
					}
					elapsed, peak, where := measure(b, cmd)
					rate := float64(pages) / elapsed.Seconds()
					b.ReportMetric(rate, name+"_pages/s")
					b.ReportMetric(float64(peak>>20), name+"_peak_MB")
					line += fmt.Sprintf("\n  %s: %.2f pages/s, peak %d MB (%s)", name, rate, peak>>20, where)
				}
				b.Log(line)
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkBlankPages times a PDF of 1,000 blank pages (the goal: under 60 s on 2 cores),
// with the workers and, with IDP_BENCH_BASELINE_BIN, another build.
func BenchmarkBlankPages(b *testing.B) {
	file := filepath.Join(b.TempDir(), "blank.pdf")
	if err := os.WriteFile(file, idptest.RawPDF(make([]idptest.RawPage, 1000)...), 0o644); err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		for name, cmd := range variants(b, file, filepath.Join(b.TempDir(), fmt.Sprint(i))) {
			elapsed, peak, where := measure(b, cmd)
			b.ReportMetric(elapsed.Seconds(), name+"_seconds")
			b.Logf("1,000 blank pages, %s: %.1f s (%.0f pages/s), peak %d MB (%s)", name, elapsed.Seconds(), 1000/elapsed.Seconds(), peak>>20, where)
		}
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRestart starts the real binary (`idp serve`) on a data directory of 100,000
// queued documents, and on one of 100,000 completed documents of the running configuration,
// and times it from the start of the process to /readyz answering 200: the file opened,
// what was in flight put back, stale results looked for, the workers started. The anchor,
// in the same iteration, is the same start on an empty data directory. It prints the three
// and their ratios; it asserts nothing. Run with `make bench`, or:
//
//	go test -run '^$' -bench Restart -benchtime 1x ./cmd/
func BenchmarkRestart(b *testing.B) {
	const n = 100_000
	bin := idpBinary(b)
	seed := func(st store.Status) string {
		dir := b.TempDir()
		o := &processorOptions{}
		o.AddFlags(pflag.NewFlagSet("bench", pflag.ContinueOnError))
		o.dataDir = dir
		a, err := openApp(o, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		idptest.Backlog(b, a.db, store.NewBoltQueue(a.db), "restart", n, st, store.PriorityNormal, a.proc.Versions()[stage.LLMExtraction])
		if err := a.Close(); err != nil {
			b.Fatal(err)
		}
		return dir
	}
	empty, queued, completed := b.TempDir(), seed(store.StatusQueued), seed(store.StatusCompleted)
	b.ResetTimer()
	for range b.N {
		var got [3]time.Duration
		for i, dir := range []string{empty, queued, completed} {
			got[i] = timeToReady(b, bin, dir)
		}
		b.Logf("idp serve to ready: %d queued documents %s, %d completed %s; empty data directory %s; ratios %.2f and %.2f",
			n, got[1].Round(time.Millisecond), n, got[2].Round(time.Millisecond), got[0].Round(time.Millisecond),
			got[1].Seconds()/got[0].Seconds(), got[2].Seconds()/got[0].Seconds())
		b.ReportMetric(got[1].Seconds()*1000, "queued_100k_ms")
		b.ReportMetric(got[2].Seconds()*1000, "completed_100k_ms")
		b.ReportMetric(got[0].Seconds()*1000, "empty_ms")
	}
	b.ReportMetric(0, "ns/op")
}

// timeToReady starts `idp serve` on dir and returns the time until /readyz answers 200; then
// it stops the server (SIGTERM) and waits for it.
func timeToReady(b *testing.B, bin, dir string) time.Duration {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--addr", addr, "--log-level", "warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("not ready after a minute: %v\n%s", err, out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}
