package cmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/store/redisq/redistest"
	"github.com/idp/idp/testdata/gen"
)

// BenchmarkManyNodes measures documents per second through real `idp serve` nodes on one
// redis-server and one versitygw bucket, every node limited to one page worker so that the
// comparison is fair on a machine of few cores: one node without Redis (the anchor: the
// single-node default with the same bucket), one node with Redis, three nodes with Redis.
// Two workloads: scanned packets (stage 1 reads every page with Tesseract: CPU-bound) and
// born-digital ones (text layers: the coordination is most of the cost). It also reports
// what Redis costs per page: commands, bytes in and out, and Redis's own CPU time, from
// INFO. It asserts nothing. Run with `make bench`, or:
//
//	go test -run '^$' -bench ManyNodes -benchtime 1x ./cmd/
func BenchmarkManyNodes(b *testing.B) {
	e := newClusterEnv(b)
	workloads := []struct {
		name  string
		docs  int
		opts  func(i int) gen.Options
		extra []string
	}{
		{"scanned", 6, func(i int) gen.Options {
			return gen.Options{Seed: uint64(800 + i), Accounts: 2, Scanned: true, ScanDPI: 150}
		}, []string{"--ocr-dpi", "150"}},
		{"born-digital", 30, func(i int) gen.Options { return gen.Options{Seed: uint64(900 + i)} }, nil},
	}
	runs := []struct {
		name  string
		nodes int
		redis bool
	}{{"1 node, no Redis", 1, false}, {"1 node", 1, true}, {"3 nodes", 3, true}}
	for i := range b.N {
		for _, w := range workloads {
			var pdfs [][]byte
			pages := 0
			for j := range w.docs {
				p, err := gen.Generate(w.opts(j))
				if err != nil {
					b.Fatal(err)
				}
				pdfs = append(pdfs, p.PDF)
				pages += p.Truth.TotalPages
			}
			var anchor float64
			for _, r := range runs {
				prefix := fmt.Sprintf("bench-%d-%s-%d-%v", i, w.name, r.nodes, r.redis)
				args := append(e.args(prefix, 30*time.Second), w.extra...)
				if !r.redis {
					args = withoutRedis(args)
				}
				var nodes []*clusterNode
				for k := range r.nodes {
					nodes = append(nodes, startNode(b, fmt.Sprintf("%s-n%d", prefix, k), args...))
				}
				before := redisInfo(b, e.redis)
				start := time.Now()
				var ids []string
				for j, pdf := range pdfs {
					id, status, msg, err := upload(nodes[j%len(nodes)].url, fmt.Sprintf("%s-%d.pdf", prefix, j), pdf)
					if err != nil || id == "" {
						b.Fatalf("upload: %d %s %v", status, msg, err)
					}
					ids = append(ids, id)
				}
				waitAll(b, nodes, ids, 30*time.Minute)
				elapsed := time.Since(start)
				after := redisInfo(b, e.redis)
				for _, n := range nodes {
					n.stop()
				}
				docsPerSec := float64(len(ids)) / elapsed.Seconds()
				if anchor == 0 {
					anchor = docsPerSec
				}
				line := fmt.Sprintf("%-13s %-17s %3d docs %4d pages in %6.1fs: %6.3f docs/s, %6.2f pages/s, %.2fx the anchor",
					w.name, r.name, len(ids), pages, elapsed.Seconds(), docsPerSec, float64(pages)/elapsed.Seconds(), docsPerSec/anchor)
				if r.redis {
					per := func(k string) float64 { return (after[k] - before[k]) / float64(pages) }
					line += fmt.Sprintf("; Redis per page: %.1f commands, %.1f KB in, %.1f KB out, %.0f µs of its CPU",
						per("calls"), per("total_net_input_bytes")/1024, per("total_net_output_bytes")/1024,
						per("used_cpu")*1e6)
					b.ReportMetric(per("calls"), strings.ReplaceAll(w.name+"/"+r.name, " ", "_")+"_redis_cmds/page")
				}
				b.Log(line)
				b.ReportMetric(docsPerSec, strings.ReplaceAll(w.name+"/"+r.name, " ", "_")+"_docs/s")
			}
		}
	}
}

// withoutRedis drops --redis-url and --redis-prefix (and their values) from args.
func withoutRedis(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--redis-url" || args[i] == "--redis-prefix" || args[i] == "--lease-ttl" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// redisInfo reads the counters of INFO that the benchmark reports: commands run (all
// kinds), bytes in and out, and CPU seconds (user and system, main thread and children).
func redisInfo(b testing.TB, r *redistest.Server) map[string]float64 {
	b.Helper()
	raw, err := r.Do(context.Background(), "INFO", "all")
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(raw, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case k == "total_net_input_bytes" || k == "total_net_output_bytes":
			out[k], _ = strconv.ParseFloat(v, 64)
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			out["used_cpu"] += f
		case strings.HasPrefix(k, "cmdstat_"):
			// cmdstat_xadd:calls=12,usec=34,...
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			f, _ := strconv.ParseFloat(calls, 64)
			out["calls"] += f
		}
	}
	return out
}
