package rules

import (
	"context"
	"fmt"
	"strings"

	"github.com/idp/idp/stage"
)

// Splitter is the rule-based splitter:
//
//   - An account is an account or loan number printed where a number is said to be one:
//     after its label, in the header of an account's section of a statement, or under an
//     "Account number" column of a table (a statement's summary of its accounts). Bare long
//     numbers (transaction references, check, routing and phone numbers) are never
//     accounts. Two printings are the same account when their digits are equal.
//   - A page belongs to the account whose number it prints after a label or in a section
//     header (the one it prints most, the first on a tie); else to the first account of a
//     table it prints; else, when it prints only the last digits ("Account ending in
//     0097", "XXXXXX0097"), to the one account with those last digits.
//   - A page without a number continues the account of the page before it, or the account
//     of the last section header before it; a blank page belongs to none without ending the
//     run; a cover sheet, separator or fax cover belongs to none and ends it; a page before
//     any account belongs to none.
//   - Holders of an account are the people its pages name as owners, holders, borrowers or
//     applicants, in order of first appearance (a summary page's go to every account of its
//     table).
type Splitter struct {
	parsed *Parsed // nil: every call reads the pages again
}

var _ stage.AccountSplitter = Splitter{}

// Version implements stage.AccountSplitter.
func (Splitter) Version() string { return "split-" + Version }

// Split implements stage.AccountSplitter.
func (s Splitter) Split(ctx context.Context, pages []stage.PageText) ([]stage.Account, error) {
	type seen struct {
		printed string
		count   int
		ocrOnly bool // every printing of it was read by OCR
	}
	var order []string
	found := map[string]*seen{}
	for _, p := range pages {
		for _, ref := range s.parsed.page(p.Text).refs {
			if ref.Suffix {
				continue
			}
			f := found[ref.Digits]
			if f == nil {
				f = &seen{printed: ref.Printed, ocrOnly: true}
				found[ref.Digits] = f
				order = append(order, ref.Digits)
			}
			f.count++
			f.ocrOnly = f.ocrOnly && p.Source == stage.SourceOCR
		}
	}
	var accounts []stage.Account
	for _, d := range order {
		// A number read by OCR alone that differs in one digit from one printed more often
		// is that number misread, not another account. (Sequential account numbers printed
		// in a text layer stay apart.)
		f := found[d]
		if f.ocrOnly && nearestMoreFrequent(d, f.count, order, func(x string) int { return found[x].count }) != "" {
			continue
		}
		accounts = append(accounts, stage.Account{Index: len(accounts), AccountNumber: f.printed, Holders: []string{}, Pages: []int{}})
	}
	maps, err := s.MapPages(ctx, pages, accounts)
	if err != nil {
		return nil, err
	}
	s.parsed.assignPages(accounts, pages, maps)
	return accounts, nil
}

// AssignPages gives every account the pages maps puts in it, and the holders those pages
// name, in order of first appearance.
func AssignPages(accounts []stage.Account, pages []stage.PageText, maps []stage.PageMap) {
	(*Parsed)(nil).assignPages(accounts, pages, maps)
}

func (c *Parsed) assignPages(accounts []stage.Account, pages []stage.PageText, maps []stage.PageMap) {
	digits := byDigits(accounts)
	for i, m := range maps {
		if m.AccountIndex < 0 {
			continue
		}
		a := &accounts[m.AccountIndex]
		a.Pages = append(a.Pages, m.Page)
		p := c.page(pages[i].Text)
		also := map[int]bool{}
		for _, r := range p.refs {
			if idx, ok := digits[r.Digits]; ok && r.Kind == refTable && !r.Suffix && idx != m.AccountIndex {
				also[idx] = true
			}
		}
		for _, h := range findHolders(p) {
			a.Holders = AddHolder(a.Holders, h.name)
			for idx := range also {
				accounts[idx].Holders = AddHolder(accounts[idx].Holders, h.name)
			}
		}
	}
}

// PageAccount implements stage.AccountSplitter: the first full account or loan number the
// page prints next to its label.
func (s Splitter) PageAccount(page stage.PageText) string {
	ref, _ := pageNumber(s.parsed.page(page.Text).refs)
	return ref.Printed
}

// AccountOnPage is the account of accounts whose number page prints (the one it prints
// most, the first on a tie; else the one account whose last digits a partial reference
// gives), with the evidence; -1 when it prints none of them.
func AccountOnPage(page stage.PageText, accounts []stage.Account) (int, string) {
	return pickAccount(newPage(page.Text).refs, byDigits(accounts), accounts, page.Source == stage.SourceOCR)
}

func byDigits(accounts []stage.Account) map[string]int {
	m := map[string]int{}
	for _, a := range accounts {
		m[stage.Digits(a.AccountNumber)] = a.Index
	}
	return m
}

func isUpper(s string) bool { return s == strings.ToUpper(s) }

// addHolder adds name to holders unless the same person is there already; then it keeps the
// better-written form ("Maria L. Gonzalez" over "MARIA GONZALEZ").
func AddHolder(holders []string, name string) []string {
	for i, h := range holders {
		if sameName(h, name) {
			if better(name, h) {
				holders[i] = name
			}
			return holders
		}
	}
	return append(holders, name)
}

// nameSuffixes end a name without being its last name.
var nameSuffixes = map[string]bool{"jr": true, "sr": true, "ii": true, "iii": true, "iv": true}

// sameName reports whether two printings name the same person: the same first and last
// names (a suffix printed once and not the other time aside), and middle names or initials
// that agree where both have them.
func sameName(a, b string) bool {
	x, y := strings.Fields(stage.NameKey(a)), strings.Fields(stage.NameKey(b))
	if len(x) > 2 && nameSuffixes[x[len(x)-1]] {
		x = x[:len(x)-1]
	}
	if len(y) > 2 && nameSuffixes[y[len(y)-1]] {
		y = y[:len(y)-1]
	}
	if len(x) < 2 || len(y) < 2 || x[0] != y[0] || x[len(x)-1] != y[len(y)-1] {
		return false
	}
	mx, my := x[1:len(x)-1], y[1:len(y)-1]
	for i := 0; i < len(mx) && i < len(my); i++ {
		if mx[i][0] != my[i][0] {
			return false
		}
	}
	return true
}

// better prefers mixed case to capitals, then the longer form.
func better(a, b string) bool {
	if isUpper(a) != isUpper(b) {
		return !isUpper(a)
	}
	return len(a) > len(b)
}

// nearestMoreFrequent is the number among candidates, printed more often than count, that
// differs from digits in exactly one digit; "" when there is none.
func nearestMoreFrequent(digits string, count int, candidates []string, countOf func(string) int) string {
	for _, c := range candidates {
		if c != digits && countOf(c) > count && oneDigitApart(c, digits) {
			return c
		}
	}
	return ""
}

func oneDigitApart(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	diff := 0
	for i := range len(a) {
		if a[i] != b[i] {
			diff++
		}
	}
	return diff == 1
}

// ocrConfidence is the page's OCR confidence, 0 for a text layer.
func ocrConfidence(p stage.PageText) float64 {
	if p.Source != stage.SourceOCR {
		return 0
	}
	return max(p.Confidence, 0.1)
}

// notAccountPage recognises pages that belong to no account even in the middle of one.
var notAccountPage = mustKeywords(`(?i)cover\s*sheet|document\s+separator|separator\s+(?:sheet|page)|intentionally\s+(?:left\s+)?blank|table\s+of\s+contents|fax\s+cover|loan\s+(?:document\s+)?packet|document\s+package`)

// coverPage reports whether a page reads as a cover sheet or separator: by its words, or as a
// fax or memo cover (a "To:" and a "From:" line near its top).
func coverPage(p *page, text string) (string, bool) {
	if m := notAccountPage.FindString(text); m != "" {
		return m, true
	}
	to, from := false, false
	for i, r := range p.rows {
		if i >= 10 {
			break
		}
		c := strings.ToLower(r.cells[0])
		to = to || strings.HasPrefix(c, "to:") || strings.HasPrefix(c, "to ")
		from = from || strings.HasPrefix(c, "from:") || strings.HasPrefix(c, "from ")
	}
	if to && from {
		return "a fax or memo cover: To and From", true
	}
	return "", false
}

// MapPages implements stage.AccountSplitter.
func (s Splitter) MapPages(ctx context.Context, pages []stage.PageText, accounts []stage.Account) ([]stage.PageMap, error) {
	digits := byDigits(accounts)
	out := make([]stage.PageMap, len(pages))
	current, since := -1, -1
	for i, p := range pages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := stage.PageMap{Page: p.Page, AccountIndex: -1}
		pg := s.parsed.page(p.Text)
		refs := pg.refs
		ocr := p.Source == stage.SourceOCR
		idx, evidence := pickAccount(refs, digits, accounts, ocr)
		var cover string
		isCover := func() (ok bool) { // only a page without an account is asked
			cover, ok = coverPage(pg, p.Text)
			return ok
		}
		switch {
		case idx >= 0:
			m.AccountIndex, m.Evidence = idx, evidence
			if current != idx {
				since = p.Page
			}
			current = idx
		case pg.blank(ocrConfidence(p)):
			m.Evidence = "a blank page"
		case isCover():
			m.Evidence = fmt.Sprintf("no account number; reads as a cover or separator page (%q)", cover)
			current = -1
		case current >= 0:
			m.AccountIndex = current
			m.Evidence = fmt.Sprintf("no account number; continues account %d from page %d", current, since)
		default:
			m.Evidence = "no account number and no account before this page"
		}
		// The last section header on the page opens the account the next pages continue.
		for k := len(refs) - 1; k >= 0; k-- {
			if refs[k].Kind != refHeader {
				continue
			}
			if h, _ := pickAccount(refs[k:k+1], digits, accounts, ocr); h >= 0 {
				if h != current {
					since = p.Page
				}
				current = h
			}
			break
		}
		if m.AccountIndex >= 0 {
			m.AccountNumber = accounts[m.AccountIndex].AccountNumber
		}
		out[i] = m
	}
	return out, nil
}

// pickAccount chooses the page's account from its references: the full number printed most
// often after a label or in a section header (first on a tie), else the first of a table,
// else a unique match of a partial one.
func pickAccount(refs []accountRef, byDigits map[string]int, accounts []stage.Account, ocr bool) (int, string) {
	known := func(r accountRef) (int, bool) {
		idx, ok := byDigits[r.Digits]
		if !ok && ocr {
			// OCR misread one digit of a known account: take it when only one is that close.
			matches := 0
			for d, i := range byDigits {
				if oneDigitApart(d, r.Digits) {
					idx = i
					matches++
				}
			}
			ok = matches == 1
		}
		return idx, ok
	}
	count := map[int]int{}
	first := map[int]accountRef{}
	best := -1
	for _, r := range refs {
		if r.Suffix || r.Kind == refTable {
			continue
		}
		idx, ok := known(r)
		if !ok {
			continue
		}
		if _, ok := first[idx]; !ok {
			first[idx] = r
		}
		count[idx]++
		if best < 0 || count[idx] > count[best] {
			best = idx
		}
	}
	if best >= 0 {
		r := first[best]
		if r.Kind == refHeader {
			return best, fmt.Sprintf("%q printed in the section header %q", r.Printed, r.Label)
		}
		return best, fmt.Sprintf("%q printed on the page after %q", r.Printed, r.Label)
	}
	for _, r := range refs {
		if r.Kind != refTable || r.Suffix {
			continue
		}
		if idx, ok := known(r); ok {
			return idx, fmt.Sprintf("%q is the first account of the table under %q", r.Printed, r.Label)
		}
	}
	for _, r := range refs {
		if !r.Suffix {
			continue
		}
		match := -1
		for _, a := range accounts {
			if strings.HasSuffix(stage.Digits(a.AccountNumber), r.Digits) {
				if match >= 0 {
					match = -2 // ambiguous
					break
				}
				match = a.Index
			}
		}
		if match >= 0 {
			return match, fmt.Sprintf("%q matches the last digits of account %d", r.Label, match)
		}
	}
	return -1, ""
}
