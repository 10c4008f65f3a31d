package stage

import (
	"fmt"
	"math"
)

// Evidence is why an extractor gave one value of a field, and how sure it is. A page's
// data keeps its shape (field -> value); the evidence of each field's values stands beside
// it (FieldEvidence), in the stage 4 record, the result and the API's page answers.
type Evidence struct {
	// Value is the value the evidence is for (one element of a list field).
	Value string `json:"value"`
	// Confidence is from 0 (a guess) to 1 (certain). Below LowConfidence a value is shown
	// as uncertain.
	Confidence float64 `json:"confidence"`
	// Source is what the value was read by: EvidenceLabel, EvidenceTable,
	// EvidencePosition, EvidenceGrounded or EvidenceUnchecked.
	Source string `json:"source"`
	// Detail says where: the label, the column or header, the block, the grounding.
	Detail string `json:"detail,omitempty"`
}

// FieldEvidence holds, for each field of a page's data, the evidence of each of its values
// in the order of the values (one for a single value).
type FieldEvidence map[string][]Evidence

// RoundConfidence keeps a confidence to two decimals: it is a judgement, not a measurement,
// and sums such as 0.6 + 0.3 would otherwise print as 0.8999999999999999.
func RoundConfidence(c float64) float64 { return math.Round(c*100) / 100 }

// LowConfidence is the confidence under which a value is uncertain: the UI marks it.
const LowConfidence = 0.7

// Evidence sources.
const (
	// EvidenceLabel: the value follows its label, beside or below it.
	EvidenceLabel = "label"
	// EvidenceTable: the value sits under a table's column header, or under a section
	// header of a statement.
	EvidenceTable = "table"
	// EvidencePosition: the value is placed where such values are (a statement's
	// recipient block), without a label.
	EvidencePosition = "position"
	// EvidenceGrounded: a model gave the value and it is printed on the page.
	EvidenceGrounded = "grounded"
	// EvidenceUnchecked: a model gave a value the schema says not to look for on the page
	// (a classification).
	EvidenceUnchecked = "unchecked"
)

// Values lists a field's value as the strings its evidence is for: a single value as one, a
// list (as an extractor gives it, []string, or as JSON decodes it, []any) element by
// element, nil as none.
func Values(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}
