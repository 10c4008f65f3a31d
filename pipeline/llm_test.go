package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/llm"
	"github.com/idp/idp/llm/llmtest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// llmRun is one run of a real processor over dir until the document is done.
type llmRun struct {
	id       string
	doc      store.Document
	counters pipeline.CountersSnapshot
	result   stage.Result
	tokens   pipeline.TokenUsage
	pages    []pipeline.PageData
	status   llm.Status
}

func runLLMProcessor(t *testing.T, dir string, pdf []byte, cfg pipeline.Config, ex stage.Extractor) llmRun {
	t.Helper()
	e := idptest.NewEnv(t, dir, cfg, func(d *pipeline.Deps) {
		if ex != nil { // nil: the rules
			d.Extractor = ex
		}
	})
	var r llmRun
	r.id = e.Submit(t, "packet.pdf", pdf, store.PriorityNormal)
	e.Start(t)
	r.doc = e.Wait(t, 2*time.Minute, r.id)[r.id]
	e.Proc.Stop()
	ctx := context.Background()
	var err error
	if r.result, err = e.Proc.Result(ctx, r.id); err != nil {
		t.Fatal(err)
	}
	if r.tokens, err = e.Proc.DocumentTokens(ctx, r.id); err != nil {
		t.Fatal(err)
	}
	for i := range r.doc.Pages {
		pd, err := e.Proc.PageData(ctx, r.id, i)
		if err != nil && r.doc.Status == store.StatusCompleted {
			t.Fatalf("page %d: %v", i, err)
		}
		r.pages = append(r.pages, pd)
	}
	r.counters = e.Proc.Counters()
	if x, ok := ex.(*llm.Extractor); ok {
		r.status = x.Status()
	}
	e.Close()
	return r
}

func pagesData(res stage.Result) string {
	var b strings.Builder
	for _, p := range res.Pages {
		b.WriteString(mustJSON(p.Data) + "\n")
	}
	return b.String()
}

// TestLLMProcessorModelChange runs a generated packet through a real processor: with the
// rules, then with the LLM extractor (only stage 4 runs, and the answers equal the rules'),
// again with the same model (no call at all), then with another model (stage 4 only).
// Token totals add up per page, per document, for the processor and at the server.
func TestLLMProcessorModelChange(t *testing.T) {
	dir := t.TempDir()
	p := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2})
	n := p.Truth.TotalPages
	srv := llmtest.NewServer(t)
	cfg := pipeline.Config{ExtractWorkers: 4}
	model := func(name string) stage.Extractor {
		c := srv.Config(nil)
		c.Model = name
		return llmtest.NewExtractor(t, c)
	}

	rules := runLLMProcessor(t, dir, p.PDF, cfg, nil)
	if rules.doc.Status != store.StatusCompleted || rules.counters.Pages[stage.OCRExtraction]["done"] != int64(n) {
		t.Fatalf("rules run: %s %s, %v", rules.doc.Status, rules.doc.Error, rules.counters.Pages)
	}

	a := runLLMProcessor(t, dir, p.PDF, cfg, model("model-a"))
	if a.doc.Status != store.StatusCompleted {
		t.Fatalf("model-a: %s: %s", a.doc.Status, a.doc.Error)
	}
	if got := srv.RequestCount(); got != n {
		t.Errorf("model-a made %d requests for %d pages", got, n)
	}
	assertOnlyStage4(t, "model-a", a.counters, n)
	if got, want := pagesData(a.result), pagesData(rules.result); got != want {
		t.Errorf("the LLM's pages differ from the rules':\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(pagesData(a.result), stage.FieldAccountNumber) {
		t.Errorf("no account number read on any page:\n%s", pagesData(a.result))
	}
	for _, pd := range a.pages {
		if pd.Extractor != "llm:model-a" || pd.PromptTokens == 0 || pd.CompletionTokens == 0 {
			t.Errorf("page %d: extractor %q, tokens %d+%d", pd.Page, pd.Extractor, pd.PromptTokens, pd.CompletionTokens)
		}
	}
	prompt, completion, answered := srv.Usage()
	if answered != n || a.tokens.Pages != n || a.tokens.PromptTokens != int64(prompt) || a.tokens.CompletionTokens != int64(completion) {
		t.Errorf("document tokens %+v; the server answered %d, counted %d+%d", a.tokens, answered, prompt, completion)
	}
	if a.counters.PromptTokens != int64(prompt) || a.counters.CompletionTokens != int64(completion) {
		t.Errorf("processor tokens %d+%d, server %d+%d", a.counters.PromptTokens, a.counters.CompletionTokens, prompt, completion)
	}
	if a.status.Requests != int64(n) || a.status.PromptTokens != int64(prompt) {
		t.Errorf("LLM status %+v", a.status)
	}

	again := runLLMProcessor(t, dir, p.PDF, cfg, model("model-a"))
	if got := srv.RequestCount(); got != n || len(again.counters.Pages) != 0 {
		t.Errorf("cached pages were asked again: %d requests, pages %v", got-n, again.counters.Pages)
	}
	if again.tokens != a.tokens {
		t.Errorf("document tokens changed without a call: %+v, was %+v", again.tokens, a.tokens)
	}

	srv.Reset()
	b := runLLMProcessor(t, dir, p.PDF, cfg, model("model-b"))
	if b.doc.Status != store.StatusCompleted {
		t.Fatalf("model-b: %s: %s", b.doc.Status, b.doc.Error)
	}
	if got := srv.RequestCount(); got != n {
		t.Errorf("model-b made %d requests for %d pages", got, n)
	}
	assertOnlyStage4(t, "model-b", b.counters, n)
	for _, r := range srv.Requests() {
		if r.Model != "model-b" {
			t.Errorf("request for %q", r.Model)
		}
	}
	if _, _, answered := srv.Usage(); b.tokens.Pages != n || answered != n {
		t.Errorf("model-b tokens %+v", b.tokens)
	}
}

func assertOnlyStage4(t *testing.T, name string, c pipeline.CountersSnapshot, n int) {
	t.Helper()
	if got := c.Pages[stage.OCRExtraction]["done"]; got != 0 {
		t.Errorf("%s re-read %d pages; stage 1 must stay cached", name, got)
	}
	if c.StageRuns[stage.AccountSplitting] != 0 || c.StageRuns[stage.PageAnalysis] != 0 {
		t.Errorf("%s re-ran stages 2-3: %v", name, c.StageRuns)
	}
	if got := c.Pages[stage.LLMExtraction]["done"]; got != int64(n) {
		t.Errorf("%s extracted %d pages, want %d", name, got, n)
	}
}

// TestLLMProcessorInvalidNotCached: a page whose answer stays invalid after its repair
// fails the try and is not cached; the next try asks for it (and only for it and the
// pages not done yet) again.
func TestLLMProcessorInvalidNotCached(t *testing.T) {
	dir := t.TempDir()
	p := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2})
	n := p.Truth.TotalPages
	srv := llmtest.NewServer(t)
	var mu sync.Mutex
	var order []string
	calls := map[string]int{}
	srv.SetScript(func(r llmtest.Request) llmtest.Fault {
		mu.Lock()
		defer mu.Unlock()
		text := r.Text()
		if calls[text] == 0 {
			order = append(order, text)
		}
		calls[text]++
		if len(order) >= 3 && text == order[2] && calls[text] <= 2 {
			return llmtest.Content(`{"Account_Number": "` + "\x00" + `"`) // not JSON, twice
		}
		return llmtest.Fault{}
	})
	// One page at a time, and a long wait before the next try, to look between tries.
	cfg := pipeline.Config{PageWorkers: 1, ExtractWorkers: 1, RetryBase: time.Hour}
	e := idptest.NewEnv(t, dir, cfg, func(d *pipeline.Deps) { d.Extractor = llmtest.NewExtractor(t, srv.Config(nil)) })
	id := e.Submit(t, "packet.pdf", p.PDF, store.PriorityNormal)
	e.Start(t)
	ctx := context.Background()
	var doc store.Document
	deadline := time.Now().Add(time.Minute)
	for {
		err := e.DB.View(ctx, func(tx *store.Tx) error {
			var err error
			doc, err = tx.Document(id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(doc.Errors) > 0 || doc.Status == store.StatusCompleted || doc.Status == store.StatusFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first try did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if doc.Status != store.StatusQueued || len(doc.Errors) != 1 || !strings.Contains(doc.Errors[0].Error, "does not match the schema") {
		t.Fatalf("after the first try: %s, errors %+v", doc.Status, doc.Errors)
	}
	for i := range n {
		_, err := e.Proc.PageData(ctx, id, i)
		if cached := err == nil; cached != (i < 2) {
			t.Errorf("page %d: cached = %v (%v), want %v", i, cached, err, i < 2)
		}
	}
	if err := e.Proc.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	doc = e.Wait(t, time.Minute, id)[id]
	if doc.Status != store.StatusCompleted {
		t.Fatalf("second try: %s: %s", doc.Status, doc.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := srv.RequestCount(); got != n+2 {
		t.Errorf("%d requests for %d pages; want one each and two more for the invalid page", got, n)
	}
	for i, text := range order {
		want := 1
		if i == 2 {
			want = 3
		}
		if calls[text] != want {
			t.Errorf("page %d asked %d times, want %d", i, calls[text], want)
		}
	}
	pd, err := e.Proc.PageData(ctx, id, 2)
	if err != nil || mustJSON(pd.Data) != mustJSON(rules.Extract(order[2])) {
		t.Errorf("page 2 = %v (%v)", pd.Data, err)
	}
}

// TestLLMProcessorConcurrency: stage 4 runs more pages at once than there are page workers,
// and the model never gets more calls at once than its limit.
func TestLLMProcessorConcurrency(t *testing.T) {
	p := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2})
	srv := llmtest.NewServer(t)
	srv.SetLatency(40 * time.Millisecond)
	c := srv.Config(nil)
	c.Concurrency = 3
	r := runLLMProcessor(t, "", p.PDF, pipeline.Config{PageWorkers: 2, ExtractWorkers: 16}, llmtest.NewExtractor(t, c))
	if r.doc.Status != store.StatusCompleted {
		t.Fatalf("%s: %s", r.doc.Status, r.doc.Error)
	}
	if peak := srv.PeakConcurrency(); peak != 3 {
		t.Errorf("peak concurrency %d, want the limit 3 (more than the 2 page workers)", peak)
	}
}

// TestLLMProcessorFailures: a 4xx fails the document at once with the reason; with the
// rules as fallback every page gets the built-in extractor's answer, marked.
func TestLLMProcessorFailures(t *testing.T) {
	p := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2})
	srv := llmtest.NewServer(t)
	srv.SetAPIKey("the-right-key")
	c := srv.Config(nil)
	c.APIKey = "a-wrong-key"
	cfg := pipeline.Config{ExtractWorkers: 2}

	r := runLLMProcessor(t, "", p.PDF, cfg, llmtest.NewExtractor(t, c))
	if r.doc.Status != store.StatusFailed || r.doc.Attempts != 1 || !strings.Contains(r.doc.Error, "HTTP 401 (invalid_api_key)") {
		t.Errorf("%s after %d tries: %s", r.doc.Status, r.doc.Attempts, r.doc.Error)
	}
	if got := srv.RequestCount(); got > 2 {
		t.Errorf("%d requests after a 401; want at most one per running page", got)
	}

	c.Fallback = llm.FallbackRules
	dir := t.TempDir()
	fb := runLLMProcessor(t, dir, p.PDF, cfg, llmtest.NewExtractor(t, c))
	rules := runLLMProcessor(t, dir, p.PDF, cfg, nil)
	if fb.doc.Status != store.StatusCompleted {
		t.Fatalf("fallback: %s: %s", fb.doc.Status, fb.doc.Error)
	}
	if got, want := pagesData(fb.result), pagesData(rules.result); got != want {
		t.Errorf("fallback pages differ from the rules':\n%s\nwant\n%s", got, want)
	}
	for _, pd := range fb.pages {
		if pd.Extractor != "rules (fallback)" || len(pd.Flags) == 0 || !strings.Contains(pd.Flags[len(pd.Flags)-1], "built-in extractor answered") {
			t.Errorf("page %d: extractor %q, flags %q", pd.Page, pd.Extractor, pd.Flags)
		}
	}
	if fb.status.Fallbacks != int64(len(fb.pages)) {
		t.Errorf("status fallbacks %d, pages %d", fb.status.Fallbacks, len(fb.pages))
	}
}

func TestLLMProcessorDocumentTokensUnknown(t *testing.T) {
	e := idptest.NewEnv(t, "", pipeline.Config{}, nil)
	if _, err := e.Proc.DocumentTokens(context.Background(), "0123456789abcdef01234567"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
