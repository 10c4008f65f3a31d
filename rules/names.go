package rules

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/idp/idp/stage"
)

// Holders are read after their role labels (owner, holder, borrower, applicant, member,
// customer, a name box), from names printed last name first, and from the unlabelled names
// above an address in a statement's recipient block or a form's "name and address" box. A
// form's captions ("POSITION TITLE", "PRINT NAME") and the names of the bank's staff, an
// employer or a lender are not holders.

var holderLabel = mustKeywords(`(?i)^(?:` +
	`(?:primary\s+|joint\s+|secondary\s+|co[- ]?)?(?:account\s+)?(?:owner|holder)s?(?:\s*\(s\))?(?:\s*#?\s*\d)?(?:\s+(?:full\s+)?names?(?:\s*\(s\))?)?` +
	`|(?:additional\s+|co[- ]?)?(?:borrower|applicant|member|customer)s?(?:'?s)?(?:\s*#?\s*\d)?(?:\s+(?:full\s+)?names?)?` +
	`|(?:primary|joint)(?:\s+(?:member|owner|applicant))?(?:\s+names?)?` +
	`|(?:full\s+)?(?:legal\s+)?names?(?:\s*\(s\))?(?:\s+on\s+(?:the\s+)?account)?` +
	`|account\s+in\s+(?:the\s+)?names?\s+of` +
	`)(?:\s*\([^)]*\))?(?:\s*[:;.]|\s|$)`)

// notHolder rejects labels that name someone who is not an owner.
var notHolder = regexp.MustCompile(`(?i)employer|signer|verified|prepared|officer|banker|beneficiar|bank|branch|company|business|originator|lender|representative|emergency|reference|contact|print`)

// genericNameLabel is a name label that says nothing of the role.
var genericNameLabel = regexp.MustCompile(`(?i)^(?:full\s+)?(?:legal\s+)?names?\b`)

var nameSplit = regexp.MustCompile(`\s*(?:,|;|&|¢|\band\b|\bAND\b|\+)\s*`) // ¢: OCR's &

// holderFinding is one holder read on a page.
type holderFinding struct {
	name string
	ev   stage.Evidence
}

// findHolders returns the people a page names as owners, holders, borrowers or
// applicants: after their labels, and in name-and-address blocks.
func findHolders(p *page) []holderFinding {
	var out []holderFinding
	add := func(n string, ev stage.Evidence) {
		n = CleanName(n)
		if n == "" {
			return
		}
		for i, h := range out {
			if sameName(h.name, n) {
				if better(n, h.name) {
					out[i].name = n
					out[i].ev.Value = n
				}
				return
			}
		}
		ev.Value = n
		out = append(out, holderFinding{name: n, ev: ev})
	}
	inline := func(rest string) bool { return len(namesIn(rest)) > 0 }
	for _, h := range p.labelled(holderLabel, notHolder, inline) {
		if p.partyAt(h.row, h.cell) == partyOther {
			continue
		}
		conf := 0.9
		if genericNameLabel.MatchString(h.label) {
			conf = 0.8 // "Name": whose is said only by the form around it
		}
		for _, v := range h.values {
			if p.partyAt(v.row, v.cell) == partyOther {
				continue
			}
			names := namesIn(v.text)
			if len(names) == 0 {
				// After a name label, a name OCR printed partly in lower case ("Marcus
				// o'connell").
				names = namesIn(titleCase(v.text))
			}
			for _, n := range names {
				add(n, stage.Evidence{Confidence: conf, Source: stage.EvidenceLabel, Detail: where(h.label, v)})
			}
			if len(names) > 0 {
				break
			}
		}
	}
	for _, b := range p.nameBlocks() {
		for _, n := range b.names {
			add(n, stage.Evidence{Confidence: b.confidence, Source: stage.EvidencePosition, Detail: b.detail("names")})
		}
	}
	return out
}

// titleCase capitalises every word of s.
func titleCase(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		if len(r) > 2 && r[1] == '\'' {
			r[2] = unicode.ToUpper(r[2]) // O'Connell
		}
		words[i] = string(r)
	}
	return strings.Join(words, " ")
}

// where says where a value stood relative to its label.
func where(label string, v value) string {
	if v.below {
		return fmt.Sprintf("below %q", label)
	}
	return fmt.Sprintf("after %q", label)
}

// ocrInitial is a middle initial whose period OCR read as a comma: "Elena O, St. Clair".
var ocrInitial = regexp.MustCompile(`^([A-Z][a-z]+ [A-Z]),( [A-Z])`)

// namesIn reads the names in a value: one printed last name first, or a list.
func namesIn(v string) []string {
	v = ocrInitial.ReplaceAllString(strings.TrimSpace(v), "$1.$2")
	if m := lastFirst.FindStringSubmatch(v); m != nil {
		// "GONZALEZ, MARIA L" as core banking systems print it.
		v = strings.Join(strings.Fields(m[2]+" "+m[1]+" "+m[3]), " ")
	}
	var names []string
	for _, part := range nameSplit.Split(v, -1) {
		if LooksLikeName(part) {
			names = append(names, part)
		}
	}
	return names
}

var initialEnd = regexp.MustCompile(`\b[A-Z]\.$`)

// lastFirst matches one name printed last name first: "GONZALEZ, MARIA L", "Hall, Robert
// Jr.", "ST. CLAIR, MARCUS M", "DE LA CRUZ, ANA".
var lastFirst = regexp.MustCompile(`^((?:(?i:de|da|di|del|della|la|le|van|von|der|den|st\.?|san|santa)\s+){0,2}[A-Z][A-Za-z'’-]+),\s*([A-Z][A-Za-z'’-]+(?:\s+[A-Z]\.?)?)(?:\s+((?:JR|SR|Jr|Sr|II|III|IV)\.?))?$`)

var honorific = regexp.MustCompile(`(?i)^(?:mr|mrs|ms|miss|dr)\.?\s+`)

// ocrInitialI mends a middle initial I that OCR read as a bar or a small l.
var ocrInitialI = strings.NewReplacer(" | ", " I ", " |. ", " I. ", " l ", " I ", " 0. ", " O. ", " 0 ", " O ", "! ", "I ")

// ocrSuffixII is a name's last word II as OCR reads it: "Il", "IT", "ll", "1I", "||".
var ocrSuffixII = regexp.MustCompile(`(\S\s+)(?:Il|IT|ll|lI|1I|I1|11|\|\||\|I|I\||\|l|l\|)$`)

// ocrSuffixI is a name in upper and lower case that ends in a lone I: no one's suffix is
// I, and only a name printed last name first in capitals puts an initial there, so it is
// II with a stroke OCR lost.
var ocrSuffixI = regexp.MustCompile(`^(.*[a-z].*\s[A-Z][a-z]+)\s+I$`)

// CleanName trims the punctuation and honorific around a name.
func CleanName(s string) string {
	s = ocrInitialI.Replace(strings.Join(strings.Fields(s), " "))
	s = ocrSuffixII.ReplaceAllString(s, "${1}II")
	s = ocrSuffixI.ReplaceAllString(s, "${1} II")
	s = strings.Trim(s, " ,;:.'\"‘’|")
	if strings.HasSuffix(s, ".") && !initialEnd.MatchString(s) {
		s = strings.TrimSuffix(s, ".")
	}
	return honorific.ReplaceAllString(s, "")
}

var nameWord = regexp.MustCompile(`^(?:[A-Z][A-Za-z'’-]*\.?|[A-Z]\.?|(?:de|da|del|van|von|la|le|di)|[A-Z][a-z]+-[A-Z][a-z]+)$`)

// notNameWord are words that do not occur in a person's name but do in headings,
// letterheads, firms' names and a form's captions set in capitals.
var notNameWord = regexp.MustCompile(`(?i)^(?:` +
	// banks and their statements
	`bank|banking|savings|credit|union|trust|federal|national|financial|n\.a\.|mortgage|lending|lender|loans?|equal|housing|` +
	`account|accounts|statement|summary|period|page|balance|checking|money|market|premier|deposits?|` +
	`detail|details|transactions?|interest|fees?|overdraft|continued|ending|beginning|total|` +
	`customer|service|services|member|fdic|questions|contact|call|visit|online|www|card|` +
	// forms and their captions
	`date|signature|signatures|application|information|property|cover|sheet|packet|document|documents|` +
	`separator|number|no|phone|telephone|fax|email|address|residence|city|state|zip|country|usa|` +
	`position|title|print|name|names|authorized|department|dept|section|part|request|verification|` +
	`depository|declarations|employment|income|occupation|ssn|birth|dob|type|joint|individual|` +
	`owner|owners|borrower|applicant|applicants|current|present|mailing|previous|same|above|` +
	`confidential|notice|urgent|review|underwriting|processing|requested|void|memo|routing|` +
	// job titles
	`officer|representative|manager|president|vice|assistant|specialist|processor|banker|teller|` +
	`director|secretary|treasurer|operations|` +
	// firms
	`llc|inc|corp|co|company|group|partners|associates|holdings|enterprises|industries|` +
	`solutions|systems|international|hospital|medical|school|schools|district|university|college|` +
	`county|unified|insurance|realty|properties|investments|capital|` +
	// addresses
	`street|avenue|road|drive|lane|suite|po|box|apt|unit|the|of|for|to` +
	`)\.?$`)

// LooksLikeName accepts "Maria L. Gonzalez", "MARIA L GONZALEZ", "Jean-Luc O'Neil", "Ana De
// La Cruz"; it refuses headings, firms and captions ("POSITION TITLE").
func LooksLikeName(s string) bool {
	s = CleanName(s)
	words := strings.Fields(s)
	if len(words) < 2 || len(words) > 6 {
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

// nameBlock is one to three lines of names right above a street line and a city line, each
// in the first cell of its row: a statement's recipient block in the envelope window, or a
// form's "name and address" box.
type nameBlock struct {
	names      []string
	address    string
	first      int    // the row of the first name
	label      string // the label above the names, if any
	confidence float64
}

func (b nameBlock) detail(what string) string {
	if b.label != "" {
		return fmt.Sprintf("%s in the block below %q", what, b.label)
	}
	return what + " in the recipient block at the top of the page"
}

// trailingPageNo is a page number at the end of a cell.
var trailingPageNo = regexp.MustCompile(`(?i)\s+page\s+\d+\s*(?:of\s*\d+)?$`)

// blockLabel is a label over a name-and-address box.
var blockLabel = regexp.MustCompile(`(?i)name|address|applicant|borrower|owner|customer|member`)

// nameBlocks finds the page's name-and-address blocks. A block is taken in the top part of
// the page (a recipient block), or anywhere under a label that announces names or an
// address; never in a part of the page that is someone else's.
func (p *page) nameBlocks() []nameBlock {
	var out []nameBlock
	rows := p.rows
	top := max(16, len(rows)*2/5)
	for i := 1; i < len(rows); i++ {
		// The address: on one line, or a street line and a city line.
		street := trimSpecks(rows[i].cells[0])
		address, ok := inlineAddress(street)
		if !ok && i+1 < len(rows) && streetLine.MatchString(street) && hasLetters(street) {
			var c city
			if c, ok = cityAt(rows[i+1].cells, 0); ok {
				address = formatAddress(street, c)
			}
		}
		if !ok {
			continue
		}
		var names []string
		first := i
		for j := i - 1; j >= 0 && j >= i-4; j-- {
			if speck(rows[j]) {
				continue // a speck OCR read between the lines
			}
			c := trailingPageNo.ReplaceAllString(rows[j].cells[0], "") // OCR joined "Page 1 of 5" to the name
			if cs := rows[j].cells; len(cs) > 1 && !strings.Contains(c, " ") && LooksLikeName(c+" "+cs[1]) {
				c += " " + cs[1] // OCR split a name in two cells ("TOBIAS   BRENNAN")
			}
			var found []string
			for _, part := range nameSplit.Split(c, -1) {
				if !LooksLikeName(part) {
					found = nil
					break
				}
				found = append(found, CleanName(part))
			}
			if len(found) == 0 || p.partyAt(j, 0) == partyOther {
				break
			}
			names = append(found, names...)
			first = j
		}
		if len(names) == 0 {
			continue
		}
		b := nameBlock{names: names, first: first, address: address, confidence: 0.85}
		if first > 0 {
			above := strings.Join(rows[first-1].cells, " ")
			if _, _, ok := heading(rows[first-1]); ok && blockLabel.MatchString(above) && partyOf(rows[first-1].cells[0]) != partyOther {
				b.label = rows[first-1].cells[0]
				b.confidence = 0.8
			}
		}
		if b.label == "" && first > top {
			continue
		}
		out = append(out, b)
	}
	return out
}
