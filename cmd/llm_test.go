package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp/idp/pipeline/llmtest"
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
	if res.Status != "completed" || mustMarshal(t, res.Pages) != mustMarshal(t, rules.Pages) || mustMarshal(t, res.Accounts) != mustMarshal(t, rules.Accounts) {
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
