package stage

// Result is what `idp process` prints for one document and what /api/document/{id}/result
// returns (README, "Result format"). Ground truth files of `idp eval` have the same shape.
type Result struct {
	DocID      string       `json:"doc_id"`
	File       string       `json:"file"`
	Status     string       `json:"status,omitempty"`
	Error      string       `json:"error,omitempty"`
	TotalPages int          `json:"total_pages"`
	Accounts   []Account    `json:"accounts"`
	Pages      []PageResult `json:"pages"`
	// Warnings say what was wrong with the file without stopping it ("the file was damaged
	// and repaired: pages may be missing").
	Warnings []string `json:"warnings,omitempty"`
	// FailedPages are the pages that could not be read, with why; the rest of the document
	// was processed without them.
	FailedPages []FailedPage `json:"failed_pages,omitempty"`
}

// FailedPage is a page that could not be read (it was quarantined), and why.
type FailedPage struct {
	Page   int    `json:"page"`
	Reason string `json:"reason"`
}

// PageResult is one page of a document with its account and extracted fields.
type PageResult struct {
	Page          int    `json:"page"`
	AccountIndex  int    `json:"account_index"`
	AccountNumber string `json:"account_number"`
	Source        string `json:"source,omitempty"`
	Data          Fields `json:"data"`
	// Blank: nothing is printed on the page; it was not OCR'd nor extracted.
	Blank bool `json:"blank,omitempty"`
	// Error: the page could not be read (see Result.FailedPages).
	Error string `json:"error,omitempty"`
}
