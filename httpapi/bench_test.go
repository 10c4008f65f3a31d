package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCachedData loads GET .../page/{n}/cached-data with wrk (50 connections, 2
// threads) and, in the same run, a static file server serving the same JSON, and prints
// requests per second and p50/p99 latency of both and their ratio. It asserts nothing. Run
// with `make bench`.
func BenchmarkCachedData(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Fatal("wrk not found: run `make test-deps`")
	}
	ts := newServer(b, serverOpts{start: true})
	p := packet(b, 9)
	_, body := ts.upload(b, "", "p.pdf", p.PDF)
	id := uploadedID(b, body)
	ts.waitCompleted(b, id)
	url := fmt.Sprintf("%s/api/document/%s/page/1/cached-data", ts.URL, id)
	res, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := io.ReadAll(res.Body)
	res.Body.Close()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cached-data.json"), payload, 0o644); err != nil {
		b.Fatal(err)
	}
	static := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer static.Close()

	duration := "10s"
	if v := os.Getenv("IDP_BENCH_DURATION"); v != "" {
		duration = v
	}
	b.ResetTimer()
	for range b.N {
		api := runWrk(b, wrk, url, duration)
		file := runWrk(b, wrk, static.URL+"/cached-data.json", duration)
		b.ReportMetric(api.rps, "api_req/s")
		b.ReportMetric(file.rps, "static_req/s")
		b.ReportMetric(api.rps/file.rps, "ratio")
		b.ReportMetric(api.p50.Seconds()*1000, "api_p50_ms")
		b.ReportMetric(api.p99.Seconds()*1000, "api_p99_ms")
		b.ReportMetric(file.p50.Seconds()*1000, "static_p50_ms")
		b.ReportMetric(file.p99.Seconds()*1000, "static_p99_ms")
		b.Logf("cached-data (%d bytes), 50 connections, %s each: API %.0f req/s p50 %s p99 %s; static file %.0f req/s p50 %s p99 %s; throughput ratio %.2f",
			len(payload), duration, api.rps, api.p50, api.p99, file.rps, file.p50, file.p99, api.rps/file.rps)
	}
}

type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
)

func runWrk(b *testing.B, wrk, url, duration string) wrkResult {
	b.Helper()
	out, err := exec.Command(wrk, "-t2", "-c50", "-d"+duration, "--latency", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	var r wrkResult
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		b.Fatalf("wrk output without Requests/sec:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, m := range wrkLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(v * float64(unit))
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return r
}
