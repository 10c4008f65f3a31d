package cmd

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/idp/idp/llm"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
)

// llmOptions configure the LLM extractor (stage 4) and the optional LLM splitter. The LLM
// is on when a model, an endpoint or an Azure deployment is given; otherwise the built-in
// rule-based extractor runs.
type llmOptions struct {
	baseURL         string
	model           string
	apiKey          string
	azureDeployment string
	azureAPIVersion string
	concurrency     int
	timeout         time.Duration
	maxRetries      int
	responseFormat  string
	fallback        string
	split           bool
	schemaPath      string
}

func (o *llmOptions) AddFlags(fs *pflag.FlagSet) {
	d := llm.DefaultConfig()
	fs.StringVar(&o.baseURL, "llm-base-url", "", "OpenAI-compatible API root, e.g. http://localhost:11434/v1 (default https://api.openai.com/v1; with Azure, https://NAME.openai.azure.com)")
	fs.StringVar(&o.model, "llm-model", "", "model for stage 4 (e.g. gpt-4o-mini, llama3.1:8b); setting it turns LLM extraction on")
	fs.StringVar(&o.apiKey, "llm-api-key", "", "API key (default $OPENAI_API_KEY; with Azure, $AZURE_OPENAI_API_KEY first)")
	fs.StringVar(&o.azureDeployment, "llm-azure-deployment", "", "speak Azure OpenAI: the deployment to call")
	fs.StringVar(&o.azureAPIVersion, "llm-azure-api-version", d.AzureAPIVersion, "Azure OpenAI api-version")
	fs.IntVar(&o.concurrency, "llm-concurrency", d.Concurrency, "LLM calls in flight at once, across all pages and documents")
	fs.DurationVar(&o.timeout, "llm-timeout", d.Timeout, "time limit for one LLM request")
	fs.IntVar(&o.maxRetries, "llm-max-retries", d.MaxRetries, "retries of a request after a 429, 5xx, timeout or reset")
	fs.StringVar(&o.responseFormat, "llm-response-format", d.ResponseFormat, "auto, json_schema, json_object or none (auto steps down when the server refuses one)")
	fs.StringVar(&o.fallback, "llm-fallback", d.Fallback, "none, or rules: a page the LLM fails gets the built-in extractor's answer, marked")
	fs.BoolVar(&o.split, "llm-split", false, "let the LLM confirm and complete the accounts the rules find (stage 2)")
	fs.StringVar(&o.schemaPath, "schema", "", "JSON file of the fields to extract (default: Account_Number, Account_Holders, Phone_Number, Address); needs --llm-model")
}

func (o *llmOptions) enabled() bool {
	return o.model != "" || o.baseURL != "" || o.azureDeployment != ""
}

// extraction is what stages 2 to 4 run with: the rules, or a model for stage 4 (and with
// --llm-split for stage 2 too).
type extraction struct {
	extractor stage.Extractor
	splitter  stage.AccountSplitter
	// model is the LLM extractor, for its status; nil without one.
	model *llm.Extractor
}

// build makes the LLM extractor and, with --llm-split, the LLM splitter (the rules
// otherwise), and gives stage 4 as many page slots as LLM calls may be in flight (a page
// waiting for a call would spend its --page-timeout waiting).
func (o *llmOptions) build(cfg *pipeline.Config, logger *slog.Logger) (extraction, error) {
	splitter, extractor := rules.New()
	out := extraction{extractor: extractor, splitter: splitter}
	if !o.enabled() {
		var errs []error
		if o.schemaPath != "" {
			errs = append(errs, errors.New("--schema needs an LLM (--llm-model): the built-in extractor reads the default fields only"))
		}
		if o.split {
			errs = append(errs, errors.New("--llm-split needs an LLM (--llm-model)"))
		}
		if o.fallback == llm.FallbackRules {
			errs = append(errs, errors.New("--llm-fallback rules needs an LLM (--llm-model)"))
		}
		return out, errors.Join(errs...)
	}
	lc := llm.DefaultConfig()
	if o.baseURL != "" {
		lc.BaseURL = o.baseURL
	}
	lc.Model, lc.AzureDeployment, lc.AzureAPIVersion = o.model, o.azureDeployment, o.azureAPIVersion
	if lc.Model == "" {
		lc.Model = o.azureDeployment
	}
	lc.APIKey = o.apiKey
	if lc.APIKey == "" && o.azureDeployment != "" {
		lc.APIKey = os.Getenv("AZURE_OPENAI_API_KEY")
	}
	if lc.APIKey == "" {
		lc.APIKey = os.Getenv("OPENAI_API_KEY")
	}
	var errs []error
	if o.azureDeployment != "" && o.baseURL == "" {
		errs = append(errs, errors.New("--llm-azure-deployment needs --llm-base-url https://NAME.openai.azure.com"))
	}
	if o.concurrency < 1 {
		errs = append(errs, fmt.Errorf("--llm-concurrency must be at least 1"))
	}
	if o.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--llm-timeout must be positive"))
	}
	if o.maxRetries < 0 {
		errs = append(errs, fmt.Errorf("--llm-max-retries must be 0 or more"))
	}
	lc.Concurrency, lc.Timeout, lc.MaxRetries = o.concurrency, o.timeout, o.maxRetries
	lc.ResponseFormat, lc.Fallback = o.responseFormat, o.fallback
	if o.schemaPath != "" {
		s, err := llm.LoadSchema(o.schemaPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("--schema: %w", err))
		}
		lc.Schema = s
	}
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	// A page gives up (transiently) before --page-timeout fails it for good.
	lc.PageBudget = cfg.PageTimeout - min(5*time.Second, cfg.PageTimeout/10)
	lc.Logger = logger
	x, err := llm.NewExtractor(lc)
	if err != nil {
		return out, err
	}
	cfg.ExtractWorkers = lc.Concurrency
	logger.Info("LLM extraction on", "endpoint", x.Status().Endpoint, "model", lc.Model, "format", lc.ResponseFormat, "concurrency", lc.Concurrency,
		"fallback", lc.Fallback, "fields", len(x.Schema().Fields), "llm_split", o.split)
	out.extractor, out.model = x, x
	if o.split {
		out.splitter = llm.NewSplitter(x)
	}
	return out, nil
}

// llmStatus is the LLM's part of the processor status, nil without an LLM: "llm" holds the
// breaker, any rate-limit pause and the totals; the numbers are also metrics (idp_extra).
func llmStatus(x *llm.Extractor) map[string]any {
	if x == nil {
		return nil
	}
	st := x.Status()
	return map[string]any{
		"llm":                   st,
		"llm_breaker_open":      st.Breaker != llm.BreakerClosed,
		"llm_paused":            st.PausedUntil != nil,
		"llm_in_flight":         st.InFlight,
		"llm_requests":          st.Requests,
		"llm_retries":           st.Retries,
		"llm_rate_limited":      st.RateLimited,
		"llm_failed_requests":   st.FailedRequests,
		"llm_invalid_answers":   st.InvalidAnswers,
		"llm_dropped_values":    st.DroppedValues,
		"llm_fallbacks":         st.Fallbacks,
		"llm_prompt_tokens":     st.PromptTokens,
		"llm_completion_tokens": st.CompletionTokens,
	}
}
