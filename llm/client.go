package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idp/idp/retry"
	"github.com/idp/idp/stage"
	openai "github.com/sashabaranov/go-openai"
)

// Errors of the LLM extractor and splitter. Each is wrapped with the details.
var (
	// ErrLLMUnavailable: the endpoint failed every try (5xx, timeouts, connection resets,
	// rate limits) within the page's time budget. Transient: the document is tried again
	// later, or the built-in extractor answers with --llm-fallback=rules.
	ErrUnavailable = errors.New("LLM endpoint unavailable")
	// ErrCircuitOpen: LLM calls are paused after repeated failures, longer than the page's
	// time budget. Transient.
	ErrCircuitOpen = errors.New("LLM calls paused by the circuit breaker")
	// ErrLLMRejected: the endpoint refused the request with a 4xx other than 429 (a wrong
	// key, an unknown model, a request it does not take). Permanent: returned inside a
	// *Permanent.
	ErrRejected = errors.New("LLM endpoint rejected the request")
	// ErrInvalidAnswer: the model's answer does not match the schema (not JSON, a field the
	// schema lacks, a wrong type, over a limit), even after one repair request. Such an
	// answer is never cached.
	ErrInvalidAnswer = errors.New("LLM answer does not match the schema")
)

// Response formats: how the answer's shape is asked for.
const (
	// FormatAuto asks for json_schema and steps down to json_object, then to none, when
	// the server answers 400 to the response_format it was sent.
	FormatAuto = "auto"
	// FormatJSONSchema is structured output with the schema, strict.
	FormatJSONSchema = "json_schema"
	// FormatJSONObject is JSON mode: any JSON object.
	FormatJSONObject = "json_object"
	// FormatNone sends no response_format; the answer is parsed tolerantly (a fenced or
	// chatty answer is read too).
	FormatNone = "none"
)

// Fallbacks when the LLM fails a page.
const (
	FallbackNone  = "none"
	FallbackRules = "rules"
)

// Config configures the LLM extractor (and the LLM splitter) for any OpenAI-compatible
// endpoint: OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp's server.
type Config struct {
	// BaseURL is the API root, ending in /v1 for OpenAI-compatible servers
	// (https://api.openai.com/v1, http://localhost:11434/v1); for Azure the resource
	// endpoint (https://NAME.openai.azure.com).
	BaseURL string
	// Model is the model name (with Azure, see AzureDeployment).
	Model string
	// APIKey is sent as a bearer token (Azure: as api-key). Local servers take none.
	APIKey string
	// AzureDeployment, when set, speaks Azure OpenAI: requests go to
	// {BaseURL}/openai/deployments/{AzureDeployment}/chat/completions?api-version=...
	AzureDeployment string
	// AzureAPIVersion is Azure's api-version.
	AzureAPIVersion string
	// Concurrency caps the calls in flight across all pages and documents.
	Concurrency int
	// Timeout bounds one HTTP request.
	Timeout time.Duration
	// MaxRetries is how many times a failed request (429, 5xx, timeout, reset) is tried
	// again; 0 tries once.
	MaxRetries int
	// ResponseFormat is auto, json_schema, json_object or none.
	ResponseFormat string
	// Fallback is none, or rules: a page the LLM fails gets the built-in extractor's
	// answer, marked as such.
	Fallback string
	// Schema is the fields to extract; nil is DefaultSchema.
	Schema *Schema
	// PageBudget bounds all the time one page may take, retries and waits included; a
	// wait that would end past it fails the page (transiently) at once. 0: no bound
	// beyond the caller's context.
	PageBudget time.Duration
	// BackoffBase and BackoffMax shape the wait before retrying a 5xx, timeout or reset:
	// retry.Backoff, BackoffBase * retry^4, capped at BackoffMax, jittered to between half
	// and all of it.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxRateLimitWait caps a wait a server asks for (Retry-After, x-ratelimit-reset-*).
	MaxRateLimitWait time.Duration
	// BreakerThreshold failed calls in a row open the circuit breaker for BreakerCooldown.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// HTTPClient is the HTTP client; nil is a new one.
	HTTPClient *http.Client
	// Clock and Jitter (in [0,1)) replace time and randomness (tests).
	Clock  retry.Clock
	Jitter func() float64
	Logger *slog.Logger
}

// DefaultConfig has the defaults of the --llm-* flags.
func DefaultConfig() Config {
	return Config{
		BaseURL:          "https://api.openai.com/v1",
		AzureAPIVersion:  "2024-10-21",
		Concurrency:      4,
		Timeout:          60 * time.Second,
		MaxRetries:       4,
		ResponseFormat:   FormatAuto,
		Fallback:         FallbackNone,
		BackoffBase:      500 * time.Millisecond,
		BackoffMax:       30 * time.Second,
		MaxRateLimitWait: 5 * time.Minute,
		BreakerThreshold: 5,
		BreakerCooldown:  30 * time.Second,
	}
}

// withDefaults fills zero values from DefaultConfig (MaxRetries excepted: 0 is no retry)
// and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.BaseURL == "" {
		c.BaseURL = d.BaseURL
	}
	if c.AzureAPIVersion == "" {
		c.AzureAPIVersion = d.AzureAPIVersion
	}
	if c.Concurrency <= 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.ResponseFormat == "" {
		c.ResponseFormat = d.ResponseFormat
	}
	if c.Fallback == "" {
		c.Fallback = d.Fallback
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = d.BackoffBase
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = d.BackoffMax
	}
	if c.MaxRateLimitWait <= 0 {
		c.MaxRateLimitWait = d.MaxRateLimitWait
	}
	if c.BreakerThreshold <= 0 {
		c.BreakerThreshold = d.BreakerThreshold
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = d.BreakerCooldown
	}
	if c.Schema == nil {
		c.Schema = DefaultSchema()
	}
	if c.HTTPClient == nil {
		// Keep a connection per call in flight: the default two per host would make every
		// call beyond the second open a new one.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = c.Concurrency
		c.HTTPClient = &http.Client{Transport: tr}
	}
	if c.Clock == nil {
		c.Clock = retry.System{}
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var errs []error
	if c.Model == "" {
		errs = append(errs, errors.New("an LLM model is required (--llm-model)"))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("max retries %d: must be 0 or more", c.MaxRetries))
	}
	switch c.ResponseFormat {
	case FormatAuto, FormatJSONSchema, FormatJSONObject, FormatNone:
	default:
		errs = append(errs, fmt.Errorf("response format %q: want auto, json_schema, json_object or none", c.ResponseFormat))
	}
	switch c.Fallback {
	case FallbackNone, FallbackRules:
	default:
		errs = append(errs, fmt.Errorf("fallback %q: want none or rules", c.Fallback))
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		errs = append(errs, fmt.Errorf("base URL %q: want http:// or https://", c.BaseURL))
	}
	return c, errors.Join(errs...)
}

// Error is a call to the endpoint that failed: the HTTP status (0 when no response came
// back) and the server's error. It unwraps to ErrLLMRejected or ErrLLMUnavailable.
type Error struct {
	Status  int
	Code    string // the error's code or type ("rate_limit_exceeded", "invalid_api_key")
	Message string
	Tries   int
	kind    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.kind.Error())
	if e.Status > 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Tries > 1 {
		fmt.Fprintf(&b, " (after %d tries)", e.Tries)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.kind }

// llmClient sends chat completions with the retries, the shared limiter and the breaker.
type llmClient struct {
	cfg   Config
	api   *openai.Client
	gate  *gate
	log   *slog.Logger
	stats llmStats
}

// llmStats are running totals of the client's calls.
type llmStats struct {
	requests, retries, rateLimited, failures  atomic.Int64
	promptTokens, completionTokens, fallbacks atomic.Int64
	invalid, repairs, dropped                 atomic.Int64
}

func newLLMClient(cfg Config) *llmClient {
	var oc openai.ClientConfig
	if cfg.AzureDeployment != "" {
		oc = openai.DefaultAzureConfig(cfg.APIKey, cfg.BaseURL)
		oc.APIVersion = cfg.AzureAPIVersion
		dep := cfg.AzureDeployment
		oc.AzureModelMapperFunc = func(string) string { return dep }
	} else {
		oc = openai.DefaultConfig(cfg.APIKey)
		oc.BaseURL = cfg.BaseURL
	}
	oc.HTTPClient = capturingDoer{next: cfg.HTTPClient}
	return &llmClient{
		cfg:  cfg,
		api:  openai.NewClientWithConfig(oc),
		gate: newGate(cfg.Clock, cfg.Concurrency, cfg.BreakerThreshold, cfg.BreakerCooldown),
		log:  cfg.Logger,
	}
}

// capturingDoer records the status and headers of each response in the request's context,
// whatever the SDK makes of the response: a 429's Retry-After and the x-ratelimit-*
// headers are read from there.
type capturingDoer struct{ next *http.Client }

type captureKey struct{}

type httpCapture struct {
	status int
	header http.Header
}

func (d capturingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.next.Do(req)
	if c, ok := req.Context().Value(captureKey{}).(*httpCapture); ok && resp != nil {
		c.status, c.header = resp.StatusCode, resp.Header.Clone()
	}
	return resp, err
}

// chatAnswer is a completion's first choice and the tokens it cost.
type chatAnswer struct {
	content          string
	finish           string
	promptTokens     int
	completionTokens int
}

// chat sends one completion request, trying again after 429s (when the server says, else
// with backoff), 5xx, timeouts and resets, at most MaxRetries times, through the shared
// gate. A 4xx other than 429 is permanent. deadline (when set) is the page's budget.
func (c *llmClient) chat(ctx context.Context, deadline time.Time, req openai.ChatCompletionRequest) (chatAnswer, error) {
	var last *Error
	for try := 0; ; try++ {
		if try > 0 {
			c.stats.retries.Add(1)
		}
		p, err := c.gate.acquire(ctx, deadline)
		if err != nil {
			if ctx.Err() == nil && last != nil {
				err = fmt.Errorf("%w (last error: %s)", err, last.Error())
			}
			return chatAnswer{}, err
		}
		c.stats.requests.Add(1)
		capture := &httpCapture{}
		actx, cancel := context.WithTimeout(context.WithValue(ctx, captureKey{}, capture), c.cfg.Timeout)
		resp, err := c.api.CreateChatCompletion(actx, req)
		timedOut := actx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil && len(resp.Choices) == 0 {
			err = errors.New("the response has no choices")
		}
		if err == nil {
			p.done(outcomeOK)
			c.noteRateHeaders(capture.header)
			a := chatAnswer{content: resp.Choices[0].Message.Content, finish: string(resp.Choices[0].FinishReason),
				promptTokens: resp.Usage.PromptTokens, completionTokens: resp.Usage.CompletionTokens}
			c.stats.promptTokens.Add(int64(a.promptTokens))
			c.stats.completionTokens.Add(int64(a.completionTokens))
			return a, nil
		}
		if ctx.Err() != nil {
			p.done(outcomeNeutral)
			return chatAnswer{}, context.Cause(ctx)
		}
		e, wait := c.classify(err, capture, timedOut)
		e.Tries = try + 1
		last = e
		switch {
		case e.Status == http.StatusTooManyRequests:
			p.done(outcomeRateLimit)
			c.stats.rateLimited.Add(1)
		case errors.Is(e, ErrRejected):
			p.done(outcomeOK) // the endpoint is up; the request is wrong
			c.stats.failures.Add(1)
			return chatAnswer{}, stage.NewPermanent(e)
		default:
			p.done(outcomeFailure)
		}
		c.stats.failures.Add(1)
		if wait > 0 {
			// The server said how long: every worker waits it out, not only this one.
			c.gate.pause(c.cfg.Clock.Now().Add(wait), fmt.Sprintf("HTTP %d, server asked for %s", e.Status, wait.Round(time.Millisecond)))
			c.log.Warn("LLM endpoint rate limited; pausing calls", "wait", wait.Round(time.Millisecond), "try", try+1)
		}
		if try >= c.cfg.MaxRetries {
			return chatAnswer{}, e
		}
		if wait > 0 {
			continue // acquire waits the pause out
		}
		wait = retry.Backoff(try+1, c.cfg.BackoffBase, c.cfg.BackoffMax, c.cfg.Jitter())
		if !deadline.IsZero() && c.cfg.Clock.Now().Add(wait).After(deadline) {
			return chatAnswer{}, fmt.Errorf("%w; next try in %s is past this page's time budget", e, wait.Round(time.Millisecond))
		}
		c.log.Warn("LLM call failed; retrying", "status", e.Status, "err", e.Message, "try", try+1, "retry_in", wait.Round(time.Millisecond))
		if err := retry.Sleep(ctx, c.cfg.Clock, wait); err != nil {
			return chatAnswer{}, err
		}
	}
}

// classify turns a failed call into an Error and, for a 429, the wait the server asked
// for (0 when it did not say).
func (c *llmClient) classify(err error, capture *httpCapture, timedOut bool) (*Error, time.Duration) {
	e := &Error{kind: ErrUnavailable, Status: capture.status}
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case timedOut:
		e.Status, e.Message = 0, fmt.Sprintf("no answer within %s (--llm-timeout)", c.cfg.Timeout)
	case errors.As(err, &apiErr):
		e.Status = apiErr.HTTPStatusCode
		e.Message = truncate(apiErr.Message, 300)
		switch code := apiErr.Code.(type) {
		case string:
			e.Code = code
		case int:
			e.Code = strconv.Itoa(code)
		}
		if e.Code == "" {
			e.Code = apiErr.Type
		}
	case errors.As(err, &reqErr):
		e.Status = reqErr.HTTPStatusCode
		e.Message = truncate(strings.TrimSpace(string(reqErr.Body)), 200)
		if e.Message == "" && reqErr.Err != nil {
			e.Message = reqErr.Err.Error()
		}
	case capture.status == http.StatusOK:
		// The server said 200 but the body is not a completion (a broken proxy): try again.
		e.Message = "malformed response body: " + truncate(err.Error(), 200)
	default:
		e.Status, e.Message = 0, truncate(err.Error(), 300) // connection refused or reset, EOF
	}
	switch s := e.Status; {
	case s == http.StatusTooManyRequests:
		return e, c.retryAfter(capture.header)
	case s == http.StatusRequestTimeout || s == http.StatusConflict || s >= 500 || s == 0 || s == http.StatusOK:
		return e, 0
	default:
		e.kind = ErrRejected
		return e, 0
	}
}

// retryAfter is how long a 429 asks to wait: Retry-After (seconds or a date) or
// retry-after-ms, else the x-ratelimit-reset-* of the window that is used up (or the
// longer of the two when neither says it is), capped at MaxRateLimitWait. 0 when the
// response says nothing.
func (c *llmClient) retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	var d time.Duration
	if ms, err := strconv.ParseFloat(h.Get("retry-after-ms"), 64); err == nil && ms > 0 {
		d = time.Duration(ms * float64(time.Millisecond))
	} else if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			d = time.Duration(s * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(c.cfg.Clock.Now())
		}
	}
	if d <= 0 {
		req, reqOK := resetWait(h, "requests")
		tok, tokOK := resetWait(h, "tokens")
		switch {
		case reqOK && h.Get("x-ratelimit-remaining-requests") == "0":
			d = req
		case tokOK && h.Get("x-ratelimit-remaining-tokens") == "0":
			d = tok
		default:
			d = max(req, tok)
		}
	}
	return min(max(d, 0), c.cfg.MaxRateLimitWait)
}

// resetWait reads x-ratelimit-reset-{kind}: "1s", "6m0s", "250ms", or plain seconds.
func resetWait(h http.Header, kind string) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("x-ratelimit-reset-" + kind))
	if v == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d, true
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(s * float64(time.Second)), true
	}
	return 0, false
}

// noteRateHeaders pauses every worker when a successful response says a rate-limit window
// is used up (x-ratelimit-remaining-* is 0), until it resets: the next call would be a 429.
func (c *llmClient) noteRateHeaders(h http.Header) {
	for _, kind := range []string{"requests", "tokens"} {
		if h.Get("x-ratelimit-remaining-"+kind) != "0" {
			continue
		}
		if d, ok := resetWait(h, kind); ok && d > 0 {
			d = min(d, c.cfg.MaxRateLimitWait)
			c.gate.pause(c.cfg.Clock.Now().Add(d), fmt.Sprintf("%s window used up; resets in %s", kind, d.Round(time.Millisecond)))
		}
	}
}
