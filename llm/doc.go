// Package llm reads fields through any OpenAI-compatible chat completions endpoint (OpenAI,
// Azure OpenAI, Ollama, vLLM, llama.cpp's server): the client with its retries
// (client.go), the shared limiter and circuit breaker (gate.go), the prompt and the reading
// of answers (prompt.go, answer.go), the schema (schema.go), the check that every value is
// printed on the page (ground.go), the stage 4 Extractor and the stage 2 Splitter that
// confirms and completes the rules' accounts. llmtest is a fake endpoint that speaks the
// real wire protocol, for tests and benchmarks.
//
// It implements the contracts of stage and falls back on rules; it imports nothing else of
// idp but retry, and neither the processor nor the store.
package llm
