package rules

import (
	"regexp"
	"strings"

	"github.com/idp/idp/stage"
)

// Phones are read in every common shape, (555) 201-7788, 555-201-7788, 555.201.7788, 555
// 201 7788, +1 555 201 7788, 1-555-201-7788, with an extension cut off, after any phone-ish
// label (Phone, Tel, Telephone, Cell, Mobile, Home, Work, Daytime, Evening), with or without
// a colon, beside or below it. Not the customer's: a fax, an employer's, a lender's, the
// bank's or a branch's phone, a service line, a toll-free number, the sender of a fax.

// phoneLabel is a phone-ish label at the start of a cell; a home or mobile phone is the
// customer's first choice, a work or other one the second.
var phoneLabel = mustKeywords(`(?i)^(?:(?:home|cell(?:ular)?|mobile|daytime|day|evening|night|work|primary|alternate|alt\.?|other|contact|personal|business|office|main)\s+)*` +
	`(?:phone|telephone|tel\.?|ph\.?|cell|mobile|home|work|daytime|evening)(?:\s+(?:number|no\.?|#))?(?:\s*\((?:home|cell|mobile|work|day|evening)\))?\s*[:;.]?`)

var notCustomerPhone = regexp.MustCompile(`(?i)employer|business|office|bank|branch|fax|service|toll|lender|originator|agent|broker|company|emergency|reference`)

var secondChoicePhone = regexp.MustCompile(`(?i)work|alternate|alt\b|other`)

// phoneStrict is a phone number in one of the shapes people print; D is a digit or a letter
// OCR mistakes for one.
var phoneStrict = regexp.MustCompile(`^[\s.:;'"‘’]*((?:\+?1[\s.-]?)?(?:\(\s?[0-9OoIlSB]{3}\s?\)|[0-9OoIlSB]{3})[\s.-]?[0-9OoIlSB]{3}[\s.-]?[0-9OoIlSB]{4})(?:$|[^0-9])`)

// phoneLoose allows OCR's stray spaces inside the groups ("749-7 13-0783").
var phoneLoose = regexp.MustCompile(`^[\s.:;'"‘’]*(\+?[0-9OoIlSB(][0-9OoIlSB()+.,\-\s]{8,20}[0-9OoIlSB])`)

// tollFree are the area codes of toll-free numbers: a bank's, never a customer's own.
var tollFree = map[string]bool{"800": true, "888": true, "877": true, "866": true, "855": true, "844": true, "833": true}

// phoneRead is a phone number read at the start of a value.
type phoneRead struct {
	printed string // OCR's letters for digits mended
	strict  bool   // in one of the usual shapes
	mended  bool   // letters were read as digits
}

// phoneAt reads a phone number at the start of s.
func phoneAt(s string) (phoneRead, bool) {
	m := phoneStrict.FindStringSubmatch(s)
	strict := m != nil
	if m == nil {
		if m = phoneLoose.FindStringSubmatch(s); m == nil {
			return phoneRead{}, false
		}
	}
	raw := strings.TrimSpace(m[1])
	printed := ocrDigit.Replace(raw)
	d := stage.Digits(printed)
	if len(d) == 12 && strings.HasPrefix(d, "41") {
		// "+1" whose plus OCR read as a 4 ("41-876-389-5769", "41 223 377 6232"), or
		// with a 4 beside it ("+41 353 267 1212", "4+1-429-431-7106").
		for _, pre := range []string{"41", "+41", "4+1"} {
			if strings.HasPrefix(printed, pre) {
				printed, d = "+1"+printed[len(pre):], d[2:]
				break
			}
		}
	}
	if len(d) == 11 && d[0] == '1' {
		d = d[1:]
	}
	if len(d) != 10 || tollFree[d[:3]] || d[0] == '0' || d[0] == '1' {
		return phoneRead{}, false
	}
	return phoneRead{printed: printed, strict: strict, mended: printed != raw}, true
}

type phoneFinding struct {
	phone string
	rank  int
	at    place
	ev    stage.Evidence
}

// findPhone returns the customer's phone number on a page.
func findPhone(p *page) (string, stage.Evidence, bool) {
	var best *phoneFinding
	inline := func(rest string) bool { _, ok := phoneAt(rest); return ok }
	for _, h := range p.labelled(phoneLabel, notCustomerPhone, inline) {
		if p.partyAt(h.row, h.cell) == partyOther {
			continue
		}
		rank, conf := 1, 0.9
		if secondChoicePhone.MatchString(h.label) {
			rank, conf = 2, 0.7
		}
		for _, v := range h.values {
			if underAnotherLabel(p, h, v) {
				continue
			}
			ph, ok := phoneAt(v.text)
			if !ok || p.partyAt(v.row, v.cell) == partyOther {
				continue
			}
			c := conf
			if v.below {
				c -= 0.05
			}
			if !ph.strict {
				c -= 0.15 // OCR's spaces inside the groups
			}
			if ph.mended {
				c -= 0.05
			}
			f := phoneFinding{phone: ph.printed, rank: rank, at: v.place,
				ev: stage.Evidence{Value: ph.printed, Confidence: c, Source: stage.EvidenceLabel, Detail: where(h.label, v)}}
			if best == nil || f.rank < best.rank || f.rank == best.rank && (f.at.row < best.at.row || f.at.row == best.at.row && f.at.cell < best.at.cell) {
				best = &f
			}
			break
		}
	}
	if best == nil {
		return "", stage.Evidence{}, false
	}
	return best.phone, best.ev, true
}

// underAnotherLabel reports whether value v of label hit h stands under another label of
// h's row: in a row of column labels ("Home Phone   Cell Phone   Fax"), the cell under the
// fax's label is the fax, whatever the home phone's cell holds (a number OCR damaged,
// nothing).
func underAnotherLabel(p *page, h labelHit, v value) bool {
	if !v.below || v.cell == h.cell || v.cell >= len(p.rows[h.row].cells) {
		return false
	}
	_, _, labels := heading(p.rows[h.row])
	return labels
}
