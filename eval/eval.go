package eval

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/idp/idp/stage"
)

// Scores compares results with ground truth: per-field precision, recall and F1, page ->
// account accuracy and its confusion, how many documents got exactly the right set of
// accounts, and every mistake.
type Scores struct {
	Fields        map[string]*PRF
	Pages         int
	PagesCorrect  int
	Confusion     Confusion
	Documents     int
	ExactAccounts int
	Mistakes      []Mistake
}

// Confusion counts pages by what the truth and the result say of their account.
type Confusion struct {
	Right        int `json:"right_account"`   // in an account, and in that one
	WrongAccount int `json:"another_account"` // in an account, put in another
	Missed       int `json:"missed"`          // in an account, put in none
	Spurious     int `json:"spurious"`        // in none, put in an account
	RightNone    int `json:"right_none"`      // in none, and in none
}

// Mistake is one wrong or missing value, or one page in the wrong account.
type Mistake struct {
	File  string `json:"file"`
	Page  int    `json:"page"`
	Field string `json:"field"` // a field name, or "account" for the page's account
	Got   string `json:"got"`
	Want  string `json:"want"`
}

// PRF counts true positives, false positives and false negatives. A wrong value counts as
// one false positive and one false negative.
type PRF struct{ TP, FP, FN int }

// Precision is TP / (TP + FP), 1 when nothing was predicted.
func (p PRF) Precision() float64 { return ratio(p.TP, p.TP+p.FP) }

// Recall is TP / (TP + FN), 1 when nothing was expected.
func (p PRF) Recall() float64 { return ratio(p.TP, p.TP+p.FN) }

// F1 is the harmonic mean of precision and recall.
func (p PRF) F1() float64 {
	pr, rc := p.Precision(), p.Recall()
	if pr+rc == 0 {
		return 0
	}
	return 2 * pr * rc / (pr + rc)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// NewScores returns empty scores.
func NewScores() *Scores { return &Scores{Fields: map[string]*PRF{}} }

// Overall sums every field.
func (s *Scores) Overall() PRF {
	var t PRF
	for _, p := range s.Fields {
		t.TP += p.TP
		t.FP += p.FP
		t.FN += p.FN
	}
	return t
}

// PageAccuracy is the share of pages mapped to the right account (or rightly to none).
func (s *Scores) PageAccuracy() float64 { return ratio(s.PagesCorrect, s.Pages) }

// ExactAccountRate is the share of documents whose account set is exactly right.
func (s *Scores) ExactAccountRate() float64 { return ratio(s.ExactAccounts, s.Documents) }

// Add scores one document.
func (s *Scores) Add(got, want stage.Result) {
	s.Documents++
	gotSet, wantSet := accountSet(got), accountSet(want)
	if slices.Equal(gotSet, wantSet) {
		s.ExactAccounts++
	}
	gotPages := map[int]stage.PageResult{}
	for _, p := range got.Pages {
		gotPages[p.Page] = p
	}
	file := want.File
	if file == "" {
		file = got.DocID
	}
	for _, wp := range want.Pages {
		s.Pages++
		gp, ok := gotPages[wp.Page]
		if !ok {
			gp = stage.PageResult{Page: wp.Page, AccountIndex: -1}
		}
		if s.countPage(gp, wp) {
			s.PagesCorrect++
		} else {
			s.Mistakes = append(s.Mistakes, Mistake{File: file, Page: wp.Page, Field: "account", Got: accountOf(gp), Want: accountOf(wp)})
		}
		for _, field := range fieldNames(wp.Data, gp.Data) {
			prf := s.Fields[field]
			if prf == nil {
				prf = &PRF{}
				s.Fields[field] = prf
			}
			g, w := compareKeys(field, gp.Data[field]), compareKeys(field, wp.Data[field])
			for _, k := range w {
				if slices.Contains(g, k) {
					prf.TP++
				} else {
					prf.FN++
				}
			}
			wrong := false
			for _, k := range g {
				if !slices.Contains(w, k) {
					prf.FP++
					wrong = true
				}
			}
			for _, k := range w {
				wrong = wrong || !slices.Contains(g, k)
			}
			if wrong {
				s.Mistakes = append(s.Mistakes, Mistake{File: file, Page: wp.Page, Field: field, Got: show(gp.Data[field]), Want: show(wp.Data[field])})
			}
		}
	}
}

// countPage adds a page to the confusion and reports whether its account is right.
func (s *Scores) countPage(got, want stage.PageResult) bool {
	c := &s.Confusion
	switch gotIn, wantIn := got.AccountIndex >= 0, want.AccountIndex >= 0; {
	case wantIn && gotIn && stage.Digits(got.AccountNumber) == stage.Digits(want.AccountNumber):
		c.Right++
		return true
	case wantIn && gotIn:
		c.WrongAccount++
	case wantIn:
		c.Missed++
	case gotIn:
		c.Spurious++
	default:
		c.RightNone++
		return true
	}
	return false
}

func accountOf(p stage.PageResult) string {
	if p.AccountIndex < 0 {
		return "none"
	}
	return fmt.Sprintf("%d (%s)", p.AccountIndex, p.AccountNumber)
}

func show(v any) string {
	if v == nil {
		return "-"
	}
	return strings.Join(stage.Values(v), "; ")
}

func fieldNames(a, b stage.Fields) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func accountSet(r stage.Result) []string {
	var out []string
	for _, a := range r.Accounts {
		out = append(out, stage.Digits(a.AccountNumber))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// compareKeys turns a field's value into the keys it is compared by (DESIGN.md, "Fields and
// the result format"): an account number by its digits, holders as a set of names, a phone
// by its last 10 digits, anything else by its letters and digits.
func compareKeys(field string, v any) []string {
	var keys []string
	for _, s := range stage.Values(v) {
		var k string
		switch field {
		case stage.FieldAccountNumber:
			k = stage.Digits(s)
		case stage.FieldAccountHolders:
			k = stage.NameKey(s)
		case stage.FieldPhoneNumber:
			k = stage.Digits(s)
			if len(k) > 10 {
				k = k[len(k)-10:]
			}
		default:
			k = strings.Map(func(r rune) rune {
				if unicode.IsLetter(r) || unicode.IsDigit(r) {
					return unicode.ToLower(r)
				}
				return -1
			}, s)
		}
		if k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Print writes the scores as a table.
func (s *Scores) Print(w io.Writer) {
	fmt.Fprintf(w, "%-16s %9s %9s %9s %6s %6s %6s\n", "field", "precision", "recall", "f1", "tp", "fp", "fn")
	for _, name := range fieldNames(nil, fieldsOf(s)) {
		p := s.Fields[name]
		fmt.Fprintf(w, "%-16s %9.3f %9.3f %9.3f %6d %6d %6d\n", name, p.Precision(), p.Recall(), p.F1(), p.TP, p.FP, p.FN)
	}
	o := s.Overall()
	fmt.Fprintf(w, "%-16s %9.3f %9.3f %9.3f %6d %6d %6d\n", "all fields", o.Precision(), o.Recall(), o.F1(), o.TP, o.FP, o.FN)
	fmt.Fprintf(w, "page -> account accuracy: %.3f (%d/%d pages)\n", s.PageAccuracy(), s.PagesCorrect, s.Pages)
	c := s.Confusion
	fmt.Fprintf(w, "page -> account confusion  %12s %12s %12s\n", "its account", "another", "none")
	fmt.Fprintf(w, "  in an account (truth)    %12d %12d %12d\n", c.Right, c.WrongAccount, c.Missed)
	fmt.Fprintf(w, "  in none (truth)          %12s %12d %12d\n", "-", c.Spurious, c.RightNone)
	fmt.Fprintf(w, "exact account sets:       %.3f (%d/%d documents)\n", s.ExactAccountRate(), s.ExactAccounts, s.Documents)
}

// PrintMistakes lists every mistake: a page in the wrong account, a wrong or missing value.
func (s *Scores) PrintMistakes(w io.Writer) {
	for _, m := range s.Mistakes {
		fmt.Fprintf(w, "%s page %d %s: got %q, want %q\n", m.File, m.Page, m.Field, m.Got, m.Want)
	}
}

func fieldsOf(s *Scores) stage.Fields {
	f := stage.Fields{}
	for k := range s.Fields {
		f[k] = true
	}
	return f
}
