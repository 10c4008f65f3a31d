package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
