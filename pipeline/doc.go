// Package pipeline is the processor: the workers that take documents from the queue and run
// them through the four stages (OCR extraction, account splitting, page analysis, field
// extraction), with per-page checkpoints, version-aware caching, retries and resume after a
// crash; submission and control (force, reprocess, retry, delete, restart); the work a person
// waits for (a page's data, text or image now); priorities; results, status, events and
// counters.
//
// It reaches the engines only through the interfaces of stage (Reader, the C engines in worker
// processes; AccountSplitter; Extractor) and keeps everything in store; it imports no engine,
// so it links neither MuPDF, Tesseract nor an LLM client. cmd wires the concrete parts. A page
// that fails alone (stage.PageError) is quarantined; the document goes on.
package pipeline
