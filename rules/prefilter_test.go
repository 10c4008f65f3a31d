package rules

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestLiteralStarts(t *testing.T) {
	tests := []struct {
		expr string
		want []string // nil: no prefilter
	}{
		{`(?i)employ|lender`, []string{"employ", "lender"}},
		{`(?i)contact\s+us|customer\s+service`, []string{"contact", "customer"}},
		{`(?i)\bagent\b|return\s+(?:address|mail)`, []string{"agent", "return"}},
		{`FDIC|Bank`, []string{"fdic", "bank"}},
		{`(?i)^(?:to|from)\s*:`, []string{"to", "from"}},
		{`(?i)^(?:(?:home|cell)\s+)*(?:phone|tel)`, []string{"home", "cell", "phone", "tel"}},
		{`(?i)(?:full\s+)?names?`, []string{"full", "name"}},
		{`(?i)(?:full\s+)?\d`, nil},
		{`(?i)employ|\d+`, nil},
		{`(?i)[ab]c`, nil},
		{`(?i)x?employ`, []string{"x", "employ"}},
		{`(?i)x*`, nil},
	}
	for _, tt := range tests {
		got := mustKeywords(tt.expr).lits
		slices.Sort(got)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: literal starts %q, want %q", tt.expr, got, want)
		}
	}
}

// TestKeywordsMatchTheExpression: the prefilter never changes an answer, on lines built
// from the expressions' own words (in every case, cut, glued to others) and on non-ASCII
// letters that fold to ASCII ones (the long s, the Kelvin sign).
func TestKeywordsMatchTheExpression(t *testing.T) {
	exprs := map[string]keywords{"otherParty": otherParty, "customerParty": customerParty, "notAccountPage": notAccountPage,
		"addressLabel": addressLabel, "holderLabel": holderLabel, "phoneLabel": phoneLabel}
	pieces := []string{"Contact Us", "CUSTOMER  SERVICE", "member fdic", "Loan Packet", "cover sheet", "Co-Borrower", "Owner 2",
		"agents", "Agent", "position title", "John Smith", "123 Main St", "Phone:", "intentionally left blank", "ſeller", "\u212Aeep",
		"Return Mail", "retur n", "emplo yer", "table of contents", "Joint", "primary", "Deposit0ry", "depositary",
		"Home Phone:", "Telephone", "Ph.", "Cell (mobile)", "Mailing Address", "Property Address", "ſtreet", "Co-Borrower Name",
		"Names on Account", "Account Holder(s):", "Owner 1", "Full Legal Name", "Residence"}
	rng := rand.New(rand.NewPCG(1, 2))
	var lines []string
	for range 5000 {
		var b []string
		for range 1 + rng.IntN(4) {
			p := pieces[rng.IntN(len(pieces))]
			if rng.IntN(3) == 0 {
				p = strings.ToUpper(p)
			}
			if rng.IntN(4) == 0 && len(p) > 2 {
				cut := 1 + rng.IntN(len(p)-1)
				p = p[:cut]
			}
			b = append(b, p)
		}
		lines = append(lines, strings.Join(b, []string{" ", "", ": "}[rng.IntN(3)]))
	}
	for name, k := range exprs {
		if k.lits == nil {
			t.Errorf("%s: no literal starts: the prefilter is off", name)
		}
		re := regexp.MustCompile(k.re.String())
		for _, l := range lines {
			if got, want := k.MatchString(l), re.MatchString(l); got != want {
				t.Errorf("%s.MatchString(%q) = %v, the expression says %v", name, l, got, want)
			}
			if got, want := k.FindString(l), re.FindString(l); got != want {
				t.Errorf("%s.FindString(%q) = %q, the expression says %q", name, l, got, want)
			}
			if got, want := k.FindStringIndex(l), re.FindStringIndex(l); !slices.Equal(got, want) {
				t.Errorf("%s.FindStringIndex(%q) = %v, the expression says %v", name, l, got, want)
			}
		}
	}
}
