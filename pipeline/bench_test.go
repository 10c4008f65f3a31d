package pipeline_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/pipeline"
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
			p, err := gen.Generate(c.opts)
			if err != nil {
				b.Fatal(err)
			}
			file := filepath.Join(b.TempDir(), "packet.pdf")
			if err := os.WriteFile(file, p.PDF, 0o644); err != nil {
				b.Fatal(err)
			}
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
	next := make(chan int)
	errs := make(chan error, procs)
	var wg sync.WaitGroup
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				img := filepath.Join(dir, fmt.Sprintf("p%d.pgm", n))
				draw := exec.Command("mutool", "draw", "-q", "-r", fmt.Sprint(dpi), "-c", "gray", "-o", img, file, fmt.Sprint(n+1))
				if out, err := draw.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("mutool: %v: %s", err, out)
					return
				}
				ocr := exec.Command("tesseract", img, "-")
				ocr.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
				if out, err := ocr.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("tesseract: %v: %s", err, out)
					return
				}
				os.Remove(img)
			}
		}()
	}
	for n := range pages {
		next <- n
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}
