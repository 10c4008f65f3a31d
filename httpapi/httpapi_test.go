package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/httpapi"
	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

func TestMain(m *testing.M) { idptest.Main(m) }

// countingExtractor is the rule extractor that counts its calls, optionally slowly.
type countingExtractor struct {
	calls atomic.Int64
	delay atomic.Int64 // nanoseconds
}

func (c *countingExtractor) Extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	c.calls.Add(1)
	time.Sleep(time.Duration(c.delay.Load()))
	return rules.Extractor{}.Extract(ctx, in)
}
func (c *countingExtractor) Version() string { return "counting/1" }
func (c *countingExtractor) Name() string    { return "counting" }

type testServer struct {
	*httptest.Server
	proc  *pipeline.Processor
	db    *store.DB
	ready *atomic.Bool
	token string
	ex    *countingExtractor
}

type serverOpts struct {
	token    string
	maxBytes int64
	start    bool
	// wrap, when set, wraps the handler (a test that watches the requests).
	wrap func(http.Handler) http.Handler
}

func newServer(t testing.TB, o serverOpts) *testServer {
	t.Helper()
	ex := &countingExtractor{}
	logger := slog.New(slog.DiscardHandler)
	e := idptest.NewEnv(t, "", pipeline.Config{PageWorkers: 2, MaxFileBytes: o.maxBytes}, func(d *pipeline.Deps) {
		d.Extractor, d.Logger = ex, logger
	})
	proc, db := e.Proc, e.DB
	ready := &atomic.Bool{}
	ready.Store(true)
	h := httpapi.NewHandler(httpapi.Deps{Processor: proc, DB: db, Token: o.token, Ready: ready, Version: "test", Logger: logger})
	if o.wrap != nil {
		h = o.wrap(h)
	}
	srv := httptest.NewServer(h)
	ts := &testServer{Server: srv, proc: proc, db: db, ready: ready, token: o.token, ex: ex}
	if o.start {
		if err := proc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(srv.Close) // before the processor stops (cleanups run last first)
	return ts
}

// do sends a request with the server's token and decodes a JSON answer.
func (ts *testServer) do(t testing.TB, method, path string, body io.Reader, contentType string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode, out
}

func (ts *testServer) get(t testing.TB, path string) (int, map[string]any) {
	return ts.do(t, http.MethodGet, path, nil, "")
}

// upload posts files as multipart; names and contents alternate.
func (ts *testServer) upload(t testing.TB, query string, files ...any) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		fw, err := mw.CreateFormFile("file", files[i].(string))
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(files[i+1].([]byte))
	}
	mw.Close()
	return ts.do(t, http.MethodPost, "/api/documents"+query, &buf, mw.FormDataContentType())
}

func packet(t testing.TB, seed uint64) *gen.Packet {
	t.Helper()
	p, err := gen.Generate(gen.Options{Seed: seed, Accounts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (ts *testServer) waitCompleted(t testing.TB, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		_, body := ts.get(t, "/api/document/"+id+"/background-status")
		st, _ := body["status"].(map[string]any)
		if st["status"] == "completed" {
			return
		}
		if st["status"] == "failed" {
			t.Fatalf("%s failed: %v", id, st["error"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not complete", id)
}

func uploadedID(t testing.TB, body map[string]any) string {
	t.Helper()
	docs, _ := body["documents"].([]any)
	if len(docs) == 0 {
		t.Fatalf("no document in %v", body)
	}
	return docs[0].(map[string]any)["doc_id"].(string)
}

// typeOf names a JSON value's type as the contract describes it.
func typeOf(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "?"
}

func checkShape(t *testing.T, what string, got map[string]any, want map[string]string) {
	t.Helper()
	for k, typ := range want {
		if v, ok := got[k]; !ok || typeOf(v) != typ {
			t.Errorf("%s: %q is %s (%v), want %s", what, k, typeOf(got[k]), got[k], typ)
		}
	}
}

// TestContract pins every field name and type of the product description's examples.
func TestContract(t *testing.T) {
	ts := newServer(t, serverOpts{})
	p := packet(t, 1)
	code, body := ts.upload(t, "", "packet.pdf", p.PDF)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, body)
	}
	id := uploadedID(t, body)

	// Before processing: the page answers "processing".
	code, body = ts.get(t, "/api/document/"+id+"/page/1/cached-data")
	if code != 200 {
		t.Fatalf("cached-data: %d %v", code, body)
	}
	checkShape(t, "cached-data while processing", body, map[string]string{
		"success": "bool", "cached": "bool", "processing": "bool", "stage": "string",
		"progress": "number", "pages_processed": "number", "total_pages": "number"})
	if body["cached"] != false || body["processing"] != true || body["stage"] != "ocr_extraction" {
		t.Errorf("cached-data while processing = %v", body)
	}

	if err := ts.proc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.waitCompleted(t, id)

	code, body = ts.get(t, "/api/document/"+id+"/background-status")
	if code != 200 || body["success"] != true {
		t.Fatalf("background-status: %d %v", code, body)
	}
	st := body["status"].(map[string]any)
	checkShape(t, "background-status", st, map[string]string{
		"stage": "string", "progress": "number", "pages_processed": "number", "total_pages": "number",
		"accounts": "array", "stages": "object"})
	if st["stage"] != "completed" || st["progress"] != 100.0 || st["total_pages"] != float64(p.Truth.TotalPages) {
		t.Errorf("background-status = %v", st)
	}
	stages := st["stages"].(map[string]any)
	for _, name := range stage.All {
		s, ok := stages[name].(map[string]any)
		if !ok {
			t.Errorf("stages lacks %s", name)
			continue
		}
		checkShape(t, "stage "+name, s, map[string]string{"status": "string", "progress": "number"})
		if s["status"] != "completed" || s["progress"] != 100.0 {
			t.Errorf("stage %s = %v", name, s)
		}
	}
	acct := st["accounts"].([]any)[0].(map[string]any)
	checkShape(t, "account", acct, map[string]string{"index": "number", "account_number": "string", "holders": "array", "pages": "array"})

	page := p.Truth.Accounts[0].Pages[0]
	code, body = ts.get(t, fmt.Sprintf("/api/document/%s/page/%d/cached-data", id, page))
	if code != 200 {
		t.Fatalf("cached-data: %d %v", code, body)
	}
	checkShape(t, "cached-data", body, map[string]string{
		"success": "bool", "cached": "bool", "data": "object", "account_number": "string", "extraction_time": "number"})
	if body["cached"] != true || body["account_number"] != p.Truth.Accounts[0].AccountNumber {
		t.Errorf("cached-data = %v", body)
	}
	data := body["data"].(map[string]any)
	if data["Account_Number"] != p.Truth.Accounts[0].AccountNumber {
		t.Errorf("data = %v", data)
	}
	// Beside data (whose shape is the contract's), the evidence of every value.
	evidence, _ := body["evidence"].(map[string]any)
	for field := range data {
		evs, _ := evidence[field].([]any)
		if len(evs) == 0 {
			t.Errorf("no evidence for %s: %v", field, body["evidence"])
			continue
		}
		checkShape(t, "evidence of "+field, evs[0].(map[string]any), map[string]string{"value": "string", "confidence": "number", "source": "string", "detail": "string"})
	}
	if et := body["extraction_time"].(float64); et < float64(time.Now().Add(-time.Hour).Unix()) || et > float64(time.Now().Unix()+1) {
		t.Errorf("extraction_time %v is not a recent unix time", et)
	}

	code, body = ts.get(t, "/api/background-processor/status")
	if code != 200 {
		t.Fatalf("processor status: %d", code)
	}
	pst := body["status"].(map[string]any)
	checkShape(t, "processor status", pst, map[string]string{
		"running": "bool", "workers": "number", "busy_workers": "number", "queue": "object",
		"active_documents": "array", "totals": "object", "uptime_seconds": "number", "documents": "object"})
	checkShape(t, "queue", pst["queue"].(map[string]any), map[string]string{"length": "number", "by_priority": "object"})

	code, body = ts.get(t, fmt.Sprintf("/api/document/%s/account/1/page/0/data", id))
	if code != 200 || body["page"] != float64(p.Truth.Accounts[1].Pages[0]) || body["page_in_account"] != 0.0 ||
		body["account_number"] != p.Truth.Accounts[1].AccountNumber {
		t.Errorf("account page: %d %v", code, body)
	}
}

// TestErrors checks every error code: 400, 401, 404, 413, 503, with the contract's shape.
func TestErrors(t *testing.T) {
	ts := newServer(t, serverOpts{token: "s3cret", maxBytes: 1 << 20, start: true})
	p := packet(t, 2)
	_, body := ts.upload(t, "", "p.pdf", p.PDF)
	id := uploadedID(t, body)
	ts.waitCompleted(t, id)

	noAuth := func(path, header string) int {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, h := range []string{"", "Bearer wrong", "Basic czNjcmV0", "Bearer s3cret2"} {
		if code := noAuth("/api/documents", h); code != http.StatusUnauthorized {
			t.Errorf("auth %q: %d, want 401", h, code)
		}
	}
	for _, open := range []string{"/healthz", "/readyz", "/metrics", "/", "/api/openapi.json"} {
		if code := noAuth(open, ""); code != http.StatusOK {
			t.Errorf("%s without a token: %d, want 200", open, code)
		}
	}

	big := append([]byte("%PDF-1.4\n"), make([]byte, 2<<20)...)
	tests := []struct {
		name   string
		method string
		path   string
		body   func() (io.Reader, string)
		want   int
	}{
		{"traversal in an id", "GET", "/api/document/..%2F..%2Fetc%2Fpasswd/result", nil, 400},
		{"id of another format", "GET", "/api/document/ABC/background-status", nil, 400},
		{"unknown document", "GET", "/api/document/000000000000000000000000/background-status", nil, 404},
		{"page out of range", "GET", "/api/document/" + id + "/page/999/cached-data", nil, 404},
		{"page not a number", "GET", "/api/document/" + id + "/page/x/extract", nil, 400},
		{"negative page", "GET", "/api/document/" + id + "/page/-1/extract", nil, 400},
		{"unknown account", "GET", "/api/document/" + id + "/account/9/page/0/data", nil, 404},
		{"image of a missing page", "GET", "/api/document/" + id + "/page/999/image", nil, 404},
		{"unknown endpoint", "GET", "/api/nothing", nil, 404},
		{"bad stage", "POST", "/api/document/" + id + "/reprocess?from_stage=everything", nil, 400},
		{"bad list filter", "GET", "/api/documents?status=lost", nil, 400},
		{"not multipart", "POST", "/api/documents", func() (io.Reader, string) { return strings.NewReader("{}"), "application/json" }, 400},
		{"not a PDF", "POST", "/api/documents", func() (io.Reader, string) { return multipartOf("x.pdf", []byte("GIF89a")) }, 400},
		{"too large", "POST", "/api/documents", func() (io.Reader, string) { return multipartOf("big.pdf", big) }, 413},
		{"bad priority", "POST", "/api/documents?priority=7", func() (io.Reader, string) { return multipartOf("p.pdf", p.PDF) }, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			ct := ""
			if tt.body != nil {
				body, ct = tt.body()
			}
			code, out := ts.do(t, tt.method, tt.path, body, ct)
			if code != tt.want {
				t.Errorf("%s %s: %d %v, want %d", tt.method, tt.path, code, out, tt.want)
			}
			if out["success"] != false || typeOf(out["error"]) != "string" || out["error"] == "" {
				t.Errorf("error body = %v", out)
			}
		})
	}

	ts.ready.Store(false)
	if code, out := ts.get(t, "/api/documents"); code != http.StatusServiceUnavailable || out["success"] != false {
		t.Errorf("not ready: %d %v", code, out)
	}
	if code, _ := ts.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz not ready: %d", code)
	}
	if code, _ := ts.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz not ready: %d", code)
	}
}

func multipartOf(name string, data []byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// TestDocumentsEndpoints covers upload (many files, duplicates, priorities), listing,
// metadata, result, image, force, reprocess, restart and delete.
func TestDocumentsEndpoints(t *testing.T) {
	ts := newServer(t, serverOpts{})
	a, b := packet(t, 3), packet(t, 4)
	code, body := ts.upload(t, "?priority=2", "a.pdf", a.PDF, "b.pdf", b.PDF, "notes.txt", []byte("hello"))
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, body)
	}
	docs := body["documents"].([]any)
	rejected := body["rejected"].([]any)
	if len(docs) != 2 || len(rejected) != 1 || rejected[0].(map[string]any)["code"] != 400.0 {
		t.Fatalf("upload = %v", body)
	}
	idA := docs[0].(map[string]any)["doc_id"].(string)
	idB := docs[1].(map[string]any)["doc_id"].(string)
	if docs[0].(map[string]any)["priority"] != 2.0 {
		t.Errorf("priority not taken: %v", docs[0])
	}
	// The same bytes again are the same document.
	_, body = ts.upload(t, "", "a-copy.pdf", a.PDF)
	if d := body["documents"].([]any)[0].(map[string]any); d["doc_id"] != idA || d["existing"] != true {
		t.Errorf("duplicate upload = %v", d)
	}
	// Without a priority, a loan document gets 0.
	loan := packet(t, 5)
	_, body = ts.upload(t, "", "mortgage-application.pdf", loan.PDF)
	if d := body["documents"].([]any)[0].(map[string]any); d["priority"] != 0.0 {
		t.Errorf("a loan document's priority = %v, want 0", d["priority"])
	}

	// Force B: at the front.
	code, body = ts.do(t, "POST", "/api/document/"+idB+"/force-background-processing", nil, "")
	if code != 200 || body["queue_position"] != 0.0 || body["status"] != "queued" {
		t.Errorf("force: %d %v", code, body)
	}

	code, body = ts.get(t, "/api/documents?status=queued&limit=2&offset=0")
	if code != 200 || body["total"] != 3.0 || len(body["documents"].([]any)) != 2 {
		t.Errorf("list: %d total %v, %d documents", code, body["total"], len(body["documents"].([]any)))
	}

	if err := ts.proc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.waitCompleted(t, idA)
	ts.waitCompleted(t, idB)

	code, body = ts.get(t, "/api/document/"+idA)
	if code != 200 || body["document"].(map[string]any)["file_name"] != "a.pdf" || len(body["accounts"].([]any)) != 2 {
		t.Errorf("document: %d %v", code, body)
	}
	code, body = ts.get(t, "/api/document/"+idA+"/result")
	if code != 200 || body["doc_id"] != idA || len(body["pages"].([]any)) != a.Truth.TotalPages {
		t.Errorf("result: %d %v", code, body)
	}

	res, err := http.Get(ts.URL + "/api/document/" + idA + "/page/0/image?dpi=50")
	if err != nil {
		t.Fatal(err)
	}
	png, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("image: %d %s %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(png))
	}

	code, body = ts.do(t, "POST", "/api/document/"+idA+"/reprocess?from_stage=llm_extraction", nil, "")
	if code != 200 {
		t.Errorf("reprocess: %d %v", code, body)
	}
	ts.waitCompleted(t, idA)

	code, body = ts.do(t, "POST", "/api/background-processor/restart", nil, "")
	if code != 200 || !ts.proc.Running() {
		t.Errorf("restart: %d %v, running %v", code, body, ts.proc.Running())
	}

	code, _ = ts.do(t, "DELETE", "/api/document/"+idB, nil, "")
	if code != 200 {
		t.Errorf("delete: %d", code)
	}
	if code, _ := ts.get(t, "/api/document/"+idB); code != 404 {
		t.Errorf("deleted document: %d, want 404", code)
	}

	code, body = ts.get(t, "/api/openapi.json")
	if code != 200 {
		t.Fatalf("openapi: %d", code)
	}
	paths := body["paths"].(map[string]any)
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`api\("(GET|POST|DELETE) ([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		op, ok := paths[m[2]].(map[string]any)
		if !ok || op[strings.ToLower(m[1])] == nil {
			t.Errorf("openapi.json does not describe %s %s", m[1], m[2])
		}
	}

	res, err = http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`idp_queue_depth{priority="high"}`, `idp_pages_total{outcome="done",stage="ocr_extraction"}`,
		`idp_stage_duration_seconds_bucket{stage="ocr_extraction"`, "idp_cache_hits_total", "idp_documents_processed_total"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestExtractNowSharesOneComputation: a page opened before the background reaches it is
// read and extracted now; concurrent requests share one computation; the background then
// does not extract it again.
func TestExtractNowSharesOneComputation(t *testing.T) {
	ts := newServer(t, serverOpts{})
	p := packet(t, 6)
	_, body := ts.upload(t, "?priority=1", "p.pdf", p.PDF)
	id := uploadedID(t, body)
	page := p.Truth.Accounts[1].Pages[0]
	// Long enough for the concurrent requests to overlap, even under the race detector on a
	// loaded machine.
	ts.ex.delay.Store(int64(time.Second))

	var wg sync.WaitGroup
	answers := make([]map[string]any, 6)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, answers[i] = ts.get(t, fmt.Sprintf("/api/document/%s/page/%d/extract", id, page))
		}()
	}
	wg.Wait()
	if got := ts.ex.calls.Load(); got != 1 {
		t.Errorf("%d concurrent requests made %d extractions, want 1", len(answers), got)
	}
	for _, a := range answers {
		data, _ := a["data"].(map[string]any)
		if a["success"] != true || data["Account_Number"] != p.Truth.Accounts[1].AccountNumber || a["provisional"] != true {
			t.Errorf("extract = %v", a)
		}
	}
	// The document moved to the front of high priority.
	var d store.Document
	_ = ts.db.View(context.Background(), func(tx *store.Tx) error { d, _ = tx.Document(id); return nil })
	if d.Priority != store.PriorityHigh {
		t.Errorf("an opened document's priority = %d, want high", d.Priority)
	}

	ts.ex.delay.Store(0)
	if err := ts.proc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.waitCompleted(t, id)
	before := ts.ex.calls.Load()
	_, body = ts.get(t, fmt.Sprintf("/api/document/%s/page/%d/extract", id, page))
	if body["cached"] != true || ts.ex.calls.Load() != before {
		t.Errorf("after completion extract must come from the cache: %v", body)
	}
	c := ts.proc.Counters()
	if got := c.Pages[stage.OCRExtraction]["done"]; got != int64(p.Truth.TotalPages-1) {
		t.Errorf("the background read %d pages; the opened page was read already (%d pages)", got, p.Truth.TotalPages)
	}
}

// TestEvents streams one document's server-sent events until it completes.
func TestEvents(t *testing.T) {
	ts := newServer(t, serverOpts{token: "tok"})
	p := packet(t, 7)
	_, body := ts.upload(t, "", "p.pdf", p.PDF)
	id := uploadedID(t, body)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/api/document/"+id+"/events?access_token=tok", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if err := ts.proc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	stages := map[string]bool{}
	sc := bufio.NewScanner(res.Body)
	var kind string
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			kind = v
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event data %q: %v", data, err)
		}
		seen[kind]++
		if kind == "stage" {
			stages[ev["stage"].(string)] = true
		}
		if kind != "status" && ev["doc_id"] != id {
			t.Errorf("event of another document: %v", ev)
		}
		if kind == "completed" {
			break
		}
	}
	t.Logf("events seen: %v", seen)
	if seen["status"] != 1 || seen["started"] != 1 || seen["page"] < 2*p.Truth.TotalPages || seen["completed"] != 1 {
		t.Errorf("events seen: %v", seen)
	}
	for _, s := range stage.All {
		if !stages[s] {
			t.Errorf("no stage event for %s", s)
		}
	}
}
