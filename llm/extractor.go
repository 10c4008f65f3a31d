package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	openai "github.com/sashabaranov/go-openai"
)

// Extractor reads a page's fields through any OpenAI-compatible chat completions
// endpoint (stage 4).
//
//   - The prompt gives the schema's fields and their meaning; the page text follows as
//     data between marker lines whose id is a digest of the text (the text cannot close
//     them), and is never treated as instructions. Temperature 0.
//   - The answer's shape is asked for as a strict JSON schema, or in JSON mode, or not at
//     all (ResponseFormat; auto steps down when the server answers 400 to one), and read
//     tolerantly: a fenced or chatty answer is parsed too.
//   - Every answer is checked against the schema (types, no other fields, lengths) and
//     normalised; an invalid one gets one repair request, and if that is invalid too the
//     page fails with ErrInvalidAnswer (and is not cached).
//   - Every value must be printed on the page (see ground.go): one that is not is dropped
//     and flagged.
//   - Calls go through one limiter shared by every page: a concurrency cap, rate-limit
//     pauses, retries with backoff and a circuit breaker (see client.go, gate.go).
//   - A page that still fails returns the error (a 4xx is permanent), or with Fallback
//     rules gets the built-in extractor's answer, marked "rules (fallback)".
type Extractor struct {
	cfg    Config
	client *llmClient
	schema *Schema
	system string
	format atomic.Value // string: the response format in use (auto steps down)
	log    *slog.Logger
}

var _ stage.Extractor = (*Extractor)(nil)

// NewExtractor checks cfg and makes an extractor; it does not call the endpoint.
func NewExtractor(cfg Config) (*Extractor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("LLM extractor: %w", err)
	}
	x := &Extractor{
		cfg:    cfg,
		client: newLLMClient(cfg),
		schema: cfg.Schema,
		system: systemPrompt(cfg.Schema),
		log:    cfg.Logger.With("component", "llm"),
	}
	x.client.log = x.log
	start := cfg.ResponseFormat
	if start == FormatAuto {
		start = FormatJSONSchema
	}
	x.format.Store(start)
	return x, nil
}

// Version implements stage.Extractor: the model (and Azure deployment), the prompt, the schema,
// the response format and the grounding rules.
func (x *Extractor) Version() string {
	model := x.cfg.Model
	if x.cfg.AzureDeployment != "" {
		model += "@azure:" + x.cfg.AzureDeployment
	}
	return fmt.Sprintf("llm/1;model=%s;prompt=%s;schema=%s;format=%s;%s",
		model, promptDigest, x.schema.Digest(), x.cfg.ResponseFormat, groundingVersion)
}

// Name implements stage.Extractor.
func (x *Extractor) Name() string { return "llm:" + x.cfg.Model }

// Schema is the schema the extractor reads.
func (x *Extractor) Schema() *Schema { return x.schema }

// Extract implements stage.Extractor.
func (x *Extractor) Extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	res, err := x.extract(ctx, in)
	if err == nil || ctx.Err() != nil || x.cfg.Fallback != FallbackRules {
		return res, err
	}
	x.client.stats.fallbacks.Add(1)
	x.log.Warn("LLM failed a page; the built-in extractor answered", "doc_id", in.DocID, "page", in.Page, "err", err)
	fields, evidence := stage.Fields{}, stage.FieldEvidence{}
	read, readEvidence := rules.Read(in.Text)
	for k, v := range read {
		if _, ok := x.schema.Field(k); ok {
			fields[k], evidence[k] = v, readEvidence[k]
		}
	}
	return stage.Extraction{
		Fields: fields, Evidence: evidence, Extractor: "rules (fallback)",
		PromptTokens: res.PromptTokens, CompletionTokens: res.CompletionTokens,
		Flags: append(res.Flags, "LLM extraction failed ("+err.Error()+"); the built-in extractor answered"),
	}, nil
}

func (x *Extractor) extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	res := stage.Extraction{Extractor: x.Name()}
	var deadline time.Time
	if b := x.cfg.PageBudget; b > 0 {
		deadline = x.cfg.Clock.Now().Add(b)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, b, fmt.Errorf("%w: the page's time budget (%s) is spent", ErrUnavailable, b))
		defer cancel()
	}
	user, cut := pageMessage(in.Text)
	if cut {
		res.Flags = append(res.Flags, fmt.Sprintf("page text cut to its first %d characters for the model", maxPageChars))
	}
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: x.system},
		{Role: openai.ChatMessageRoleUser, Content: user},
	}
	ans, err := x.ask(ctx, deadline, msgs, x.pageSchema())
	res.PromptTokens += ans.promptTokens
	res.CompletionTokens += ans.completionTokens
	if err != nil {
		return res, err
	}
	fields, perr := x.read(ans)
	if perr != nil {
		x.client.stats.invalid.Add(1)
		x.client.stats.repairs.Add(1)
		x.log.Info("LLM answer invalid; asking for a repair", "doc_id", in.DocID, "page", in.Page, "err", perr)
		msgs = append(msgs,
			openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: truncate(ans.content, 4000)},
			openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: fmt.Sprintf(promptRepair, strings.TrimPrefix(perr.Error(), ErrInvalidAnswer.Error()+": "), quotedKeys(x.schema))},
		)
		ans, err = x.ask(ctx, deadline, msgs, x.pageSchema())
		res.PromptTokens += ans.promptTokens
		res.CompletionTokens += ans.completionTokens
		if err != nil {
			return res, err
		}
		if fields, perr = x.read(ans); perr != nil {
			x.client.stats.invalid.Add(1)
			return res, fmt.Errorf("%w (after one repair request)", perr)
		}
	}
	kept, evidence, flags := x.schema.ground(fields, newPageEvidence(in.Text))
	x.client.stats.dropped.Add(int64(len(fields) - len(kept)))
	res.Fields, res.Evidence, res.Flags = kept, evidence, append(res.Flags, flags...)
	return res, nil
}

// ask sends the conversation in the response format in use. In auto mode a 400 to a
// response_format steps down (json_schema, json_object, none) for this call; the step is
// kept for later calls once the simpler format has worked.
func (x *Extractor) ask(ctx context.Context, deadline time.Time, msgs []openai.ChatCompletionMessage, rs responseSchema) (chatAnswer, error) {
	inUse := x.format.Load().(string)
	f := inUse
	for {
		ans, err := x.client.chat(ctx, deadline, x.request(msgs, f, rs))
		var le *Error
		if err != nil && x.cfg.ResponseFormat == FormatAuto && f != FormatNone && errors.As(err, &le) && le.Status == 400 {
			next := map[string]string{FormatJSONSchema: FormatJSONObject, FormatJSONObject: FormatNone}[f]
			x.log.Warn("endpoint refused the response format; trying a simpler one", "format", f, "next", next, "err", le.Message)
			f = next
			continue
		}
		if err == nil && f != inUse && x.format.CompareAndSwap(inUse, f) {
			x.log.Info("using a simpler response format from now on", "format", f)
		}
		return ans, err
	}
}

// responseSchema is the JSON schema of the answer, for structured output.
type responseSchema struct {
	name   string
	schema json.RawMessage
}

func (x *Extractor) pageSchema() responseSchema {
	return responseSchema{name: x.schema.Name, schema: x.schema.JSONSchema()}
}

func (x *Extractor) request(msgs []openai.ChatCompletionMessage, format string, rs responseSchema) openai.ChatCompletionRequest {
	// go-openai omits a zero temperature, and servers default to 1: the smallest non-zero
	// float is 0 in effect. Reasoning models take no temperature at all.
	req := openai.ChatCompletionRequest{Model: x.cfg.Model, Messages: msgs, Temperature: math.SmallestNonzeroFloat32}
	if openai.NewReasoningValidator().Validate(req) != nil {
		req.Temperature = 0
	}
	switch format {
	case FormatJSONSchema:
		req.ResponseFormat = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name: rs.name, Schema: rs.schema, Strict: true,
			},
		}
	case FormatJSONObject:
		req.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	}
	return req
}

// read parses and checks an answer.
func (x *Extractor) read(ans chatAnswer) (stage.Fields, error) {
	switch ans.finish {
	case string(openai.FinishReasonLength):
		return nil, fmt.Errorf("%w: the answer was cut off at the token limit", ErrInvalidAnswer)
	case string(openai.FinishReasonContentFilter):
		return nil, fmt.Errorf("%w: the answer was withheld by the endpoint's content filter", ErrInvalidAnswer)
	}
	obj, err := decodeAnswer(ans.content)
	if err != nil {
		return nil, err
	}
	return x.schema.Normalize(obj)
}

// Status is what the LLM extractor has done since start, and the state of its shared
// limiter and circuit breaker, for the processor's status.
type Status struct {
	Model          string `json:"model"`
	Endpoint       string `json:"endpoint"`
	ResponseFormat string `json:"response_format"`
	GateStatus
	Requests         int64 `json:"requests"`
	Retries          int64 `json:"retries"`
	RateLimited      int64 `json:"rate_limited"`
	FailedRequests   int64 `json:"failed_requests"`
	InvalidAnswers   int64 `json:"invalid_answers"`
	Repairs          int64 `json:"repair_requests"`
	DroppedValues    int64 `json:"dropped_values"`
	Fallbacks        int64 `json:"fallbacks"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// Status reports the extractor's totals and its breaker and limiter state.
func (x *Extractor) Status() Status {
	s := &x.client.stats
	return Status{
		Model: x.cfg.Model, Endpoint: redactURL(x.cfg.BaseURL), ResponseFormat: x.format.Load().(string),
		GateStatus: x.client.gate.status(),
		Requests:   s.requests.Load(), Retries: s.retries.Load(), RateLimited: s.rateLimited.Load(),
		FailedRequests: s.failures.Load(), InvalidAnswers: s.invalid.Load(), Repairs: s.repairs.Load(),
		DroppedValues: s.dropped.Load(), Fallbacks: s.fallbacks.Load(),
		PromptTokens: s.promptTokens.Load(), CompletionTokens: s.completionTokens.Load(),
	}
}

// redactURL drops any user and password from a URL and its query (Azure keys can sit there).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// digest is a short hex digest of s, for versions and marker lines.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
