package pipeline

import (
	"context"
)

// Extractor reads the schema's fields from one page (stage 4). The built-in RulesExtractor is
// the default; an LLM extractor implements the same interface.
type Extractor interface {
	// Extract returns the fields printed on the page. A field not on the page is absent.
	Extract(ctx context.Context, in ExtractInput) (Extraction, error)
	// Version names the extractor and everything that changes its output (kind, model,
	// prompt, schema), for cache versions.
	Version() string
	// Name is the short name recorded with each result ("rules", "llm:gpt-4o-mini").
	Name() string
}

// ExtractInput is one page to read.
type ExtractInput struct {
	DocID         string
	Page          int
	Text          string
	Source        string
	AccountIndex  int
	AccountNumber string
}

// Extraction is what an extractor read on a page.
type Extraction struct {
	Fields Fields
	// Extractor is the name of what produced the fields (it may differ from the configured
	// extractor's when a fallback answered).
	Extractor string
	// Tokens spent, when the extractor is a model.
	PromptTokens     int
	CompletionTokens int
	// Flags note values that were dropped or repaired, for review.
	Flags []string
}

// RulesExtractor fills the default schema from a page's text by its labels: it needs no
// network and no model. Account_Number follows an account or loan number label;
// Account_Holders are the names after owner, holder, borrower and co-borrower labels (split
// on commas, "and", "&") or, on a statement, the names above the mailing address;
// Phone_Number follows a phone label that is not an employer's or the bank's; Address follows
// an address label (not a property's or employer's) or is the mailing block's.
type RulesExtractor struct{}

var _ Extractor = RulesExtractor{}

// Version implements Extractor.
func (RulesExtractor) Version() string { return "extract-" + rulesVersion + ";schema=default" }

// Name implements Extractor.
func (RulesExtractor) Name() string { return "rules" }

// Extract implements Extractor.
func (RulesExtractor) Extract(ctx context.Context, in ExtractInput) (Extraction, error) {
	if err := ctx.Err(); err != nil {
		return Extraction{}, err
	}
	return Extraction{Fields: ExtractRules(in.Text), Extractor: "rules"}, nil
}

// ExtractRules reads the default schema's fields from layout text.
func ExtractRules(text string) Fields {
	rows := parseRows(text)
	f := Fields{}
	for _, r := range findAccountRefs(rows) {
		if !r.Suffix {
			f[FieldAccountNumber] = r.Printed
			break
		}
	}
	if h := findHolders(rows); len(h) > 0 {
		f[FieldAccountHolders] = h
	}
	if p := findPhone(rows); p != "" {
		f[FieldPhoneNumber] = p
	}
	if a := findAddress(rows); a != "" {
		f[FieldAddress] = a
	}
	return f
}
