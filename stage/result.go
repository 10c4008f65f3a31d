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
}

// PageResult is one page of a document with its account and extracted fields.
type PageResult struct {
	Page          int    `json:"page"`
	AccountIndex  int    `json:"account_index"`
	AccountNumber string `json:"account_number"`
	Source        string `json:"source,omitempty"`
	Data          Fields `json:"data"`
	// Evidence of each value of Data (not part of ground truth files).
	Evidence FieldEvidence `json:"evidence,omitempty"`
}
