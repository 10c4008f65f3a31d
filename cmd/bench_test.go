package cmd

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// BenchmarkPeakRSS runs the real binary on a 100-page scanned packet and reports the peak
// resident memory of the process (and its pages per second). Run with `make bench`.
func BenchmarkPeakRSS(b *testing.B) {
	p, err := gen.Generate(gen.Options{Seed: 103, Accounts: 5, MinPages: 100, Scanned: true})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "packet.pdf")
	if err := os.WriteFile(file, p.PDF, 0o644); err != nil {
		b.Fatal(err)
	}
	bin := idpBinary(b)
	b.ResetTimer()
	for i := range b.N {
		data := filepath.Join(dir, "data", string(rune('a'+i)))
		cmd := exec.Command(bin, "process", "--data-dir", data, "--log-level", "warn", "--progress", "never", file)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%v\n%s", err, out[max(0, len(out)-2000):])
		}
		elapsed := time.Since(start)
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak_rss_MB")
		b.ReportMetric(float64(p.Truth.TotalPages)/elapsed.Seconds(), "pages/s")
		b.Logf("%d scanned pages (%d MB PDF): peak RSS %d MB, %.2f pages/s",
			p.Truth.TotalPages, len(p.PDF)>>20, ru.Maxrss/1024, float64(p.Truth.TotalPages)/elapsed.Seconds())
	}
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
