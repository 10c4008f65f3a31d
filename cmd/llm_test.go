package cmd

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/idp/idp/httpapi"
	"github.com/idp/idp/llm"
	"github.com/idp/idp/llm/llmtest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

func TestLLMFlagErrors(t *testing.T) {
	dir := t.TempDir()
	badSchema := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badSchema, []byte(`{"fields":[{"name":"Amount","type":"int","description":"x"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"schema without a model", []string{"--schema", badSchema}, []string{"--schema needs an LLM"}},
		{"split and fallback without a model", []string{"--llm-split", "--llm-fallback", "rules"}, []string{"--llm-split needs an LLM", "--llm-fallback rules needs an LLM"}},
		{"bad schema file", []string{"--llm-model", "m", "--schema", badSchema}, []string{"bad.json", `type "int": want string, string[] or number`}},
		{"missing schema file", []string{"--llm-model", "m", "--schema", filepath.Join(dir, "none.json")}, []string{"none.json", "no such file"}},
		{"bad limits", []string{"--llm-model", "m", "--llm-concurrency", "0", "--llm-timeout", "0s", "--llm-max-retries", "-1"},
			[]string{"--llm-concurrency must be at least 1", "--llm-timeout must be positive", "--llm-max-retries must be 0 or more"}},
		{"bad format and fallback", []string{"--llm-model", "m", "--llm-response-format", "xml", "--llm-fallback", "human"},
			[]string{`response format "xml"`, `fallback "human"`}},
		{"endpoint without a model", []string{"--llm-base-url", "http://localhost:11434/v1"}, []string{"an LLM model is required"}},
		{"azure without an endpoint", []string{"--llm-azure-deployment", "d"}, []string{"--llm-azure-deployment needs --llm-base-url"}},
		{"bad URL", []string{"--llm-model", "m", "--llm-base-url", "localhost:8080"}, []string{`base URL "localhost:8080"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := run(t, append([]string{"process", "--log-level", "error"}, append(c.args, "any.pdf")...)...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestProcessWithLLM: `idp process` against an OpenAI-compatible endpoint configured from
// flags and the environment gives the same results as the built-in extractor (the fake
// model reads pages as the rules do), one request per page, with the key from
// OPENAI_API_KEY; a custom schema file and --llm-split work end to end.
func TestProcessWithLLM(t *testing.T) {
	dir := t.TempDir()
	good, truth := writePacket(t, dir, 1)
	srv := llmtest.NewServer(t)
	srv.SetAPIKey("sk-from-env")

	rulesOut, _, err := run(t, "process", "--log-level", "warn", good)
	if err != nil {
		t.Fatal(err)
	}
	rules := decodeResults(t, rulesOut)[0]

	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("IDP_LLM_MODEL", "gpt-test")
	out, _, err := run(t, "process", "--log-level", "warn", "--llm-base-url", srv.BaseURL, "--llm-split", good)
	if err != nil {
		t.Fatal(err)
	}
	res := decodeResults(t, out)[0]
	// The values are the rules'; the evidence is not: the model's values are grounded.
	for _, p := range res.Pages {
		for field, v := range p.Data {
			evs := p.Evidence[field]
			if len(evs) != len(stage.Values(v)) {
				t.Errorf("page %d %s: %d values, evidence %+v", p.Page, field, len(stage.Values(v)), evs)
			}
			for _, e := range evs {
				if e.Source != stage.EvidenceGrounded || e.Confidence != 0.9 {
					t.Errorf("page %d %s: evidence %+v; want grounded, 0.9 (printed as it is)", p.Page, field, e)
				}
			}
		}
	}
	withoutEvidence := func(pages []stage.PageResult) string {
		out := slices.Clone(pages)
		for i := range out {
			out[i].Evidence = nil
		}
		return mustMarshal(t, out)
	}
	if res.Status != "completed" || withoutEvidence(res.Pages) != withoutEvidence(rules.Pages) || mustMarshal(t, res.Accounts) != mustMarshal(t, rules.Accounts) {
		t.Errorf("LLM result differs from the rules':\n%s\n%s", mustMarshal(t, res), mustMarshal(t, rules))
	}
	pageRequests, splitRequests := 0, 0
	for _, r := range srv.Requests() {
		if r.Header.Get("Authorization") != "Bearer sk-from-env" || r.Model != "gpt-test" {
			t.Errorf("request %d: model %q, auth %q", r.N, r.Model, r.Header.Get("Authorization"))
		}
		if r.SchemaName == "document_accounts" {
			splitRequests++
		} else {
			pageRequests++
		}
	}
	if pageRequests != truth.TotalPages || splitRequests != 1 {
		t.Errorf("%d page requests for %d pages, %d split requests", pageRequests, truth.TotalPages, splitRequests)
	}

	schema := filepath.Join(dir, "schema.json")
	if err := os.WriteFile(schema, []byte(`{"name":"numbers","fields":[{"name":"Account_Number","type":"string","description":"the account number","max_length":40,"match":"digits"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "process", "--log-level", "warn", "--llm-base-url", srv.BaseURL, "--schema", schema, "--llm-response-format", "json_object", good)
	if err != nil {
		t.Fatal(err)
	}
	res = decodeResults(t, out)[0]
	for i, p := range res.Pages {
		want := rules.Pages[i].Data["Account_Number"]
		if len(p.Data) > 1 || p.Data["Account_Number"] != want {
			t.Errorf("page %d with the custom schema: %v, want only Account_Number %v", i, p.Data, want)
		}
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeStatusShowsLLM: the processor status endpoint and the metrics show the LLM's
// breaker, calls and tokens.
func TestServeStatusShowsLLM(t *testing.T) {
	dir := t.TempDir()
	file, truth := writePacket(t, dir, 3)
	srv := llmtest.NewServer(t)
	o := &processorOptions{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--data-dir", filepath.Join(dir, "data"), "--llm-base-url", srv.BaseURL, "--llm-model", "gpt-test"}); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := a.proc.Config().ExtractWorkers; got != 4 {
		t.Errorf("stage 4 page slots %d, want --llm-concurrency 4", got)
	}
	ctx := context.Background()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := a.proc.Submit(ctx, "packet.pdf", f, pipeline.SubmitOptions{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.proc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := a.proc.Status(ctx, sub.Document.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status == string(store.StatusCompleted) {
			break
		}
		if st.Status == string(store.StatusFailed) || time.Now().After(deadline) {
			t.Fatalf("document %s: %s", st.Status, st.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ready := &atomic.Bool{}
	ready.Store(true)
	api := httptest.NewServer(httpapi.NewHandler(httpapi.Deps{Processor: a.proc, DB: a.db, Ready: ready,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Extra: a.extraStatus}))
	defer api.Close()

	resp, err := http.Get(api.URL + "/api/background-processor/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status struct {
			Totals pipeline.CountersSnapshot `json:"totals"`
		} `json:"status"`
		LLM llm.Status `json:"llm"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	prompt, completion, _ := srv.Usage()
	if body.LLM.Breaker != llm.BreakerClosed || body.LLM.Requests != int64(truth.TotalPages) || body.LLM.Model != "gpt-test" {
		t.Errorf("llm status %+v", body.LLM)
	}
	if body.Status.Totals.PromptTokens != int64(prompt) || body.Status.Totals.CompletionTokens != int64(completion) || prompt == 0 {
		t.Errorf("totals %d+%d tokens, server %d+%d", body.Status.Totals.PromptTokens, body.Status.Totals.CompletionTokens, prompt, completion)
	}
	tokens, err := a.proc.DocumentTokens(ctx, sub.Document.ID)
	if err != nil || tokens.PromptTokens != int64(prompt) || tokens.Pages != truth.TotalPages {
		t.Errorf("document tokens %+v (%v)", tokens, err)
	}

	resp, err = http.Get(api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`idp_extra{name="llm_breaker_open"} 0`, `idp_extra{name="llm_prompt_tokens"} ` + strconv.Itoa(prompt)} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
