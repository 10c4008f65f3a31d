package stage

import "context"

// AccountSplitter finds the accounts of a document (stage 2) and maps every page to one of
// them or to none (stage 3).
type AccountSplitter interface {
	// Split returns the accounts, each with its holders and pages.
	Split(ctx context.Context, pages []PageText) ([]Account, error)
	// MapPages returns, for every page, the account it belongs to (-1 for none) and why.
	MapPages(ctx context.Context, pages []PageText, accounts []Account) ([]PageMap, error)
	// PageAccount is the account number a page prints, read from that page alone: the
	// provisional answer for a page opened before stage 3 ran ("" when it prints none).
	PageAccount(page PageText) string
	// Version names the splitter and its rules for cache versions.
	Version() string
}

// Account is one account found in a document.
type Account struct {
	Index         int      `json:"index"`
	AccountNumber string   `json:"account_number"`
	Holders       []string `json:"holders"`
	Pages         []int    `json:"pages"`
}

// PageMap is stage 3's answer for one page.
type PageMap struct {
	Page          int    `json:"page"`
	AccountIndex  int    `json:"account_index"`
	AccountNumber string `json:"account_number"`
	Evidence      string `json:"evidence"`
}
