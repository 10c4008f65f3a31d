package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCachedDataFromMemory: a cached page's answer comes back with an ETag, a request that
// names it gets 304, and the answer kept in memory is never served once the page's record
// changed: not after a reprocess (the page is processing again), not after a delete.
func TestCachedDataFromMemory(t *testing.T) {
	ts := newServer(t, serverOpts{start: true})
	p := packet(t, 12)
	_, body := ts.upload(t, "", "p.pdf", p.PDF)
	id := uploadedID(t, body)
	ts.waitCompleted(t, id)
	url := ts.URL + "/api/document/" + id + "/page/0/cached-data"
	get := func(etag string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}

	first, firstBody := get("")
	etag := first.Header.Get("ETag")
	if first.StatusCode != 200 || etag == "" || !strings.Contains(firstBody, `"cached":true`) {
		t.Fatalf("first answer: %d, ETag %q, %s", first.StatusCode, etag, firstBody)
	}
	again, againBody := get("")
	if again.Header.Get("ETag") != etag || againBody != firstBody {
		t.Errorf("the same page again: ETag %q, %s; want %q, %s", again.Header.Get("ETag"), againBody, etag, firstBody)
	}
	for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
		if res, b := get(inm); res.StatusCode != http.StatusNotModified || b != "" {
			t.Errorf("If-None-Match %s: %d %q, want 304 and no body", inm, res.StatusCode, b)
		}
	}
	if res, _ := get(`"other"`); res.StatusCode != 200 {
		t.Errorf("If-None-Match of another tag: %d, want 200", res.StatusCode)
	}

	// Reprocessed with the workers stopped: the page is not cached any more, and the answer
	// says so at once.
	ts.proc.Stop()
	if code, b := ts.do(t, http.MethodPost, "/api/document/"+id+"/reprocess?from_stage=llm_extraction", nil, ""); code != 200 {
		t.Fatalf("reprocess: %d %v", code, b)
	}
	res, b := get(etag)
	if res.StatusCode != 200 || !strings.Contains(b, `"cached":false`) || res.Header.Get("ETag") != "" {
		t.Errorf("after a reprocess: %d, ETag %q, %s; want the page not cached", res.StatusCode, res.Header.Get("ETag"), b)
	}
	if err := ts.proc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.waitCompleted(t, id)
	if res, b := get(""); res.StatusCode != 200 || !strings.Contains(b, `"cached":true`) {
		t.Errorf("after the reprocess completed: %d %s", res.StatusCode, b)
	}

	if code, _ := ts.do(t, http.MethodDelete, "/api/document/"+id, nil, ""); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if res, b := get(""); res.StatusCode != http.StatusNotFound {
		t.Errorf("after a delete: %d %s, want 404", res.StatusCode, b)
	}
}
