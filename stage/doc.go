// Package stage holds the contracts between the processor and the engines: the interfaces of
// the four stages (Renderer and PDF, OCREngine, AccountSplitter, Extractor) and the domain
// values they pass (Span and layout text, PageText, Account, PageMap, Fields, Result), the
// stage and source names, the text-layer rule, and the permanent-error type.
//
// It imports nothing of idp: the processor (pipeline) and every engine (mupdf, tesseract,
// rules, llm) import it, and it imports none of them.
package stage
