package rules

import (
	"regexp"
	"strings"

	"github.com/idp/idp/stage"
)

// How the rules read a page's layout text (one line per visual row, cells that stand apart
// separated by stage.CellSep): as rows of cells, without a fax machine's header, each cell
// in the part of the page it belongs to (the customer's, someone else's, or neither's), and
// with the labels and values that forms put before, after or above each other. Real pages
// are read through OCR, so the patterns allow for its usual confusions (0/O, 1/l/I, 5/S,
// 8/B, # read as H or ff).

// row is one line of layout text split into its cells.
type row struct {
	cells []string
	gap   bool // a blank line (a wider vertical space) stands above it
}

func parseRows(text string) []row {
	var rows []row
	gap := false
	for _, line := range strings.Split(text, "\n") {
		var cells []string
		for _, c := range strings.Split(line, stage.CellSep) {
			// A cell with no letter or digit is a rule, a bullet or OCR noise.
			if c = strings.TrimSpace(c); stage.AlnumCount(c) > 0 {
				cells = append(cells, c)
			}
		}
		if len(cells) == 0 {
			gap = true
			continue
		}
		rows = append(rows, row{cells: cells, gap: gap})
		gap = false
	}
	return rows
}

// party says whose a part of a page is.
type party int

const (
	partyNone     party = iota // nobody's in particular
	partyCustomer              // the customer's: a borrower's, an owner's, an applicant's
	partyOther                 // someone else's: the bank's, an employer's, a lender's, a sender's
)

// otherParty names people and firms that are not the customer, in a heading or a label.
var otherParty = mustKeywords(`(?i)employ|lender|originator|deposit[oa]ry|bank\s+use|officer|representative|banker|contact\s+us|customer\s+service|member\s+services|questions|call\s+us|member\s+fdic|interviewer|broker|nmls|settlement|title\s+company|insurance|landlord|seller|realtor|\bagent\b|verified\s+by|prepared\s+by|opened\s+by|remit|return\s+(?:address|service|mail)|sender|witness|notary|guarantor|\bposition\b`)

// customerParty names the customer in a heading.
var customerParty = mustKeywords(`(?i)borrower|owner|applicant|member|customer|account\s+holder|\bjoint\b|\bprimary\b`)

// sectionNumber is a section heading's number: "Section 1:", "Part II -", "IV.", "1b.".
var sectionNumber = regexp.MustCompile(`(?i)^(?:(?:section\s+\d{1,2}[a-z]?|part\s+[ivx\d]{1,4})(?:\s*[.:)\-]?\s+|\s*[.:)\-]?$)|(?:[ivx]{1,4}|\d{1,2}[a-z])\s*[.:)\-]\s+)`)

// itemNumber is the number of an item of a form: "1.", "10)".
var itemNumber = regexp.MustCompile(`^\d{1,2}\s*[.:)]\s+`)

// labelAndValue is a label with its value after a colon: "Borrower Name: Grace Kim".
var labelAndValue = regexp.MustCompile(`:\s*\S`)

// ownerNumber is the number of a heading that numbers people: "OWNER 2", "Borrower 1".
var ownerNumber = regexp.MustCompile(`\s+\d$`)

// correspondent starts a row that names a memo's or fax's sender or addressee.
var correspondent = regexp.MustCompile(`(?i)^(?:to|from|attn|attention|cc|sender)\s*[:.]`)

// faxHeaderParts are what the line a fax machine prints across the top of every page it
// sends is made of: a line with two of them (in any order: OCR may have broken and
// reordered it), one the machine's (the time, the page count), is one. A fax cover's "To:"
// and "Fax:" lines are not: no machine printed them.
var faxHeaderParts = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\bfrom\b`),
	regexp.MustCompile(`(?i)\bfax\b`),
	regexp.MustCompile(`(?i)\bt[o0]\s*:`),
}

var faxMachineParts = regexp.MustCompile(`(?i)\bp\.?\s*\d{2,3}\s*(?:/\s*\d+)?\b|\b\d{1,2}:\d{2}\b`)

func faxHeader(s string) bool {
	if !faxMachineParts.MatchString(s) {
		return false
	}
	n := 1
	for _, re := range faxHeaderParts {
		if re.MatchString(s) {
			n++
		}
	}
	return n >= 2
}

// faxFragment is a piece of a fax header, which OCR breaks over two or three rows of a
// slightly turned page, in any order: "FROM:", "FAX:", "TO:", the time, "P.003/8".
var faxFragment = regexp.MustCompile(`(?i)\b(?:from|fax|t[o0])\s*:|\bp\.?\s*\d{2,3}\s*/\s*\d+|\b\d{1,2}:\d{2}\b`)

// page is one page's text read for extraction.
type page struct {
	rows  []row
	party [][]party    // the party of each cell
	fax   bool         // a fax header was dropped
	refs  []accountRef // findAccountRefs(rows): every stage asks for them
}

func newPage(text string) *page {
	rows := parseRows(text)
	p := &page{}
	// The fax header: the first rows (from the second when a speck came first), up to
	// three, that are pieces of it and together read as one.
	for i := 0; i < len(rows) && i < 2; i++ {
		end := i
		var parts []string
		for end < len(rows) && end < i+3 && faxFragment.MatchString(strings.Join(rows[end].cells, " ")) {
			parts = append(parts, strings.Join(rows[end].cells, " "))
			end++
		}
		if end > i && faxHeader(strings.Join(parts, " ")) {
			rows = append(rows[:i:i], rows[end:]...)
			p.fax = true
			break
		}
	}
	p.rows = rows
	p.party = make([][]party, len(rows))
	// The parties of the columns of the headings above. A section's heading (numbered as a
	// section, or naming a borrower, an owner, an applicant) holds until the next one;
	// another heading (an item of a form, a contact block, a bank's box) holds until a wider
	// vertical space ends its block or another heading starts one.
	var section, block []party
	for i, r := range rows {
		if r.gap {
			block = nil
		}
		if hp, kind, ok := heading(r); ok {
			named := false
			for _, x := range hp {
				named = named || x != partyNone
			}
			switch {
			case kind == headingSection, kind == headingPlain && named && hp[0] == partyCustomer:
				section, block = hp, nil
			case kind == headingItem, named:
				block = hp
			}
		}
		context := block
		if context == nil {
			context = section
		}
		ps := make([]party, len(r.cells))
		aside := besideOther(r)
		for j := range r.cells {
			switch {
			case aside || correspondent.MatchString(r.cells[0]):
				ps[j] = partyOther
			case len(context) == 0:
			case len(r.cells) == 1 || len(context) == 1:
				ps[j] = context[0]
			default:
				ps[j] = context[min(j, len(context)-1)]
			}
		}
		p.party[i] = ps
	}
	p.refs = findAccountRefs(rows)
	return p
}

// headingKind is how a heading is numbered.
type headingKind int

const (
	headingPlain   headingKind = iota
	headingSection             // "Section 1:", "Part II -", "IV.", "1b."
	headingItem                // "1.", "10."
)

// heading reads a row as a heading: every cell a few words without values. It returns the
// party each cell names, and how the row is numbered.
func heading(r row) (parties []party, kind headingKind, ok bool) {
	for _, c := range r.cells {
		rest := sectionNumber.ReplaceAllString(c, "")
		if rest != c {
			kind = headingSection
		} else if rest = itemNumber.ReplaceAllString(c, ""); rest != c && kind == headingPlain {
			kind = headingItem
		}
		rest = strings.TrimSpace(ownerNumber.ReplaceAllString(rest, "")) // "OWNER 2"
		if rest == "" && kind == headingSection {
			parties = append(parties, partyNone) // "Part II" alone in its cell
			continue
		}
		if rest == "" || strings.ContainsAny(rest, "0123456789$@") || len(strings.Fields(rest)) > 10 || labelAndValue.MatchString(rest) {
			return nil, headingPlain, false
		}
		parties = append(parties, partyOf(rest))
	}
	// A row of headings that names one party names it for all its cells: "PRINT NAME
	// POSITION TITLE   PHONE NO." are all the officer's, "Employer Name   Phone" both the
	// employer's.
	named := partyNone
	for _, x := range parties {
		switch {
		case x == partyNone:
		case named == partyNone:
			named = x
		case named != x:
			return parties, kind, true
		}
	}
	for i := range parties {
		parties[i] = named
	}
	return parties, kind, true
}

// besideOther reports whether a row has a cell that is only a short heading naming someone
// else ("Contact us", "Customer Service"): the row is that block's.
func besideOther(r row) bool {
	if len(r.cells) < 2 {
		return false
	}
	for _, c := range r.cells {
		if !strings.ContainsAny(c, ":0123456789") && len(strings.Fields(c)) <= 4 && otherParty.MatchString(c) {
			return true
		}
	}
	return false
}

// partyOf is whom a label or heading names.
func partyOf(s string) party {
	switch {
	case otherParty.MatchString(s):
		return partyOther
	case customerParty.MatchString(s):
		return partyCustomer
	}
	return partyNone
}

func (p *page) partyAt(i, j int) party {
	if j >= len(p.party[i]) {
		j = len(p.party[i]) - 1
	}
	return p.party[i][j]
}

// blank reports whether the page prints nothing but (perhaps) a fax header and specks: a
// few characters, or, read by OCR with a low confidence, what OCR makes of a blank sheet's
// noise and edges.
func (p *page) blank(ocrConfidence float64) bool {
	n := 0
	for i, r := range p.rows {
		line := strings.Join(r.cells, " ")
		if i < 3 && faxFragment.MatchString(line) {
			continue // what is left of a fax header OCR could not read whole
		}
		n += stage.AlnumCount(line)
	}
	return n < 12 || ocrConfidence > 0 && ocrConfidence < 50 && n < 100
}

// trimSpecks drops the quotes and specks OCR reads before a cell's first word.
func trimSpecks(s string) string {
	return strings.TrimLeft(s, "\"'‘’“”`*,.")
}

// place is a cell of a page.
type place struct{ row, cell int }

// value is a candidate value of a label and where it is.
type value struct {
	text string
	place
	below bool // under its label rather than beside it
}

// valueCandidates are the places the value of a label in rows[i].cells[j] may be, best
// first: the rest of its cell; or, when the label ends its cell, the next cell of the row,
// then the cell below it (a form's box puts the value under its label), then the other
// cells of the row below.
func (p *page) valueCandidates(i, j int, rest string) []value {
	rows := p.rows
	if rest = strings.TrimSpace(strings.TrimLeft(rest, ":;.,#- ")); rest != "" {
		return []value{{text: rest, place: place{i, j}}}
	}
	var out []value
	if j+1 < len(rows[i].cells) && !labelLike(rows[i].cells[j+1]) {
		out = append(out, value{text: rows[i].cells[j+1], place: place{i, j + 1}})
	}
	next := i + 1
	if next < len(rows) && speck(rows[next]) {
		next++ // a speck OCR read between a label and its value
	}
	if next < len(rows) {
		below := rows[next].cells
		if j < len(below) && !labelLike(below[j]) {
			out = append(out, value{text: below[j], place: place{next, j}, below: true})
		}
		for k, c := range below {
			if k != j && !labelLike(c) {
				out = append(out, value{text: c, place: place{next, k}, below: true})
			}
		}
	}
	return out
}

// speck reports whether a row is one or two stray characters, as OCR reads dust.
func speck(r row) bool {
	return len(r.cells) == 1 && stage.AlnumCount(r.cells[0]) <= 2 && r.cells[0] == strings.ToLower(r.cells[0])
}

// labelLike reports whether a cell reads as a label rather than a value: it ends with a
// colon (unless it is a number, which OCR gave a speck for a colon: "649-663-4463:"), or it
// is a few capitalised words without digits or commas that are not a name ("ACCOUNT
// TYPE").
func labelLike(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ":") {
		return len(stage.Digits(s)) < 7
	}
	if s != strings.ToUpper(s) || strings.ContainsAny(s, "0123456789,") || len(strings.Fields(s)) > 5 {
		return false
	}
	return !LooksLikeName(s)
}

// labelHit is a label and the candidates for its value, best first; the caller takes the
// first that reads as what it expects.
type labelHit struct {
	place
	label  string
	values []value
}

// labelled finds cells that start with a label matching re and returns each with its
// candidate values. skip, when non-nil, rejects a match by its label text. A label followed
// in its cell by more text without a colon ("Name Change Request") is a word, not a label,
// unless inline accepts that text as the value ("Home Phone (613) 338-7829").
func (p *page) labelled(re keywords, skip *regexp.Regexp, inline func(string) bool) []labelHit {
	var hits []labelHit
	for i, r := range p.rows {
		for j, c := range r.cells {
			c = trimSpecks(c)
			m := re.FindStringIndex(c)
			if m == nil || m[0] != 0 {
				continue
			}
			label := strings.TrimSpace(c[:m[1]])
			if skip != nil && skip.MatchString(label) {
				continue
			}
			rest := strings.TrimSpace(strings.TrimLeft(c[m[1]:], ":;.- "))
			if rest != "" && !strings.ContainsAny(label, ":;") && (inline == nil || !inline(rest)) {
				continue
			}
			if vs := p.valueCandidates(i, j, rest); len(vs) > 0 {
				hits = append(hits, labelHit{place: place{i, j}, label: label, values: vs})
			}
		}
	}
	return hits
}

// headingsAbove is the text of the label-only rows right above row i (at most two), nearest
// first: "Street" under "Current Address" under "Section 1: Borrower Information".
func (p *page) headingsAbove(i int) string {
	var parts []string
	for k := i - 1; k >= 0 && k >= i-2; k-- {
		if _, _, ok := heading(p.rows[k]); !ok {
			break
		}
		parts = append(parts, strings.Join(p.rows[k].cells, " "))
	}
	return strings.Join(parts, " / ")
}
