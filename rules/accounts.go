package rules

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/idp/idp/stage"
)

// Account and loan numbers are read where a number is said to be one: after its label, under
// an "Account number" column of a table, or in the header of an account's section of a
// statement. A bare long number (a transaction reference, a check, routing or phone number,
// a batch or NMLS id) is never one.

// accountLabel matches the labels of an account or loan number, OCR-tolerant: "Account
// Number", "Account No.", "Acct #", "Acct. No.", "A/C No", "Loan Number", "Loan #", "Loan
// Account Number", "Lender Loan No.", "Agency Case No.", "Acc0unt Numb3r", "toan Number" (an L
// read as t).
var accountLabel = regexp.MustCompile(`(?i)\b(?:` +
	`[lIt][o0]an(?:\s+acc[o0]unt)?\s*(?:n[uo0]mb[e3]r|n[o0]\.?|num\.?|#|ff|H\b)` +
	`|(?:acc[o0]unt|acct\.?|a/c)\s*(?:n[uo0]mb[e3]r|n[o0]\.?|num\.?|#|ff|H\b)` +
	`|agency\s+case\s*(?:n[uo0]mb[e3]r|n[o0]\.?|#)` +
	`|acc[o0]unt\s*:` +
	`)\s*[:.#]?\s*`)

// accountValue is an account number right after its label: digits (and the letters OCR
// mistakes for digits, and a first 5 read as §) in groups separated by single dashes or
// spaces.
var accountValue = regexp.MustCompile(`^[:.#\s]*([0-9OoIlSB§]` + numberTail + `[\]|]?)`)

// numberTail is what follows an account number's first digit: digits (or the letters OCR
// mistakes for them) in groups separated by single dashes or spaces.
const numberTail = `(?:[0-9OoIlSB]|[- ][0-9OoIlSB]){4,28}`

// accountSuffix matches a partial reference: "Account ending in 0097", "Acct ending 0097".
var accountSuffix = regexp.MustCompile(`(?i)\b(?:acc[o0]unt|acct\.?)\s+(?:number\s+)?(?:ending|ends)(?:\s+in)?\s*[:#]?\s*[xX*]*([0-9OoIlSB]{4})\b`)

// masked is a number printed with all but its last digits hidden: "XXXXXX1543", "****1543",
// "XXXX-XXXX-1543".
var masked = regexp.MustCompile(`^[:#\s]*(?:[xX*•.]{2,}[- ]?)+([0-9OoIlSB]{4})\b`)

// accountKinds are the words that name an account's type in a table row or a section header.
const accountKinds = `checking|savings|money\s+market|loan|mortgage|certificate|cd|ira|share\s+draft|shares?`

// sectionHeader matches the heading above an account's part of a statement: "CHECKING 0071
// 2290 4415", "Way2Save Savings - 3525118722", "Savings account 3525 1187 2290", "Account
// summary for Everyday Checking 0071229044" (OCR may break "for": "fo r"), "Money Market
// XXXXXX2290". The number (or its masked form) ends the cell or is the next cell.
var sectionHeader = regexp.MustCompile(`(?i)^(?:(?:account\s+)?summary\s+(?:f\s?o\s?r|o\s?f)\s+)?(?:[A-Za-z0-9'&]+\s+){0,3}?(?:` + accountKinds + `)(?:\s+account)?(?:\s+(?:number|no\.?|#))?\s*[-–—:#]?\s*$`)

var kindWord = regexp.MustCompile(`(?i)\b(?:` + accountKinds + `)\b`)

var ocrDigit = strings.NewReplacer("O", "0", "o", "0", "I", "1", "l", "1", "|", "1", "]", "1", "S", "5", "§", "5", "B", "8")

// refKind says where a number was read.
type refKind int

const (
	refLabel  refKind = iota // after an account or loan number label
	refHeader                // in the header of an account's section
	refTable                 // under an "Account number" column
)

// accountRef is one account number found on a page.
type accountRef struct {
	Printed string // as printed, OCR confusions mended ("4401-2231-0097")
	Digits  string // digits only: what accounts are compared by
	Label   string // the label, header or column it was read by
	Suffix  bool   // only the last digits were printed ("ending in 0097", "XXXXXX0097")
	Kind    refKind
	Row     int
}

// findAccountRefs returns the account and loan numbers a page prints where a number is
// said to be one, in reading order.
func findAccountRefs(rows []row) []accountRef {
	var refs []accountRef
	for i, r := range rows {
		if sectionHeaderRow(r) && !accountLabel.MatchString(r.cells[0]) {
			if ref, ok := headerRef(r); ok {
				ref.Row = i
				refs = append(refs, ref)
				continue
			}
		}
		for j, c := range r.cells {
			for _, m := range accountLabel.FindAllStringIndex(c, -1) {
				label := strings.TrimSpace(c[m[0]:m[1]])
				rest := c[m[1]:]
				vs := valuesOf(rows, i, j, rest)
				found := false
				for _, v := range vs {
					if num, ok := accountNumberAt(v.text); ok {
						refs = append(refs, accountRef{Printed: num, Digits: stage.Digits(num), Label: label, Row: v.row})
						found = true
						break
					}
					if mm := masked.FindStringSubmatch(v.text); mm != nil {
						d := ocrDigit.Replace(mm[1])
						refs = append(refs, accountRef{Printed: d, Digits: d, Label: label, Suffix: true, Row: v.row})
						found = true
						break
					}
				}
				if !found && strings.TrimSpace(strings.TrimLeft(rest, ":.# ")) == "" {
					if num, row, ok := valueBefore(rows, i, j, c[:m[0]]); ok {
						refs = append(refs, accountRef{Printed: num, Digits: stage.Digits(num), Label: label, Row: row})
					}
				}
				// A column heading: every row of the table below has its number.
				if strings.TrimSpace(strings.TrimLeft(rest, ":.# ")) == "" && m[0] == 0 && len(vs) > 0 && vs[0].row == i+1 {
					refs = append(refs, tableRefs(rows, i, j, label)...)
				}
			}
			for _, m := range accountSuffix.FindAllStringSubmatch(c, -1) {
				d := ocrDigit.Replace(m[1])
				refs = append(refs, accountRef{Printed: d, Digits: d, Label: strings.TrimSpace(m[0]), Suffix: true, Row: i})
			}
		}
	}
	return dedupeRefs(refs)
}

// numberBefore is an account number that ends a cell's text before its label: OCR reads a
// form's box "Lender Loan No." with the number written in it as "Lender 0073479814 Loan
// No.".
var numberBefore = regexp.MustCompile(`(?:^|\s)([0-9OoIlSB]` + numberTail + `)\s*$`)

// valueBefore is the number of a label with none after it or below it, printed before it:
// at the end of the label's cell before the label (the number inside the label's box), or,
// for a label alone in its cell, alone in the cell above (a form whose captions are printed
// under the line written on, "000496981168" over "ACCOUNT #"), unless it is shaped as a
// phone number.
func valueBefore(rows []row, i, j int, before string) (string, int, bool) {
	if strings.TrimSpace(before) != "" {
		m := numberBefore.FindStringSubmatch(before)
		if m == nil || strings.ContainsAny(before[:len(before)-len(m[0])], "0123456789") {
			return "", 0, false
		}
		num, ok := accountNumberAt(m[1])
		return num, i, ok
	}
	if i == 0 || j >= len(rows[i-1].cells) {
		return "", 0, false
	}
	above := strings.TrimSpace(rows[i-1].cells[j])
	num, ok := accountNumberAt(above)
	if !ok || len(stage.Digits(num)) != len(stage.Digits(ocrDigit.Replace(above))) {
		return "", 0, false // more than the number in the cell
	}
	if phoneShaped.MatchString(above) {
		return "", 0, false // a phone's line: its caption is further down
	}
	return num, i - 1, true
}

// phoneShaped is a US phone number's grouping: 3, 3 and 4 digits, perhaps after a 1.
var phoneShaped = regexp.MustCompile(`^(?:\+?1[-. ]?)?\(?\d{3}\)?[-. ]?\d{3}[-. ]\d{4}$`)

// valuesOf is valueCandidates for the rows of a page without the page.
func valuesOf(rows []row, i, j int, rest string) []value {
	return (&page{rows: rows}).valueCandidates(i, j, rest)
}

// dedupeRefs drops a table reference read again as the label's first value (a column
// heading over one row reads as a label and its value).
func dedupeRefs(refs []accountRef) []accountRef {
	var out []accountRef
	for _, r := range refs {
		dup := false
		for k, o := range out {
			if o.Digits == r.Digits && o.Row == r.Row && o.Suffix == r.Suffix {
				if r.Kind == refTable && o.Kind == refLabel {
					out[k].Kind = refTable
				}
				dup = true
			}
		}
		if !dup {
			out = append(out, r)
		}
	}
	return out
}

// tableRefs reads the rows under a column heading at rows[i].cells[j]: each row's cell j
// while it holds an account number. One row is a label above its value, not a table.
func tableRefs(rows []row, i, j int, heading string) []accountRef {
	var refs []accountRef
	for k := i + 1; k < len(rows) && k <= i+12; k++ {
		cells := rows[k].cells
		var num string
		var ok bool
		if j < len(cells) {
			num, ok = accountNumberAt(cells[j])
		}
		if !ok {
			break
		}
		// The row's type ("Everyday Checking") tells the account apart in the evidence.
		label := heading
		if j > 0 {
			label = heading + " (" + cells[0] + ")"
		}
		refs = append(refs, accountRef{Printed: num, Digits: stage.Digits(num), Label: label, Kind: refTable, Row: k})
	}
	if len(refs) < 2 {
		return nil
	}
	return refs
}

// sectionHeaderRow reports whether a row can be a section header: it does not start with a
// date (a transaction) and its first cell names an account type.
func sectionHeaderRow(r row) bool {
	first := r.cells[0]
	return len(first) < 90 && first != "" && !unicode.IsDigit(rune(first[0])) && kindWord.MatchString(first)
}

// headerRef reads a section header's number: at the end of its first cell after the type
// words, or alone in the next cell.
func headerRef(r row) (accountRef, bool) {
	first := strings.TrimLeft(r.cells[0], "-–—•·*\"'‘’“”° ") // specks OCR put before it
	cands := []struct{ words, num string }{}
	// The number inside the first cell: the longest tail that reads as a number.
	for k := 1; k < len(first); k++ {
		if first[k-1] == ' ' || first[k-1] == '-' || first[k-1] == '#' || first[k-1] == ':' {
			cands = append(cands, struct{ words, num string }{first[:k], first[k:]})
		}
	}
	// Or alone in the next cell, with nothing else on the row but a page number: a table's
	// row has more cells (a balance, a page).
	if len(r.cells) == 2 || len(r.cells) == 3 && strings.Contains(strings.ToLower(r.cells[2]), "page") {
		cands = append(cands, struct{ words, num string }{first, r.cells[1]})
	}
	for _, c := range cands {
		if !sectionHeader.MatchString(strings.TrimSpace(c.words)) {
			continue
		}
		label := strings.TrimSpace(c.words)
		num := strings.TrimSpace(c.num)
		if n, ok := accountNumberAt(num); ok && len(stage.Digits(n)) == len(stage.Digits(ocrDigit.Replace(strings.TrimRight(num, "- ")))) {
			return accountRef{Printed: n, Digits: stage.Digits(n), Label: label, Kind: refHeader}, true
		}
		if m := masked.FindStringSubmatch(num); m != nil {
			d := ocrDigit.Replace(m[1])
			return accountRef{Printed: d, Digits: d, Label: label, Kind: refHeader, Suffix: true}, true
		}
	}
	return accountRef{}, false
}

// accountNumberAt reads an account number at the start of s.
func accountNumberAt(s string) (string, bool) {
	// OCR glues quotes and specks to the front of a value.
	s = strings.TrimLeft(s, " \"'‘’“”`*°")
	m := accountValue.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	raw := strings.TrimRight(m[1], "- ")
	// A closing bracket or bar is a 1 the OCR misread at the end of the number.
	// A letter run is a word, not a misread digit: require mostly real digits.
	real, all := 0, 0
	for _, r := range raw {
		if r == '-' || r == ' ' {
			continue
		}
		all++
		if r >= '0' && r <= '9' {
			real++
		}
	}
	if all < 6 || all > 20 || real*10 < all*7 {
		return "", false
	}
	// A following letter glued to the value ("12345678Statement") means we are inside a
	// word.
	after := s[len(m[0]):]
	if after != "" {
		if r := []rune(after)[0]; unicode.IsLetter(r) && !strings.HasPrefix(after, " ") {
			return "", false
		}
	}
	return ocrDigit.Replace(raw), true
}
