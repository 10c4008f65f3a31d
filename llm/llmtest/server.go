// Package llmtest is an in-process OpenAI-compatible chat completions server for tests and
// benchmarks, like net/http/httptest is for HTTP. It speaks the wire protocol as OpenAI
// does (request and response bodies, error bodies, rate-limit headers, Azure's deployment
// paths) and answers like a careful model: it reads the page text the extractor sends
// between its marker lines and returns what idp's rules read there. A script layers faults
// on top, request by request: 429s with Retry-After, 5xx, hangs, invalid or fenced JSON,
// extra fields, values that are not on the page.
//
// It imports llm (for its configuration and split prompt), rules and stage; only tests use it.
package llmtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/llm"
	"github.com/idp/idp/retry"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
)

// Request is one chat completion request as the server received it.
type Request struct {
	N              int // 1 for the first request
	Path           string
	Model          string
	Temperature    *float64
	ResponseFormat string // "", json_schema or json_object
	SchemaName     string
	Schema         json.RawMessage
	Messages       []Message
	Header         http.Header
	// Pages are the texts between the marker lines of the last user message that has
	// them, in order.
	Pages []Page
	// Repair is true when the conversation holds an earlier answer (a repair request).
	Repair bool
	At     time.Time
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Page is one page text sent between marker lines; Number is -1 when the markers do not
// say.
type Page struct {
	Number int
	Text   string
}

// Text is the text of the first page sent.
func (r Request) Text() string {
	if len(r.Pages) == 0 {
		return ""
	}
	return r.Pages[0].Text
}

// Fault changes the server's answer to one request. The zero Fault answers normally.
type Fault struct {
	// Status answers with this HTTP status and an OpenAI error body.
	Status  int
	ErrType string
	ErrCode string
	ErrMsg  string
	// Header is added to the response (Retry-After, x-ratelimit-*).
	Header map[string]string
	// Hang holds the request until the client gives up (or HangFor passes, then answers
	// normally).
	Hang    bool
	HangFor time.Duration
	// Body answers 200 with this raw body (not a completion).
	Body string
	// Content replaces the answer's message content.
	Content *string
	// Edit changes the answer's fields before they are written (extra fields, planted
	// values).
	Edit func(fields map[string]any, r Request)
	// Finish replaces finish_reason ("length", "content_filter").
	Finish string
}

// Script decides the fault of each request.
type Script func(r Request) Fault

// Sequence is a script that gives the faults in order, one per request, then none.
func Sequence(faults ...Fault) Script {
	var mu sync.Mutex
	i := 0
	return func(Request) Fault {
		mu.Lock()
		defer mu.Unlock()
		if i >= len(faults) {
			return Fault{}
		}
		i++
		return faults[i-1]
	}
}

// RateLimited is a 429 as OpenAI sends it; header sets Retry-After or x-ratelimit-*.
func RateLimited(header map[string]string) Fault {
	return Fault{Status: 429, ErrType: "requests", ErrCode: "rate_limit_exceeded",
		ErrMsg: "Rate limit reached for requests. Please try again later.", Header: header}
}

// ServerError is a 500 as OpenAI sends it.
func ServerError() Fault {
	return Fault{Status: 500, ErrType: "server_error", ErrMsg: "The server had an error while processing your request. Sorry about that!"}
}

// Content answers with this message content.
func Content(s string) Fault { return Fault{Content: &s} }

// Server is the fake endpoint. Its zero configuration answers every request at once.
type Server struct {
	srv *httptest.Server
	// BaseURL is the OpenAI-style API root: URL + "/v1".
	BaseURL string
	// URL is the server's root (Azure's resource endpoint).
	URL string

	mu               sync.Mutex
	latency          time.Duration
	apiKey           string
	noJSONSchema     bool
	noFormat         bool
	script           Script
	requests         []Request
	inFlight, peak   int
	promptTokens     int
	completionTokens int
	answered         int
}

// NewServer starts a server; it is closed when the test ends.
func NewServer(tb interface {
	Cleanup(func())
}) *Server {
	s := &Server{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL
	s.BaseURL = s.srv.URL + "/v1"
	tb.Cleanup(s.srv.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetLatency makes every answer take d.
func (s *Server) SetLatency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// SetAPIKey requires this key (as a bearer token or Azure's api-key header).
func (s *Server) SetAPIKey(k string) { s.mu.Lock(); s.apiKey = k; s.mu.Unlock() }

// RefuseJSONSchema answers 400 to a json_schema response format, as servers without
// structured output do; RefuseResponseFormat to any response format.
func (s *Server) RefuseJSONSchema()     { s.mu.Lock(); s.noJSONSchema = true; s.mu.Unlock() }
func (s *Server) RefuseResponseFormat() { s.mu.Lock(); s.noFormat = true; s.mu.Unlock() }

// SetScript layers faults on the answers; nil removes them.
func (s *Server) SetScript(f Script) { s.mu.Lock(); s.script = f; s.mu.Unlock() }

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount is the number of requests received.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// PeakConcurrency is the most requests the server held at once.
func (s *Server) PeakConcurrency() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Usage is the tokens of every completion answered with 200.
func (s *Server) Usage() (prompt, completion, answered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.promptTokens, s.completionTokens, s.answered
}

// Reset forgets the requests, the peak and the usage.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.peak, s.promptTokens, s.completionTokens, s.answered = nil, 0, 0, 0, 0
}

// wire is the request body as OpenAI reads it.
type wire struct {
	Model          string    `json:"model"`
	Messages       []Message `json:"messages"`
	Temperature    *float64  `json:"temperature"`
	Stream         bool      `json:"stream"`
	ResponseFormat *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict bool            `json:"strict"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

var azurePath = regexp.MustCompile(`^/openai/deployments/([^/]+)/chat/completions$`)

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	azure := azurePath.FindStringSubmatch(r.URL.Path)
	if r.URL.Path != "/v1/chat/completions" && azure == nil {
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown_url", "Unknown request URL: "+r.Method+" "+r.URL.Path+".", nil)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "Method not allowed.", nil)
		return
	}
	if azure != nil && r.URL.Query().Get("api-version") == "" {
		writeError(w, http.StatusNotFound, "404", "", "Resource not found", nil)
		return
	}
	s.mu.Lock()
	key, latency, noSchema, noFormat, script := s.apiKey, s.latency, s.noJSONSchema, s.noFormat, s.script
	s.mu.Unlock()
	if key != "" && r.Header.Get("Authorization") != "Bearer "+key && r.Header.Get("api-key") != key {
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.", nil)
		return
	}
	var body wire
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request. ("+err.Error()+")", nil)
		return
	}
	req := Request{Path: r.URL.Path, Model: body.Model, Temperature: body.Temperature, Messages: body.Messages, Header: r.Header.Clone(), At: time.Now()}
	if azure != nil {
		req.Model = azure[1]
	}
	if body.ResponseFormat != nil {
		req.ResponseFormat = body.ResponseFormat.Type
		if js := body.ResponseFormat.JSONSchema; js != nil {
			req.SchemaName, req.Schema = js.Name, js.Schema
		}
	}
	for i := len(body.Messages) - 1; i >= 0 && req.Pages == nil; i-- {
		if body.Messages[i].Role == "user" {
			req.Pages = parsePages(body.Messages[i].Content)
		}
	}
	for _, m := range body.Messages {
		if m.Role == "assistant" {
			req.Repair = true
		}
	}
	s.mu.Lock()
	req.N = len(s.requests) + 1
	s.requests = append(s.requests, req)
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	switch {
	case req.Model == "":
		writeError(w, 400, "invalid_request_error", "", "you must provide a model parameter", strp("model"))
		return
	case len(body.Messages) == 0:
		writeError(w, 400, "invalid_request_error", "", "[] is too short - 'messages'", strp("messages"))
		return
	case body.Stream:
		writeError(w, 400, "invalid_request_error", "", "this server does not stream", strp("stream"))
		return
	case noFormat && req.ResponseFormat != "":
		writeError(w, 400, "invalid_request_error", "", "Unrecognized request argument supplied: response_format", strp("response_format"))
		return
	case noSchema && req.ResponseFormat == "json_schema":
		writeError(w, 400, "invalid_request_error", "", "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.", strp("response_format"))
		return
	case req.ResponseFormat == "json_schema":
		if msg := checkStrictSchema(body.ResponseFormat.JSONSchema); msg != "" {
			writeError(w, 400, "invalid_request_error", "", msg, strp("response_format"))
			return
		}
	}

	var f Fault
	if script != nil {
		f = script(req)
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	setRateHeaders(w.Header())
	if f.Hang {
		var timeout <-chan time.Time
		if f.HangFor > 0 {
			timeout = time.After(f.HangFor)
		}
		select {
		case <-r.Context().Done():
			return
		case <-timeout:
		}
	}
	if latency > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(latency):
		}
	}
	if f.Status != 0 {
		writeError(w, f.Status, f.ErrType, f.ErrCode, f.ErrMsg, nil)
		return
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(f.Body))
		return
	}
	content := s.answer(req, f)
	if f.Content != nil {
		content = *f.Content
	}
	finish := "stop"
	if f.Finish != "" {
		finish = f.Finish
	}
	promptChars := 0
	for _, m := range body.Messages {
		promptChars += len(m.Content)
	}
	usage := map[string]int{"prompt_tokens": tokens(promptChars), "completion_tokens": tokens(len(content))}
	usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
	resp := map[string]any{
		"id": fmt.Sprintf("chatcmpl-llmtest%06d", req.N), "object": "chat.completion", "created": time.Now().Unix(),
		"model": req.Model, "system_fingerprint": "fp_llmtest",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content, "refusal": nil},
			"logprobs":      nil,
			"finish_reason": finish,
		}},
		"usage": usage,
	}
	b, err := json.Marshal(resp)
	if err != nil {
		writeError(w, 500, "server_error", "", err.Error(), nil)
		return
	}
	if r.Context().Err() != nil {
		return // the client gave up: nothing was delivered
	}
	s.mu.Lock()
	s.promptTokens += usage["prompt_tokens"]
	s.completionTokens += usage["completion_tokens"]
	s.answered++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("openai-processing-ms", strconv.Itoa(int(latency.Milliseconds())))
	_, _ = w.Write(b)
}

// tokens counts about four characters a token, as OpenAI's rule of thumb.
func tokens(chars int) int { return (chars + 3) / 4 }

func strp(s string) *string { return &s }

func writeError(w http.ResponseWriter, status int, typ, code, msg string, param *string) {
	var c any
	if code != "" {
		c = code
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": param, "code": c}})
}

func setRateHeaders(h http.Header) {
	for k, v := range map[string]string{
		"x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-requests": "9999", "x-ratelimit-reset-requests": "6ms",
		"x-ratelimit-limit-tokens": "2000000", "x-ratelimit-remaining-tokens": "1999000", "x-ratelimit-reset-tokens": "30ms",
	} {
		if h.Get(k) == "" {
			h.Set(k, v)
		}
	}
	h.Set("x-request-id", "req_llmtest")
}

// checkStrictSchema refuses a strict schema OpenAI would refuse: every object must list
// all its properties as required and allow no others.
func checkStrictSchema(js *struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict"`
}) string {
	if js == nil || len(js.Schema) == 0 {
		return "Missing required parameter: 'response_format.json_schema'."
	}
	if !js.Strict {
		return ""
	}
	var root any
	if err := json.Unmarshal(js.Schema, &root); err != nil {
		return "Invalid schema for response_format '" + js.Name + "': " + err.Error()
	}
	var check func(v any, at string) string
	check = func(v any, at string) string {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		if props, ok := m["properties"].(map[string]any); ok {
			if m["additionalProperties"] != false {
				return fmt.Sprintf("Invalid schema for response_format '%s': In context=%s, 'additionalProperties' is required to be supplied and to be false.", js.Name, at)
			}
			req, _ := m["required"].([]any)
			have := map[string]bool{}
			for _, r := range req {
				if s, ok := r.(string); ok {
					have[s] = true
				}
			}
			for k, p := range props {
				if !have[k] {
					return fmt.Sprintf("Invalid schema for response_format '%s': In context=%s, 'required' is required to be supplied and to be an array including every key in properties. Missing '%s'.", js.Name, at, k)
				}
				if msg := check(p, at+"."+k); msg != "" {
					return msg
				}
			}
		}
		if items, ok := m["items"]; ok {
			return check(items, at+"[]")
		}
		return ""
	}
	return check(root, "()")
}

var pageStart = regexp.MustCompile(`<<<PAGE ([0-9a-f]+)(?: page=(\d+))?>>>\n`)

// parsePages reads the page texts between marker lines.
func parsePages(s string) []Page {
	var pages []Page
	for {
		m := pageStart.FindStringSubmatchIndex(s)
		if m == nil {
			return pages
		}
		id := s[m[2]:m[3]]
		n := -1
		if m[4] >= 0 {
			n, _ = strconv.Atoi(s[m[4]:m[5]])
		}
		rest := s[m[1]:]
		end := strings.Index(rest, "\n<<<END PAGE "+id+">>>")
		if end < 0 {
			return pages
		}
		pages = append(pages, Page{Number: n, Text: rest[:end]})
		s = rest[end:]
	}
}

// answer is what a careful model answers: the fields idp's rules read on the page, every
// key of the schema present (null when absent); for a document's accounts, the rule
// splitter's.
func (s *Server) answer(req Request, f Fault) string {
	if req.SchemaName == llm.SplitSchemaName || strings.Contains(firstSystem(req), llm.SplitPromptMarker) {
		return splitAnswer(req, f)
	}
	fields := map[string]any{}
	keys := schemaKeys(req.Schema)
	if keys == nil {
		keys = promptKeys(firstSystem(req))
	}
	if keys == nil {
		keys = llm.DefaultSchema().Names()
	}
	for _, k := range keys {
		fields[k] = nil
	}
	for k, v := range rules.Extract(req.Text()) {
		if _, ok := fields[k]; ok {
			fields[k] = v
		}
	}
	if f.Edit != nil {
		f.Edit(fields, req)
	}
	b, _ := json.Marshal(fields)
	return string(b)
}

func splitAnswer(req Request, f Fault) string {
	var pts []stage.PageText
	for i, p := range req.Pages {
		n := p.Number
		if n < 0 {
			n = i
		}
		pts = append(pts, stage.PageText{Page: n, Text: p.Text})
	}
	accounts, _ := rules.Splitter{}.Split(context.Background(), pts)
	list := []any{}
	for _, a := range accounts {
		list = append(list, map[string]any{"account_number": a.AccountNumber, "holders": a.Holders, "pages": a.Pages})
	}
	fields := map[string]any{"accounts": list}
	if f.Edit != nil {
		f.Edit(fields, req)
	}
	b, _ := json.Marshal(fields)
	return string(b)
}

func firstSystem(r Request) string {
	for _, m := range r.Messages {
		if m.Role == "system" {
			return m.Content
		}
	}
	return ""
}

func schemaKeys(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s struct {
		Required []string `json:"required"`
	}
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return s.Required
}

var keysLine = regexp.MustCompile(`exactly these keys and no other: ((?:"\w+"(?:, )?)+)`)

// promptKeys reads the keys an answer must have from the system prompt, for requests
// without a JSON schema.
func promptKeys(system string) []string {
	m := keysLine.FindStringSubmatch(system)
	if m == nil {
		return nil
	}
	var keys []string
	for _, k := range strings.Split(m[1], ", ") {
		keys = append(keys, strings.Trim(k, `"`))
	}
	return keys
}

// Config is an extractor configuration for s: a test model and key, a 5 s timeout, 3 retries,
// waits on clock (nil: real time) at the top of their jitter, and no logs.
func (s *Server) Config(clock retry.Clock) llm.Config {
	cfg := llm.DefaultConfig()
	cfg.BaseURL = s.BaseURL
	cfg.Model = "gpt-test"
	cfg.APIKey = "sk-test"
	cfg.Timeout = 5 * time.Second
	cfg.MaxRetries = 3
	cfg.Clock = clock
	cfg.Jitter = func() float64 { return 1 }
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

// NewExtractor makes the extractor of cfg or fails the test.
func NewExtractor(t testing.TB, cfg llm.Config) *llm.Extractor {
	t.Helper()
	x, err := llm.NewExtractor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return x
}
