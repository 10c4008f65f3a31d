package pipeline

import "github.com/idp/idp/stage"

// The cached records of the four stages, under the DESIGN keys (store/keys.go). Their JSON
// shapes are what the bbolt file and the bucket hold: change them only with the stage's
// cache version.

// FullText is stage 1's record (ocr_cache/{doc_id}/full_text.json).
type FullText struct {
	DocID      string           `json:"doc_id"`
	TotalPages int              `json:"total_pages"`
	Pages      []stage.PageText `json:"pages"`
	// Warnings say what was wrong with the file without stopping it (it was damaged and
	// repaired; pages were read at a lower resolution).
	Warnings []string `json:"warnings,omitempty"`
}

// AccountSplit is stage 2's record (account_cache/{doc_id}/accounts.json).
type AccountSplit struct {
	DocID    string          `json:"doc_id"`
	Accounts []stage.Account `json:"accounts"`
}

// PageMapping is stage 3's record (page_mapping/{doc_id}/mapping.json).
type PageMapping struct {
	DocID string          `json:"doc_id"`
	Pages []stage.PageMap `json:"pages"`
}

// PageData is stage 4's record for one page (page_data/{doc_id}/page_{n}.json).
type PageData struct {
	Page             int          `json:"page"`
	AccountIndex     int          `json:"account_index"`
	AccountNumber    string       `json:"account_number"`
	Source           string       `json:"source"`
	Data             stage.Fields `json:"data"`
	ExtractionTime   int64        `json:"extraction_time"`
	Extractor        string       `json:"extractor"`
	PromptTokens     int          `json:"prompt_tokens,omitempty"`
	CompletionTokens int          `json:"completion_tokens,omitempty"`
	Flags            []string     `json:"flags,omitempty"`
	// Blank: nothing is printed on the page; Error: the page could not be read. Neither is
	// sent to the extractor.
	Blank bool   `json:"blank,omitempty"`
	Error string `json:"error,omitempty"`
}
