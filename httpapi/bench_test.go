package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCachedData loads GET .../page/{n}/cached-data of a cached page with wrk (2
// threads, 50 connections) and, in turn with it, nginx (Debian's nginx-light) serving the
// same bytes from a file: five rounds of two seconds each, idp then nginx, so that a change in
// what else runs on the machine falls on both. It prints each round and the medians of the
// requests per second, the p50 and p99 latencies and the ratio of the rounds; then the same
// for /healthz. It asserts nothing. Run with `make bench`, or:
//
//	go test -run '^$' -bench CachedData -benchtime 1x ./httpapi/
//
// IDP_BENCH_DURATION sets the length of each wrk run (default 2s).
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
	if res.StatusCode != http.StatusOK || !bytes.Contains(payload, []byte(`"cached":true`)) {
		b.Fatalf("cached-data: %d %s", res.StatusCode, payload)
	}
	res, err = http.Get(ts.URL + "/healthz")
	if err != nil {
		b.Fatal(err)
	}
	health, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ngx := startNginx(b, map[string][]byte{"cached-data.json": payload, "healthz.json": health})

	duration := "2s"
	if v := os.Getenv("IDP_BENCH_DURATION"); v != "" {
		duration = v
	}
	b.ResetTimer()
	for range b.N {
		api, file := wrkRounds(b, wrk, url, ngx+"/cached-data.json", duration)
		hAPI, hFile := wrkRounds(b, wrk, ts.URL+"/healthz", ngx+"/healthz.json", duration)
		b.ReportMetric(api.rps, "api_req/s")
		b.ReportMetric(file.rps, "nginx_req/s")
		b.ReportMetric(api.ratio, "ratio")
		b.ReportMetric(api.p50.Seconds()*1000, "api_p50_ms")
		b.ReportMetric(api.p99.Seconds()*1000, "api_p99_ms")
		b.ReportMetric(file.p50.Seconds()*1000, "nginx_p50_ms")
		b.ReportMetric(file.p99.Seconds()*1000, "nginx_p99_ms")
		b.ReportMetric(0, "ns/op")
		b.Logf("cached-data (%d bytes), 50 connections, medians of 5 rounds of %s: idp %.0f req/s p50 %s p99 %s; nginx, same bytes from a file: %.0f req/s p50 %s p99 %s; ratio %.2f",
			len(payload), duration, api.rps, api.p50, api.p99, file.rps, file.p50, file.p99, api.ratio)
		b.Logf("/healthz, the same way: idp %.0f req/s p50 %s p99 %s; nginx, same bytes: %.0f req/s p50 %s p99 %s; ratio %.2f",
			hAPI.rps, hAPI.p50, hAPI.p99, hFile.rps, hFile.p50, hFile.p99, hAPI.ratio)
	}
}

// wrkRounds loads urlA (idp) and then urlB (nginx) with wrk, five times in turn, and returns the medians of
// each (rps, p50, p99) and, in a's ratio, the median of the rounds' ratios a/b.
func wrkRounds(b *testing.B, wrk, urlA, urlB, duration string) (a, o wrkResult) {
	b.Helper()
	var as, bs []wrkResult
	var ratios []float64
	rounds := ""
	for range 5 {
		ra, rb := runWrk(b, wrk, urlA, duration), runWrk(b, wrk, urlB, duration)
		as, bs, ratios = append(as, ra), append(bs, rb), append(ratios, ra.rps/rb.rps)
		rounds += fmt.Sprintf(" %.0f/%.0f", ra.rps, rb.rps)
	}
	b.Logf("%s, req/s of idp/nginx in each round:%s", path.Base(urlA), rounds)
	a, o = medianWrk(as), medianWrk(bs)
	slices.Sort(ratios)
	a.ratio = ratios[len(ratios)/2]
	return a, o
}

func medianWrk(rs []wrkResult) wrkResult {
	pick := func(f func(wrkResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return wrkResult{
		rps: pick(func(r wrkResult) float64 { return r.rps }),
		p50: time.Duration(pick(func(r wrkResult) float64 { return float64(r.p50) })),
		p99: time.Duration(pick(func(r wrkResult) float64 { return float64(r.p99) })),
	}
}

// startNginx serves files (name -> bytes) with nginx on a free loopback port until the
// benchmark ends, and returns its URL. The configuration is Debian's defaults that matter
// here (a worker per CPU, sendfile), without the access log (idp keeps none either) and with
// keep-alive connections that last the run, as Go's server keeps them.
func startNginx(b *testing.B, files map[string][]byte) string {
	b.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		b.Fatal("nginx not found: run `make test-deps` (Debian's nginx-light)")
	}
	dir := b.TempDir()
	root := filepath.Join(dir, "www")
	if err := os.Mkdir(root, 0o755); err != nil {
		b.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // its workers read the files of this test's own directory
	}
	conf := fmt.Sprintf(`%s
worker_processes auto;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
daemon off;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	default_type application/json;
	client_body_temp_path %[2]s/tmp;
	server {
		listen %[3]s;
		root %[4]s;
	}
}
`, user, dir, addr, root)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful: the workers go with the master
		_ = cmd.Wait()
	})
	url := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := http.Get(url + "/healthz.json")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			b.Fatalf("nginx did not answer: %v\n%s\n%s", err, out.String(), log)
		}
	}
}

type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	ratio    float64 // of a round's rates, when it is a median of rounds (wrkRounds)
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
