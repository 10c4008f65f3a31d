// Package stage holds the contracts between the processor and the engines: Reader (what the
// processor needs of the C engines, which run in worker processes), the interfaces the workers
// read with (Renderer and PDF, OCREngine) and ReadPage over them, AccountSplitter and
// Extractor, and the domain values they pass (Span and layout text, PageText, Account,
// PageMap, Fields, Result); the stage and source names; the text-layer rule, the blank-page
// rule and the contrast stretch; the permanent, page and password errors.
//
// It imports nothing of idp: the processor (pipeline) and every engine (mupdf, tesseract,
// rules, llm) import it, and it imports none of them.
package stage
