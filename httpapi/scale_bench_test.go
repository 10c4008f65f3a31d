package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/store"
)

// BenchmarkStatusAtScale times the answers whose cost used to grow with the number of
// documents (the processor status, /metrics, a page of the listing, a listing filtered by
// status, a queued document's background-status with its place in the queue) on a
// database of 100,000 documents and, in the same run, on one of 1,000: the anchor, whose
// ratio to it says whether the work grows. It also times what the status did before, read
// every document, at 100,000. Each figure is the median of 50 calls of the handler. It
// prints, asserts nothing. Run with `make bench`, or:
//
//	go test -run '^$' -bench StatusAtScale -benchtime 1x ./httpapi/
func BenchmarkStatusAtScale(b *testing.B) {
	type scale struct {
		n      int
		ts     *testServer
		lastID string // the last document queued: its place is the longest walk
	}
	var scales []*scale
	for _, n := range []int{1_000, 100_000} {
		ts := newServer(b, serverOpts{})
		version := ts.proc.Versions()["llm_extraction"]
		q := store.NewBoltQueue(ts.db)
		// 60% completed, 39% queued, 1% failed: a backlog behind an archive.
		idptest.Backlog(b, ts.db, q, "done", n*60/100, store.StatusCompleted, store.PriorityNormal, version)
		idptest.Backlog(b, ts.db, q, "failed", n/100, store.StatusFailed, store.PriorityLow, "")
		queued := idptest.Backlog(b, ts.db, q, "queued", n*39/100, store.StatusQueued, store.PriorityNormal, "")
		scales = append(scales, &scale{n: n, ts: ts, lastID: queued[len(queued)-1]})
	}
	calls := []struct{ name, path string }{
		{"processor status", "/api/background-processor/status"},
		{"/metrics", "/metrics"},
		{"listing, 50 newest", "/api/documents?limit=50"},
		{"listing, 50 queued", "/api/documents?status=queued&limit=50"},
		{"background-status of the last queued", "/api/document/{last}/background-status"},
	}
	median := func(ts *testServer, path string) time.Duration {
		h := ts.Config.Handler
		var times []time.Duration
		for i := range 55 {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			rec := httptest.NewRecorder()
			t0 := time.Now()
			h.ServeHTTP(rec, req)
			if i >= 5 { // the first calls warm the caches
				times = append(times, time.Since(t0))
			}
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
			}
		}
		slices.Sort(times)
		return times[len(times)/2]
	}
	b.ResetTimer()
	for range b.N {
		for _, c := range calls {
			var got [2]time.Duration
			for i, s := range scales {
				path := c.path
				if path == "/api/document/{last}/background-status" {
					path = "/api/document/" + s.lastID + "/background-status"
				}
				got[i] = median(s.ts, path)
			}
			b.Logf("%-38s 100,000 documents: %7.3f ms; 1,000 documents: %7.3f ms; ratio %.2f",
				c.name, ms(got[1]), ms(got[0]), float64(got[1])/float64(got[0]))
		}
		big := scales[1].ts
		t0 := time.Now()
		err := big.db.View(context.Background(), func(tx *store.Tx) error {
			_, err := tx.Documents()
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%-38s 100,000 documents: %7.3f ms", "(before: reading every document)", ms(time.Since(t0)))
	}
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }
