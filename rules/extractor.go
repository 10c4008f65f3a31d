package rules

import (
	"context"

	"github.com/idp/idp/stage"
)

// Extractor fills the default schema from a page's text by its labels: it needs no
// network and no model. Account_Number follows an account or loan number label;
// Account_Holders are the names after owner, holder, borrower and co-borrower labels (split
// on commas, "and", "&") or, on a statement, the names above the mailing address;
// Phone_Number follows a phone label that is not an employer's or the bank's; Address follows
// an address label (not a property's or employer's) or is the mailing block's.
type Extractor struct{}

var _ stage.Extractor = Extractor{}

// Version implements stage.Extractor.
func (Extractor) Version() string { return "extract-" + Version + ";schema=default" }

// Name implements stage.Extractor.
func (Extractor) Name() string { return "rules" }

// Extract implements stage.Extractor.
func (Extractor) Extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	if err := ctx.Err(); err != nil {
		return stage.Extraction{}, err
	}
	return stage.Extraction{Fields: Extract(in.Text), Extractor: "rules"}, nil
}

// Extract reads the default schema's fields from layout text.
func Extract(text string) stage.Fields {
	rows := parseRows(text)
	f := stage.Fields{}
	for _, r := range findAccountRefs(rows) {
		if !r.Suffix {
			f[stage.FieldAccountNumber] = r.Printed
			break
		}
	}
	if h := findHolders(rows); len(h) > 0 {
		f[stage.FieldAccountHolders] = h
	}
	if p := findPhone(rows); p != "" {
		f[stage.FieldPhoneNumber] = p
	}
	if a := findAddress(rows); a != "" {
		f[stage.FieldAddress] = a
	}
	return f
}
