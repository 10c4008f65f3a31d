package rules

import (
	"context"
	"fmt"

	"github.com/idp/idp/stage"
)

// Extractor fills the default schema from a page's text by what each value looks like and
// where it sits; a label is evidence, not a gate. It needs no network and no model.
//
//   - Account_Number: the number after an account or loan number label, else the one in the
//     header of an account's section, else the first under an "Account number" column.
//   - Account_Holders: the names after role labels (owner, holder, borrower, applicant,
//     member, customer, a name box), last name first or not, and the names above an address
//     in a recipient block or a name-and-address box.
//   - Phone_Number: after a phone-ish label, the customer's own (home, cell) before a work
//     phone; never a fax, the bank's, an employer's or a lender's.
//   - Address: a US postal address after an address label or in a name-and-address block;
//     a property's only when nothing else is on the page; never the bank's, an employer's or
//     a lender's.
//
// Each value comes with its evidence and a confidence (stage.Evidence). On an OCR'd page, a
// value built on a word OCR was unsure of gets a lower confidence, or is dropped (weighUnsure).
type Extractor struct {
	parsed *Parsed // nil: every call reads the page again
}

var _ stage.Extractor = Extractor{}

// Version implements stage.Extractor.
func (Extractor) Version() string { return "extract-" + Version + ";schema=default" }

// Name implements stage.Extractor.
func (Extractor) Name() string { return "rules" }

// Extract implements stage.Extractor.
func (e Extractor) Extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	if err := ctx.Err(); err != nil {
		return stage.Extraction{}, err
	}
	f, ev := read(e.parsed.page(in.Text))
	var flags []string
	if in.Source == stage.SourceOCR {
		flags = weighUnsure(f, ev, in.Unsure, dropUnder)
		flags = append(flags, agree(f, ev, in, e.parsed)...)
	}
	return stage.Extraction{Fields: f, Evidence: ev, Extractor: "rules", Flags: flags}, nil
}

// Extract reads the default schema's fields from layout text.
func Extract(text string) stage.Fields {
	f, _ := Read(text)
	return f
}

// Read reads the default schema's fields from layout text, with the evidence of every
// value.
func Read(text string) (stage.Fields, stage.FieldEvidence) {
	return read(newPage(text))
}

func read(p *page) (stage.Fields, stage.FieldEvidence) {
	f, ev := stage.Fields{}, stage.FieldEvidence{}
	if ref, ok := pageNumber(p.refs); ok {
		f[stage.FieldAccountNumber] = ref.Printed
		ev[stage.FieldAccountNumber] = []stage.Evidence{refEvidence(ref)}
	}
	if hs := findHolders(p); len(hs) > 0 {
		names := make([]string, len(hs))
		evs := make([]stage.Evidence, len(hs))
		for i, h := range hs {
			names[i], evs[i] = h.name, h.ev
		}
		f[stage.FieldAccountHolders] = names
		ev[stage.FieldAccountHolders] = evs
	}
	if ph, e, ok := findPhone(p); ok {
		f[stage.FieldPhoneNumber] = ph
		ev[stage.FieldPhoneNumber] = []stage.Evidence{e}
	}
	if a, e, ok := findAddress(p); ok {
		f[stage.FieldAddress] = a
		ev[stage.FieldAddress] = []stage.Evidence{e}
	}
	for _, es := range ev {
		for i := range es {
			es[i].Confidence = stage.RoundConfidence(es[i].Confidence) // 0.9 - 0.05 is not 0.85 in floating point
		}
	}
	return f, ev
}

// pageNumber is the account number a page prints: after a label, else in a section header,
// else the first of a table.
func pageNumber(refs []accountRef) (accountRef, bool) {
	for _, kind := range []refKind{refLabel, refHeader, refTable} {
		for _, r := range refs {
			if !r.Suffix && r.Kind == kind {
				return r, true
			}
		}
	}
	return accountRef{}, false
}

func refEvidence(r accountRef) stage.Evidence {
	switch r.Kind {
	case refHeader:
		return stage.Evidence{Value: r.Printed, Confidence: 0.9, Source: stage.EvidenceTable, Detail: fmt.Sprintf("in the section header %q", r.Label)}
	case refTable:
		return stage.Evidence{Value: r.Printed, Confidence: 0.85, Source: stage.EvidenceTable, Detail: fmt.Sprintf("first row under the column %q", r.Label)}
	}
	return stage.Evidence{Value: r.Printed, Confidence: 0.95, Source: stage.EvidenceLabel, Detail: fmt.Sprintf("after %q", r.Label)}
}
