package rules

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/idp/idp/stage"
)

// Label-driven reading of layout text, shared by the account splitter and the built-in
// extractor. Real statements are read through OCR, so the patterns allow for its usual
// confusions (0/O, 1/l/I, 5/S, 8/B, # read as H or ff) and for labels and values that sit in
// separate cells of a row.

// row is one line of layout text split into its cells.
type row struct {
	cells []string
}

func parseRows(text string) []row {
	var rows []row
	for _, line := range strings.Split(text, "\n") {
		var cells []string
		for _, c := range strings.Split(line, stage.CellSep) {
			// A cell with no letter or digit is a rule, a bullet or OCR noise.
			if c = strings.TrimSpace(c); stage.AlnumCount(c) > 0 {
				cells = append(cells, c)
			}
		}
		if len(cells) > 0 {
			rows = append(rows, row{cells: cells})
		}
	}
	return rows
}

// --- account and loan numbers ---

// accountLabel matches the labels of an account or loan number, OCR-tolerant: "Account
// Number", "Account No.", "Acct #", "Acct. No.", "A/C No", "Loan Number", "Loan #", "Loan
// Account Number", "Acc0unt Numb3r".
var accountLabel = regexp.MustCompile(`(?i)\b(?:` +
	`l[o0]an(?:\s+acc[o0]unt)?\s*(?:n[uo0]mb[e3]r|n[o0]\.?|num\.?|#|ff|H\b)` +
	`|(?:acc[o0]unt|acct\.?|a/c)\s*(?:n[uo0]mb[e3]r|n[o0]\.?|num\.?|#|ff|H\b)` +
	`|acc[o0]unt\s*:` +
	`)\s*[:.#]?\s*`)

// accountValue is an account number right after its label: digits (and the letters OCR
// mistakes for digits) in groups separated by single dashes or spaces.
var accountValue = regexp.MustCompile(`^[:.#\s]*([0-9OoIlSB](?:[0-9OoIlSB]|[- ][0-9OoIlSB]){4,28}[\]|]?)`)

// accountSuffix matches a partial reference: "Account ending in 0097", "Acct ending 0097".
var accountSuffix = regexp.MustCompile(`(?i)\b(?:acc[o0]unt|acct\.?)\s+(?:number\s+)?(?:ending|ends)(?:\s+in)?\s*[:#]?\s*[xX*]*([0-9OoIlSB]{4})\b`)

var ocrDigit = strings.NewReplacer("O", "0", "o", "0", "I", "1", "l", "1", "|", "1", "]", "1", "S", "5", "B", "8")

// accountRef is one account number found on a page.
type accountRef struct {
	Printed string // as printed, OCR confusions mended ("4401-2231-0097")
	Digits  string // digits only: what accounts are compared by
	Label   string // the label it followed
	Suffix  bool   // only the last digits were printed ("ending in 0097")
}

// findAccountRefs returns the account and loan numbers printed next to their labels on a
// page, in reading order. A bare long number (a transaction reference, a routing number, a
// phone number) is never one.
func findAccountRefs(rows []row) []accountRef {
	var refs []accountRef
	for i, r := range rows {
		for j, c := range r.cells {
			for _, m := range accountLabel.FindAllStringIndex(c, -1) {
				label := strings.TrimSpace(c[m[0]:m[1]])
				for _, v := range valueCandidates(rows, i, j, c[m[1]:]) {
					if num, ok := accountNumberAt(v); ok {
						refs = append(refs, accountRef{Printed: num, Digits: stage.Digits(num), Label: label})
						break
					}
				}
			}
			for _, m := range accountSuffix.FindAllStringSubmatch(c, -1) {
				d := ocrDigit.Replace(m[1])
				refs = append(refs, accountRef{Printed: d, Digits: d, Label: strings.TrimSpace(m[0]), Suffix: true})
			}
		}
	}
	return refs
}

// valueCandidates are the places the value of a label in rows[i].cells[j] may be, best
// first: the rest of its cell; or, when the label ends its cell, the next cell of the row,
// then the cell below it (a form's box puts the value under its label), then the other
// cells of the row below.
func valueCandidates(rows []row, i, j int, rest string) []string {
	if rest = strings.TrimSpace(strings.TrimLeft(rest, ":;.#- ")); rest != "" {
		return []string{rest}
	}
	var out []string
	if j+1 < len(rows[i].cells) && !labelLike(rows[i].cells[j+1]) {
		out = append(out, rows[i].cells[j+1])
	}
	if i+1 < len(rows) {
		below := rows[i+1].cells
		if j < len(below) && !labelLike(below[j]) {
			out = append(out, below[j])
		}
		for k, c := range below {
			if k != j && !labelLike(c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// labelLike reports whether a cell reads as a label rather than a value: it ends with a
// colon, or it is a few capitalised words without digits or commas that are not a name
// ("ACCOUNT TYPE").
func labelLike(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ":") {
		return true
	}
	if s != strings.ToUpper(s) || strings.ContainsAny(s, "0123456789,") || len(strings.Fields(s)) > 5 {
		return false
	}
	return !LooksLikeName(s)
}

// accountNumberAt reads an account number at the start of s.
func accountNumberAt(s string) (string, bool) {
	// OCR glues quotes and specks to the front of a value.
	s = strings.TrimLeft(s, " \"'‘’“”`*")
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

// --- labelled values ---

// labelled finds cells that start with a label matching re and returns each value: the rest
// of the cell after a colon, or, when the label stands alone in its cell, the next cell of
// the row or the cell below (valueCandidates). skip, when non-nil, rejects a match by its
// label text.
func labelled(rows []row, re *regexp.Regexp, skip *regexp.Regexp) []labelHit {
	var hits []labelHit
	for i, r := range rows {
		for j, c := range r.cells {
			m := re.FindStringIndex(c)
			if m == nil || m[0] != 0 {
				continue
			}
			label := c[:m[1]]
			if skip != nil && skip.MatchString(label) {
				continue
			}
			rest := strings.TrimSpace(strings.TrimLeft(c[m[1]:], ":;.- "))
			if rest != "" && !strings.ContainsAny(label, ":;") {
				continue // "Name Change Request": a word, not a label
			}
			if vs := valueCandidates(rows, i, j, rest); len(vs) > 0 {
				hits = append(hits, labelHit{row: i, cell: j, values: vs, label: label})
			}
		}
	}
	return hits
}

// labelHit is a label and the candidates for its value, best first; the caller takes the
// first that reads as what it expects.
type labelHit struct {
	row, cell int
	values    []string
	label     string
}

// --- names ---

var holderLabel = regexp.MustCompile(`(?i)^(?:` +
	`(?:primary\s+|joint\s+|secondary\s+)?(?:account\s+)?(?:owner|holder)s?(?:\s*\(s\))?(?:\s*#?\s*\d)?(?:\s+names?(?:\s*\(s\))?)?` +
	`|co[- ]?owner(?:\s+name)?` +
	`|(?:co[- ]?)?borrower(?:'?s)?(?:\s+name)?` +
	`|(?:co[- ]?)?applicant(?:'?s)?(?:\s+name)?` +
	`|customer\s+name|names?\s*\(s\)(?:\s+on\s+(?:the\s+)?account)?|names?` +
	`)(?:\s*[:;]|\s*$)`)

// notHolder rejects labels that name someone who is not an owner.
var notHolder = regexp.MustCompile(`(?i)employer|signer|verified|prepared|officer|banker|beneficiar|bank|branch|company|business`)

var nameSplit = regexp.MustCompile(`\s*(?:,|;|&|\band\b|\bAND\b|\+)\s*`)

// findHolders returns the people a page names as owners, holders, borrowers or co-borrowers:
// from their labels, or else from the unlabelled mailing block above an address, as a
// statement prints it.
func findHolders(rows []row) []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		n = CleanName(n)
		if n == "" {
			return
		}
		if k := stage.NameKey(n); !seen[k] {
			seen[k] = true
			names = append(names, n)
		}
	}
	for _, h := range labelled(rows, holderLabel, notHolder) {
		for _, v := range h.values {
			var found []string
			if m := lastFirst.FindStringSubmatch(strings.TrimSpace(v)); m != nil {
				// "GONZALEZ, MARIA L" as core banking systems print it.
				v = strings.TrimSpace(m[2] + " " + m[1] + " " + m[3])
			}
			for _, part := range nameSplit.Split(v, -1) {
				if LooksLikeName(part) {
					found = append(found, part)
				}
			}
			if len(found) > 0 {
				for _, n := range found {
					add(n)
				}
				break
			}
		}
	}
	if len(names) > 0 {
		return names
	}
	if block := mailingBlock(rows); block != nil {
		for _, n := range block.names {
			add(n)
		}
	}
	return names
}

var initialEnd = regexp.MustCompile(`\b[A-Z]\.$`)

// lastFirst matches one name printed last name first: "GONZALEZ, MARIA L", "Hall, Robert
// Jr.".
var lastFirst = regexp.MustCompile(`^([A-Z][A-Za-z'’-]+),\s*([A-Z][A-Za-z'’-]+(?:\s+[A-Z]\.?)?)(?:\s+((?:JR|SR|Jr|Sr|II|III|IV)\.?))?$`)

var honorific = regexp.MustCompile(`(?i)^(?:mr|mrs|ms|miss|dr)\.?\s+`)

func CleanName(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Trim(s, " ,;:.'\"‘’|")
	if strings.HasSuffix(s, ".") && !initialEnd.MatchString(s) {
		s = strings.TrimSuffix(s, ".")
	}
	return honorific.ReplaceAllString(s, "")
}

var nameWord = regexp.MustCompile(`^(?:[A-Z][A-Za-z'’-]*\.?|[A-Z]\.?|(?:de|da|del|van|von|la|le|di)|[A-Z][a-z]+-[A-Z][a-z]+)$`)

// notNameWord are words that do not occur in a person's name but do in headings and
// letterheads set in capitals.
var notNameWord = regexp.MustCompile(`(?i)^(?:bank|savings|credit|union|trust|federal|national|n\.a\.|account|statement|summary|period|page|balance|checking|loan|date|the|of|for|to|customer|service|total|member|fdic|detail|transaction|transactions|deposit|deposits|card|signature|application|information|property|cover|sheet|packet|document|separator|llc|inc|corp|co|group|street|st|ave|avenue|road|rd|drive|dr|lane|ln|suite|po|box|apt|number|no|phone|address|mortgage|premier|money|market|joint|individual|owner|borrower|type)\.?$`)

// looksLikeName accepts "Maria L. Gonzalez", "MARIA L GONZALEZ", "Jean-Luc O'Neil".
func LooksLikeName(s string) bool {
	s = CleanName(s)
	words := strings.Fields(s)
	if len(words) < 2 || len(words) > 5 {
		return false
	}
	long := 0
	for _, w := range words {
		if !nameWord.MatchString(w) || notNameWord.MatchString(w) {
			return false
		}
		if len(strings.Trim(w, ".")) >= 2 {
			long++
		}
	}
	return long >= 2
}

// --- addresses ---

// cityLine matches "Springfield, IL 62704" (and "SPRINGFIELD IL 62704-1234").
var cityLine = regexp.MustCompile(`^([A-Za-z][A-Za-z .'-]*?)[,.\s-]*\s?[,.-]?\s*\b([A-Z]{2})\.?,?\s+(\d{5}(?:-\d{4})?)$`)

// streetLine matches "1207 Lakeview Drive", "PO Box 12", "88 Elm St Apt 4".
var streetLine = regexp.MustCompile(`(?i)^(?:\d+[A-Za-z]?\s+[A-Za-z0-9 .'#-]+|p\.?\s*o\.?\s+box\s+\d+.*)$`)

// inlineAddress matches a whole address on one line: "1207 Lakeview Drive, Springfield, IL
// 62704".
var inlineAddress = regexp.MustCompile(`^(\d+[A-Za-z]?\s+[A-Za-z0-9 .'#-]+?),\s*([A-Za-z][A-Za-z .'-]*?)[,.\s-]*\s?[,.-]?\s*\b([A-Z]{2})\.?,?\s+(\d{5}(?:-\d{4})?)$`)

var addressLabel = regexp.MustCompile(`(?i)^(?:(?:mailing|present|current|residential|home|street|customer|permanent)\s+)?address(?:\s*[:;]|\s*$)`)

// cityLabel is the label of a separate city line: "City, State ZIP:", "City/State/Zip:".
var cityLabel = regexp.MustCompile(`(?i)^city\s*[,/]?\s*(?:state|st)\.?\s*[,/]?\s*(?:zip|postal)(?:\s*code)?\s*[:;]?\s*`)

func formatAddress(street, city, state, zip string) string {
	return strings.Join(strings.Fields(street), " ") + ", " + strings.Join(strings.Fields(city), " ") + ", " + state + " " + zip
}

// findAddress returns the customer's postal address on a page: after an address label (on
// one line, or a street line with the city on the next row), or else the address of the
// mailing block. Property, employer and bank addresses are not the customer's.
func findAddress(rows []row) string {
	for _, h := range labelled(rows, addressLabel, nil) {
		for _, v := range h.values {
			v = strings.TrimSpace(v)
			if m := inlineAddress.FindStringSubmatch(v); m != nil {
				return formatAddress(m[1], m[2], m[3], m[4])
			}
			if !streetLine.MatchString(v) {
				continue
			}
			// The city line sits below the street: on the next row, or the one after when
			// the street itself was below its label; it may carry its own label.
			for k := h.row + 1; k < len(rows) && k <= h.row+2; k++ {
				for _, c := range rows[k].cells {
					c = cityLabel.ReplaceAllString(c, "")
					if m := cityLine.FindStringSubmatch(strings.TrimSpace(c)); m != nil {
						return formatAddress(v, m[1], m[2], m[3])
					}
				}
			}
		}
	}
	if block := mailingBlock(rows); block != nil {
		return block.address
	}
	return ""
}

type mailing struct {
	names   []string
	address string
}

// mailingBlock finds the unlabelled name-and-address block of a statement: a street line, a
// city line right below it, and one to three name lines right above, all in the first cell
// of their rows.
func mailingBlock(rows []row) *mailing {
	for i := 1; i+1 < len(rows); i++ {
		street := rows[i].cells[0]
		city := cityLine.FindStringSubmatch(rows[i+1].cells[0])
		if city == nil || !streetLine.MatchString(street) || !hasLetters(street) {
			continue
		}
		var names []string
		for j := i - 1; j >= 0 && j >= i-3; j-- {
			c := rows[j].cells[0]
			if !LooksLikeName(c) {
				break
			}
			names = append([]string{CleanName(c)}, names...)
		}
		if len(names) == 0 {
			continue
		}
		return &mailing{names: names, address: formatAddress(street, city[1], city[2], city[3])}
	}
	return nil
}

func hasLetters(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// --- phone numbers ---

var phoneLabel = regexp.MustCompile(`(?i)^(?:(?:home|cell|mobile|daytime|evening|primary|contact|customer)\s+)?(?:phone|telephone|tel\.?|ph\.?)(?:\s+(?:number|no\.?|#))?(?:\s*[:;]|\s*$)`)

var notCustomerPhone = regexp.MustCompile(`(?i)employer|work|business|office|bank|branch|fax|service|toll`)

// phoneValue is a phone number at the start of a value: digits (and the letters OCR mistakes
// for digits) with the separators people print, OCR's stray spaces included.
var phoneValue = regexp.MustCompile(`^[\s.:;'"‘’]*(\+?[0-9OoIlSB(][0-9OoIlSB()+.\-\s]{8,20}[0-9OoIlSB])`)

// findPhone returns the customer's phone number on a page, after a phone label; an
// employer's, the bank's or a service line is not the customer's.
func findPhone(rows []row) string {
	for _, h := range labelled(rows, phoneLabel, notCustomerPhone) {
		for _, v := range h.values {
			m := phoneValue.FindStringSubmatch(v)
			if m == nil {
				continue
			}
			printed := strings.TrimSpace(ocrDigit.Replace(m[1]))
			d := stage.Digits(printed)
			if len(d) == 10 || (len(d) == 11 && d[0] == '1') {
				return printed
			}
		}
	}
	return ""
}
