package rules

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/idp/idp/stage"
)

// Addresses are read by the grammar of a US postal address: a house number, a street name and
// its suffix, an optional unit, then city, state and ZIP (or ZIP+4), on one line or two, or
// in the cells of a form (street, unit, city, state, ZIP). An address is the customer's after
// an address label that is not someone else's (an employer's, a lender's, the bank's), or in
// a name-and-address block; a property's address only when the page gives no other.

// streetSuffixes are the street suffixes of USPS Publication 28 (appendix C1), with their
// standard abbreviations.
const streetSuffixes = `alley|aly|annex|anx|arcade|arc|avenue|ave|av|bayou|byu|beach|bch|bend|bnd|bluffs?|blf|bottom|btm|` +
	`boulevard|blvd|branch|br|bridge|brg|brooks?|brk|burgs?|bypass|byp|camp|cp|canyon|cyn|cape|cpe|causeway|cswy|` +
	`centers?|ctr|circles?|cir|cliffs?|clf|club|clb|commons?|cmn|corners?|cor|cors|course|crse|courts?|ct|cts|` +
	`coves?|cv|creek|crk|crescent|cres|crest|crst|crossing|xing|crossroad|xrd|curve|curv|dale|dl|dam|dm|divide|dv|` +
	`drives?|dr|estates?|est|ests|expressway|expy|extension|ext|falls?|fls|ferry|fry|fields?|fld|flats?|flt|ford|frd|` +
	`forest|frst|forge|frg|forks?|frk|fort|ft|freeway|fwy|gardens?|gdn|gdns|gateway|gtwy|glen|gln|green|grn|grove|grv|` +
	`harbor|hbr|haven|hvn|heights|hts|highway|hwy|hills?|hl|hls|hollow|holw|inlet|inlt|islands?|is|isle|junction|jct|` +
	`key|ky|knolls?|knl|lakes?|lk|land|landing|lndg|lane|ln|lights?|lgt|loaf|lf|locks?|lck|lodge|ldg|loop|mall|manors?|` +
	`mnr|meadows?|mdw|mdws|mews|mills?|ml|mission|msn|motorway|mtwy|mount|mt|mountain|mtn|neck|nck|orchard|orch|oval|` +
	`overpass|opas|parks?|parkway|pkwy|pass|passage|psge|path|pike|pines?|pne|pnes|place|pl|plains?|pln|plaza|plz|` +
	`points?|pt|port|prt|prairie|pr|radial|radl|ramp|ranch|rnch|rapids?|rpd|rest|rst|ridges?|rdg|river|riv|roads?|rd|` +
	`route|rte|row|rue|run|shoal|shl|shores?|shr|skyway|skwy|springs?|spg|spur|square|sq|station|sta|stravenue|stra|` +
	`stream|strm|streets?|st|summit|smt|terrace|ter|throughway|trwy|trace|trce|track|trak|trafficway|trfy|trail|trl|` +
	`trailer|trlr|tunnel|tunl|turnpike|tpke|underpass|upas|union|un|valley|vly|viaduct|via|views?|vw|village|vlg|` +
	`ville|vl|vista|vis|walk|wall|way|wy|wells?|wl`

// unit is a secondary unit designator: "Apt 4B", "Suite 210", "#305".
const unit = `(?:apt|apartment|unit|suite|ste|bldg|building|fl|floor|rm|room|lot|spc|space|trlr|dept)\.?\s*#?\s*[A-Za-z0-9-]{1,6}|#\s*[A-Za-z0-9-]{1,6}`

const directional = `(?:n|s|e|w|ne|nw|se|sw|north|south|east|west)\.?`

// streetGrammar matches a whole street line: "400 Kozey Light Apt 4B", "1208 SW 4th Ave",
// "55 County Road 14", "PO Box 4410".
var streetGrammar = regexp.MustCompile(`(?i)^(?:\d{1,6}[a-z]?(?:[-/]\d{1,4}[a-z]?)?\s+(?:` + directional + `\s+)?(?:[a-z0-9'’.-]+\s+){0,5}?(?:` + streetSuffixes + `)\.?(?:\s+\d{1,4})?(?:\s+` + directional + `)?(?:,?\s+(?:` + unit + `))?` +
	`|(?:p\.?\s*o\.?|post\s+office)\s*box\s+\d{1,6})$`)

// streetLine is a looser street line, for a value that its label already says is an
// address: "1207 Lakeview Drive", "88 Elm St Apt 4", OCR damage included.
var streetLine = regexp.MustCompile(`(?i)^(?:\d+[A-Za-z]?,?\s+[A-Za-z0-9 .,'#-]+|p\.?\s*o\.?\s+box\s+\d+.*)$`)

var unitCell = regexp.MustCompile(`(?i)^(?:` + unit + `)$`)

// states are the USPS codes of states, territories and military post offices.
var states = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Fields(`AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP AA AE AP`) {
		m[s] = true
	}
	return m
}()

// cityLineRe matches "Springfield, IL 62704", "SALT LAKE CITY UT  84101-2231", "Pueblo CO
// 81003 USA"; OCR's letters for digits in the ZIP are mended.
var cityLineRe = regexp.MustCompile(`^([A-Za-z][A-Za-z .'’-]*?)[,.\s-]*\s?[,.-]?\s*\b([A-Za-z015]{2,3})\.?,?\s+([0-9OoIlSB\]|](?:\s?[0-9OoIlSB\]|]){4}(?:\s?-\s?[0-9OoIlSB\]|]{4})?)(?:\s+(?:USA|US|U\.S\.A?\.?|United States))?$`)

// ocrState mends what OCR makes of a state's letters: digits for letters ("1A" for IA).
var ocrState = strings.NewReplacer("0", "O", "1", "I", "5", "S")

// stateCode reads a state code as OCR may have printed it: in lower case ("ky"), with a
// digit for a letter ("1A"), or with a stray I ("TIN" for TN).
func stateCode(s string) (string, bool) {
	s = ocrState.Replace(strings.ToUpper(s))
	if len(s) == 2 {
		return s, states[s]
	}
	// An I OCR added ("TIN" for TN). Other damage is left alone: a line that damaged is
	// likely damaged elsewhere too, and a wrong address costs more than none.
	for _, drop := range []int{1, 0, 2} {
		if s[drop] == 'I' {
			if t := s[:drop] + s[drop+1:]; states[t] {
				return t, true
			}
		}
	}
	return "", false
}

// city is the second line of an address.
type city struct{ name, state, zip string }

// boxCaptions are the captions of a form's address boxes.
var boxCaptions = map[string]bool{"city": true, "state": true, "zip": true, "country": true, "code": true, "town": true}

// captionWords reports whether s is made of address-box captions only.
func captionWords(s string) bool {
	words := strings.Fields(strings.ToLower(strings.Trim(s, " ,./")))
	for _, w := range words {
		if !boxCaptions[strings.Trim(w, ",./")] {
			return false
		}
	}
	return len(words) > 0
}

func parseCity(s string) (city, bool) {
	m := cityLineRe.FindStringSubmatch(strings.TrimSpace(s))
	// A city named "City" (or "City State") is the caption of a form's city box, read on the
	// row of the state and ZIP boxes while the city's name sits under it: not an address to
	// give.
	if m == nil || strings.TrimSpace(m[1]) == "" || captionWords(m[1]) {
		return city{}, false
	}
	state, ok := stateCode(m[2])
	if !ok {
		return city{}, false
	}
	zip := strings.ReplaceAll(ocrDigit.Replace(m[3]), " ", "")
	return city{name: strings.Join(strings.Fields(m[1]), " "), state: state, zip: zip}, true
}

// cityAt reads a city line from cells[k] alone, or from cells[k:] printed in separate boxes
// (city, state, ZIP, country).
func cityAt(cells []string, k int) (city, bool) {
	if k >= len(cells) {
		return city{}, false
	}
	if c, ok := parseCity(cityLabel.ReplaceAllString(cells[k], "")); ok {
		return c, true
	}
	if len(cells)-k > 1 {
		return parseCity(strings.Join(cells[k:], " "))
	}
	return city{}, false
}

// cityLabel is the label of a separate city line: "City, State ZIP:", "City/State/Zip:".
var cityLabel = regexp.MustCompile(`(?i)^city\s*[,/]?\s*(?:state|st)\.?\s*[,/]?\s*(?:zip|postal)(?:\s*code)?\s*[:;]?\s*`)

func formatAddress(street string, c city) string {
	words := strings.Fields(street)
	for i, w := range words {
		if i > 0 {
			words[i] = suffixWithL(w)
		}
	}
	return strings.Join(words, " ") + ", " + c.name + ", " + c.state + " " + c.zip
}

var suffixWord = regexp.MustCompile(`(?i)^(?:` + streetSuffixes + `)\.?,?$`)

// suffixWithL mends a street suffix whose l OCR read as I ("PI" for Pl, "BIvd" for Blvd):
// a word after the house number that is no suffix but would be one with an l for its I. A
// suffix with an I of its own (Isle, Is) is a suffix already and stays.
func suffixWithL(w string) string {
	if !strings.Contains(w, "I") || suffixWord.MatchString(w) {
		return w
	}
	l := "l"
	if w == strings.ToUpper(w) && len(strings.Trim(w, ".,")) > 2 {
		l = "L" // "BIVD" in capitals; but "PI" is Pl either way
	}
	if m := strings.ReplaceAll(w, "I", l); suffixWord.MatchString(m) {
		return m
	}
	return w
}

// inlineAddress reads a whole address on one line: "1207 Lakeview Drive, Springfield, IL
// 62704", "400 KOZEY LIGHT APT 4B WEBERBURGH HI 29922".
func inlineAddress(s string) (string, bool) {
	s = strings.TrimSpace(strings.TrimRight(s, ".;"))
	// With a comma before the city.
	for i := strings.LastIndex(s, ","); i > 0; i = strings.LastIndex(s[:i], ",") {
		street := strings.TrimSpace(s[:i])
		if c, ok := parseCity(strings.TrimSpace(s[i+1:])); ok && streetLine.MatchString(street) && !strings.Contains(c.name, ",") {
			return formatAddress(street, c), true
		}
	}
	// Without: the street ends where its grammar does, at the first place where what
	// follows is not more of a street.
	words := strings.Fields(s)
	for k := 2; k < len(words)-2; k++ {
		street := strings.Join(words[:k], " ")
		if !streetGrammar.MatchString(street) || streetGrammar.MatchString(strings.Join(words[:k+1], " ")) {
			continue
		}
		if c, ok := parseCity(strings.Join(words[k:], " ")); ok {
			return formatAddress(street, c), true
		}
	}
	return "", false
}

var addressLabel = mustKeywords(`(?i)^(?:(?:current|present|mailing|home|residential|residence|permanent|physical|street|customer|primary|legal|property|subject\s+property|borrower'?s?|applicant'?s?|owner'?s?|member'?s?)\s+)*(?:address|residence|street)(?:\s*\([^)]*\))?`)

// notCustomerAddress rejects labels of addresses that are not the customer's (now).
var notCustomerAddress = regexp.MustCompile(`(?i)employ|business|company|lender|originator|bank|branch|deposit[oa]ry|office|remit|payment|return|send|agent|broker|seller|landlord|e-?mail|web|previous|former|prior`)

// labelInside is an address label inside a value.
var labelInside = regexp.MustCompile(`(?i)\s(?:(?:current|present|mailing|home|residential|residence|permanent|physical|street|property)\s+)?(?:address|residence)\b`)

var propertyLabel = regexp.MustCompile(`(?i)property`)

// addressFinding is an address read on a page; rank 1 is the customer's, 2 a property's.
type addressFinding struct {
	address string
	rank    int
	at      place
	ev      stage.Evidence
}

// findAddress returns the customer's postal address on a page.
func findAddress(p *page) (string, stage.Evidence, bool) {
	var found []addressFinding
	for _, h := range p.labelled(addressLabel, notCustomerAddress, func(rest string) bool {
		_, ok := inlineAddress(rest)
		return ok || streetLine.MatchString(rest)
	}) {
		full := h.label
		if above := p.headingsAbove(h.row); above != "" {
			full = above + " / " + h.label
		}
		if notCustomerAddress.MatchString(full) || p.partyAt(h.row, h.cell) == partyOther {
			continue
		}
		rank, cap := 1, 1.0
		if propertyLabel.MatchString(full) {
			rank, cap = 2, 0.6
		}
		for _, v := range h.values {
			if p.partyAt(v.row, v.cell) == partyOther {
				continue
			}
			addr, conf, ok := p.addressAt(v)
			if !ok {
				continue
			}
			found = append(found, addressFinding{address: addr, rank: rank, at: v.place,
				ev: stage.Evidence{Value: addr, Confidence: min(conf, cap), Source: stage.EvidenceLabel, Detail: where(full, v)}})
			break
		}
	}
	for _, b := range p.nameBlocks() {
		found = append(found, addressFinding{address: b.address, rank: 1, at: place{b.first, 0},
			ev: stage.Evidence{Value: b.address, Confidence: b.confidence, Source: stage.EvidencePosition, Detail: b.detail("address below the names")}})
	}
	if len(found) == 0 {
		return "", stage.Evidence{}, false
	}
	best := found[0]
	for _, f := range found[1:] {
		if f.rank < best.rank || f.rank == best.rank && (f.at.row < best.at.row || f.at.row == best.at.row && f.at.cell < best.at.cell) {
			best = f
		}
	}
	return best.address, best.ev, true
}

// addressAt reads the address that starts with value v: on its own line, or a street with
// its unit in the next box and the city on one of the next rows (in one cell, or in boxes).
func (p *page) addressAt(v value) (string, float64, bool) {
	text := trimSpecks(strings.TrimSpace(v.text))
	if m := labelInside.FindStringIndex(text); m != nil {
		text = text[:m[0]] // the next column's label, printed too close to be another cell
	}
	if a, ok := inlineAddress(text); ok {
		return a, 0.95, true
	}
	if !streetLine.MatchString(text) || !hasLetters(text) {
		return "", 0, false
	}
	conf := 0.9
	street := text
	cells := p.rows[v.row].cells
	if v.cell+1 < len(cells) && unitCell.MatchString(cells[v.cell+1]) {
		street += " " + cells[v.cell+1]
		conf = 0.85
	}
	if !streetGrammar.MatchString(street) {
		conf -= 0.15 // a street without a suffix, or one OCR damaged
	}
	// The city on one of the next rows: under "City   State   ZIP" labels when the address is
	// in boxes; not past another street.
	for k := v.row + 1; k < len(p.rows) && k <= v.row+3; k++ {
		for j, cell := range p.rows[k].cells {
			if c, ok := cityAt(p.rows[k].cells, j); ok {
				return formatAddress(street, c), conf, true
			}
			if streetLine.MatchString(trimSpecks(cell)) && hasLetters(cell) {
				return "", 0, false
			}
		}
	}
	return "", 0, false
}

func hasLetters(s string) bool {
	return strings.IndexFunc(s, unicode.IsLetter) >= 0
}
