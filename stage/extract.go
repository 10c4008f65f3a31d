package stage

import "context"

// Extractor reads the schema's fields from one page (stage 4). The built-in rules extractor
// is the default; an LLM extractor implements the same interface.
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
	// Unsure is the page's words OCR was unsure of (PageText.Unsure).
	Unsure []Word
	// Related are other pages of the document, nearest first (RelatedPages): the same
	// address, name or phone is often printed on several pages, and a value OCR read on
	// this page one way and on others another is likely misread on one of them. An
	// extractor may check the page's values against them; none when the pages are not yet
	// all read.
	Related []PageText
}

// MaxRelated bounds ExtractInput.Related: an extractor that reads them costs that many
// pages' reading per page, and a value is printed again close to where it was first.
const MaxRelated = 12

// RelatedPages are the pages of doc nearest to page, at most MaxRelated, nearest first (the
// one before first at the same distance): neither page itself nor a page with nothing to
// read (blank, or quarantined).
func RelatedPages(doc []PageText, page int) []PageText {
	var out []PageText
	for d := 1; len(out) < MaxRelated && (page-d >= 0 || page+d < len(doc)); d++ {
		for _, i := range []int{page - d, page + d} {
			if i >= 0 && i < len(doc) && len(out) < MaxRelated && !doc[i].Blank && doc[i].Error == "" && doc[i].Text != "" {
				out = append(out, doc[i])
			}
		}
	}
	return out
}

// Extraction is what an extractor read on a page.
type Extraction struct {
	Fields Fields
	// Evidence says why each value was given and how sure the extractor is.
	Evidence FieldEvidence
	// Extractor is the name of what produced the fields (it may differ from the configured
	// extractor's when a fallback answered).
	Extractor string
	// Tokens spent, when the extractor is a model.
	PromptTokens     int
	CompletionTokens int
	// Flags note values that were dropped or repaired, for review.
	Flags []string
}

// Fields are the extracted values of one page, keyed by schema field name. A field not
// printed on the page is absent.
type Fields map[string]any

// The default schema's fields.
const (
	FieldAccountNumber  = "Account_Number"
	FieldAccountHolders = "Account_Holders"
	FieldPhoneNumber    = "Phone_Number"
	FieldAddress        = "Address"
)
