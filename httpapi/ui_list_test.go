package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idp/idp/testdata/gen"
)

// requestLog counts the API requests a server gets, by kind.
type requestLog struct {
	mu    sync.Mutex
	kinds map[string]int
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := ""
		switch p := r.URL.Path; {
		case p == "/api/documents" && r.Method == http.MethodGet:
			kind = "list"
		case strings.HasSuffix(p, "/background-status"):
			kind = "background-status"
		case strings.HasPrefix(p, "/api/document/"):
			kind = "document"
		}
		if kind != "" {
			l.mu.Lock()
			l.kinds[kind]++
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) reset() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.kinds
	l.kinds = map[string]int{}
	return old
}

// cardsCompleted uploads n one-page documents (signature cards of seeds from seed on) and
// returns their ids once they are completed.
func (ts *testServer) cardsCompleted(t *testing.T, seed uint64, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		p, err := gen.SignatureCard(seed + uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		_, body := ts.upload(t, "", "card.pdf", p.PDF)
		ids = append(ids, uploadedID(t, body))
	}
	for _, id := range ids {
		ts.waitCompleted(t, id)
	}
	return ids
}

// TestWebUIListIsOneRequest loads the document list in real headless Chromium and checks that
// a refresh of a list of several documents is one request, whose answer draws every row's
// stage bars: no request per row.
func TestWebUIListIsOneRequest(t *testing.T) {
	bin := chromium(t)
	log := &requestLog{kinds: map[string]int{}}
	ts := newServer(t, serverOpts{start: true, wrap: log.wrap})
	const docs = 4
	ts.cardsCompleted(t, 700, docs)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("no-first-run", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	done := chromedp.CSS(`tr[data-doc] span[data-status="completed"]`)
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(done),
		chromedp.Sleep(500*time.Millisecond), // the first load's answers are in
	)
	if err != nil {
		t.Fatal(err)
	}
	log.reset()
	// A refresh, as an event schedules it, of a list emptied first so that its redrawing shows.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[any](`document.querySelector("#doc-rows").replaceChildren(); refresh()`))
	if err == nil {
		err = chromedp.Do(ctx, chromedp.WaitVisible(done), chromedp.Sleep(500*time.Millisecond))
	}
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("tr[data-doc] .bar.completed").length`))
	if err != nil {
		t.Fatal(err)
	}
	got := log.reset()
	if got["list"] != 1 || got["background-status"] != 0 || got["document"] != 0 {
		t.Errorf("one refresh of %d rows made these API requests: %v; want one list request and nothing per row", docs, got)
	}
	if want := docs * 4; bars != want {
		t.Errorf("%d completed stage bars drawn, want %d (4 per row, from the list's answer)", bars, want)
	}
}
