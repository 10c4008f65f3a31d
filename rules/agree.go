package rules

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/idp/idp/stage"
)

// Agreement across pages. A packet prints the customer's address, names and phone on
// several pages (the statement's recipient block, the account card, the application, the
// verification of deposit), and OCR misreads a character of one of them now and then ("1"
// read as "4" in a house number) with as much confidence as it reads the rest: Tesseract's
// word confidence does not find these (weighUnsure). Another page that reads the same value
// does. On an OCR'd page, each such value is compared with the same field read on the pages
// beside it (stage.ExtractInput.Related); a reading one or two characters away from it is
// the same value read differently, and one of the two readings is wrong:
//
//   - read so on more pages than the page's own: the page's value is misread, and the
//     other reading takes its place (the data says what the page prints), with the page's
//     reading in its evidence and a flag;
//   - read so on as many pages: a text layer wins (it is not misread), else the reading
//     whose differing word OCR was less sure of loses (a word it was sure of is 100), and
//     both are marked uncertain;
//   - when nothing decides, the page's value stays but is marked uncertain, and flagged.
//
// An address's street line is printed more often than the whole address is read: in a
// co-borrower's box, a table, on a page where the rest of the address did not read. When the
// whole address finds no other reading, or one that decides nothing, each printing of its
// street line on the page and the related ones (streetVote) is a vote, weighed the same
// way, and a winning reading mends the street alone.
//
// Account numbers are not compared: the accounts of one packet are often numbered a digit
// apart. Names are compared only where OCR's damage, not a relative, explains the
// difference: the same letters spaced otherwise ("GALLAGH ER"), or a last name a letter
// off; first names a letter apart (Maria and Mario) are two people. Two readings one page
// gives both of are two values, never one misread.

// agreeFields are the fields a page's values are checked for against its related pages.
var agreeFields = []string{stage.FieldAddress, stage.FieldPhoneNumber, stage.FieldAccountHolders}

// sureWord is the confidence of a word OCR did not list as unsure (stage.PageText.Unsure
// holds those under stage.UnsureWord), and of any word of a text layer.
const sureWord = 100.0

// unsureMargin is how much surer OCR must have been of one reading's differing word than of
// the other's for a tie to go to it. Any: on the tuning scans (the second generator's seeds
// 300-311, 400-411, 500-507, 600-611, 700-707, 800-807, 900-911), in nine of the ten ties
// between two readings OCR was not equally sure of, the less sure one was the misread, by
// margins from 1 point (75 against 76) to 42; in the tenth, OCR read a house number's 1 as
// 4 at 95 and the right reading at 87. Two readings both sure (100) stay undecided.
const unsureMargin = 0.0

// undecidedConfidence is the most a value gets when another page reads it differently and
// nothing says which reading is right: under stage.LowConfidence, shown as uncertain.
const undecidedConfidence = 0.6

// tieConfidence is the most a value gets when as many pages read it otherwise and OCR's
// word confidence decided between the readings (unsureMargin): right in nine ties of ten on
// the tuning scans, so given, but shown as uncertain (under stage.LowConfidence).
const tieConfidence = 0.65

// relatedPage is what the rules read on a related page.
type relatedPage struct {
	page      int
	text      string
	fields    stage.Fields
	unsure    []stage.Word
	textLayer bool
}

// reading is one way a value (or an address's street line) is read: by how many pages (or
// printings), which, and how sure OCR was of the words it differs in.
type reading struct {
	value     string // as the first page that reads it prints it
	count     int
	pages     []int
	conf      float64 // how sure OCR was of its differing words, on its surest page
	textLayer bool
}

func (r *reading) add(page int, conf float64, textLayer bool) {
	r.count++
	if !slices.Contains(r.pages, page) {
		r.pages = append(r.pages, page)
	}
	r.conf = max(r.conf, conf)
	r.textLayer = r.textLayer || textLayer
}

// agree checks the values of an OCR'd page's fields against the same fields read on the
// related pages of in, mends or marks those read differently elsewhere (f and ev are
// changed), and returns a flag for each. The related pages are read through parsed (nil
// reads them anew).
func agree(f stage.Fields, ev stage.FieldEvidence, in stage.ExtractInput, parsed *Parsed) []string {
	if in.Source != stage.SourceOCR || len(in.Related) == 0 || !slices.ContainsFunc(agreeFields, func(k string) bool { return f[k] != nil }) {
		return nil
	}
	self := relatedPage{page: in.Page, text: in.Text, unsure: in.Unsure}
	related := make([]relatedPage, 0, len(in.Related))
	for _, rp := range in.Related {
		rf, _ := read(parsed.page(rp.Text)) // the pages beside are read for their own extraction too
		related = append(related, relatedPage{page: rp.Page, text: rp.Text, fields: rf, unsure: rp.Unsure, textLayer: rp.Source == stage.SourceTextLayer})
	}
	var flags []string
	for _, field := range agreeFields {
		values := stage.Values(f[field])
		es := ev[field]
		if len(values) == 0 || len(es) != len(values) {
			continue
		}
		changed := false
		for i, v := range values {
			flag, mended, ok := agreeValue(field, v, values, &es[i], self, related)
			if flag != "" {
				flags = append(flags, flag)
			}
			if ok {
				values[i], changed = mended, true
			}
		}
		if !changed {
			continue
		}
		if _, list := f[field].([]string); list {
			f[field] = values
		} else {
			f[field] = values[0]
		}
	}
	return flags
}

// agreeValue checks one value v of field (one of the page's values, all of which are
// mine) against the related pages: first the whole value against the field read there,
// then, for an address that vote leaves open, its street line against every printing of it
// on this page and the related ones (a co-borrower's box, a table, a page where the rest
// of the address did not read). e is v's evidence, changed in place. It returns the flag to
// raise, if any, and the value to put in v's place when another reading wins.
func agreeValue(field, v string, mine []string, e *stage.Evidence, self relatedPage, related []relatedPage) (flag, mended string, ok bool) {
	vt := valueVote(field, v, mine, self, related)
	what := v
	if field == stage.FieldAddress && vt.verdict == undecided {
		if street, _, found := strings.Cut(v, ","); found {
			if st := streetVote(street, self, related); st.best != nil && (st.verdict != undecided || vt.best == nil) {
				vt, what = st, street
			}
		}
	}
	best := vt.best
	if best == nil {
		return "", "", false
	}
	theirs := best.value
	elsewhere := fmt.Sprintf("%q on %s", theirs, pageList(best.pages, self.page))
	// A tie that OCR's word confidence decided is decided, but not surely: both readings are
	// shown as uncertain, for review.
	if vt.byConfidence {
		e.Confidence = min(e.Confidence, tieConfidence)
	}
	switch vt.verdict {
	case keepMine:
		if !vt.byConfidence {
			e.Detail += fmt.Sprintf("; read so %d times, %s", vt.support, elsewhere)
			return "", "", false
		}
		e.Detail += fmt.Sprintf("; read %s, where OCR was %s", elsewhere, sureOf(best.conf))
		return fmt.Sprintf("%s %q kept, uncertain: read %s, where OCR was less sure", field, v, elsewhere), "", false
	case takeTheirs:
		mended = mend(what, theirs) + v[len(what):]
		e.Value = mended
		e.Detail += fmt.Sprintf("; OCR read %q here (%s), %s", what, sureOf(vt.mineConf), elsewhere)
		if what != v {
			return fmt.Sprintf("%s %q: its street %q read as %s, taken from there", field, v, what, elsewhere), mended, true
		}
		return fmt.Sprintf("%s %q read as %s: taken from there", field, v, elsewhere), mended, true
	}
	e.Confidence = min(e.Confidence, undecidedConfidence)
	e.Detail += fmt.Sprintf("; read %s", elsewhere)
	return fmt.Sprintf("%s %q uncertain: read %s", field, v, elsewhere), "", false
}

// vote is what weighing a reading against the strongest other one found.
type vote struct {
	verdict verdict
	// byConfidence: as many read each, and OCR's word confidence decided.
	byConfidence bool
	support      int      // how often the page's reading is read (this page included)
	best         *reading // the strongest other reading; nil when there is none
	mineConf     float64  // how sure OCR was of the page's reading's differing words
}

// valueVote weighs v against the strongest other reading of field on the related pages.
func valueVote(field, v string, mine []string, self relatedPage, related []relatedPage) vote {
	kv := agreeKey(field, v)
	if kv == "" {
		return vote{}
	}
	// The readings given beside v on one page (this one or another) are other values.
	support, distinct, mineText := 1, keys(field, mine), false
	for _, rp := range related {
		if theirs := keys(field, stage.Values(rp.fields[field])); slices.Contains(theirs, kv) {
			support++
			distinct = append(distinct, theirs...)
			mineText = mineText || rp.textLayer
		}
	}
	variants := map[string]*reading{}
	var order []string
	for _, rp := range related {
		for _, w := range stage.Values(rp.fields[field]) {
			kw := agreeKey(field, w)
			if kw == kv || slices.Contains(distinct, kw) || !sameValue(field, kv, kw) {
				continue
			}
			conf := sureWord
			if !rp.textLayer {
				conf = differingConfidence(w, v, rp.unsure)
			}
			if variants[kw] == nil {
				variants[kw] = &reading{value: w}
				order = append(order, kw)
			}
			if !slices.Contains(variants[kw].pages, rp.page) {
				variants[kw].add(rp.page, conf, rp.textLayer)
			}
		}
	}
	best := strongest(variants, order)
	if best == nil {
		return vote{support: support}
	}
	return decide(support, mineText, differingConfidence(v, best.value, self.unsure), best)
}

// streetVote weighs an address's street line against its printings on this page and the
// related ones: each cell that prints it, or a reading of it a character or two off, is a
// vote, the page's reading's surest printing its confidence. There is no other reading to
// weigh when street is not printed on the page as it is.
func streetVote(street string, self relatedPage, related []relatedPage) vote {
	ks := agreeKey(stage.FieldAddress, street)
	words := strings.Fields(street)
	if len(ks) < 8 || !unicode.IsDigit(rune(ks[0])) {
		return vote{}
	}
	mine := &reading{value: street}
	variants := map[string]*reading{}
	var order []string
	for _, rp := range append([]relatedPage{self}, related...) {
		for _, w := range printings(rp.text, words) {
			kw := agreeKey(stage.FieldAddress, w)
			conf := sureWord
			if !rp.textLayer {
				conf = differingConfidence(w, street, rp.unsure)
			}
			if kw == ks {
				mine.add(rp.page, 0, rp.textLayer) // its confidence is known once the other reading is
				continue
			}
			if variants[kw] == nil {
				variants[kw] = &reading{value: w}
				order = append(order, kw)
			}
			variants[kw].add(rp.page, conf, rp.textLayer)
		}
	}
	best := strongest(variants, order)
	if best == nil || !slices.Contains(mine.pages, self.page) {
		// Not printed on the page as the rules give it: they mended what OCR read ("PI"
		// for Pl), and its printing here would count against it.
		return vote{support: mine.count}
	}
	// How sure OCR was of this street's differing words: on its surest printing.
	mineConf := 0.0
	for _, rp := range append([]relatedPage{self}, related...) {
		if slices.Contains(mine.pages, rp.page) {
			mineConf = max(mineConf, differingConfidenceOf(rp, street, best.value))
		}
	}
	return decide(mine.count, mine.textLayer, mineConf, best)
}

func differingConfidenceOf(rp relatedPage, v, w string) float64 {
	if rp.textLayer {
		return sureWord
	}
	return differingConfidence(v, w, rp.unsure)
}

// printings are the readings of a street line of words in text: in each cell, the run of
// as many words, from one that starts with a digit (a house number), that differs from
// words in one word at most, by a character or two.
func printings(text string, words []string) []string {
	key := agreeKey(stage.FieldAddress, strings.Join(words, " "))
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for _, cell := range strings.Split(line, stage.CellSep) {
			toks := strings.Fields(cell)
			for i := 0; i+len(words) <= len(toks); i++ {
				if !unicode.IsDigit(rune(toks[i][0])) {
					continue
				}
				w := toks[i : i+len(words)]
				differ := 0
				for j := range w {
					if agreeKey(stage.FieldAddress, w[j]) != agreeKey(stage.FieldAddress, words[j]) {
						differ++
					}
				}
				if differ <= 1 && closeAddress(agreeKey(stage.FieldAddress, strings.Join(w, " ")), key) {
					out = append(out, strings.Join(w, " "))
					break
				}
			}
		}
	}
	return out
}

// strongest is the reading read most often, then the surest; nil when there is none.
func strongest(variants map[string]*reading, order []string) *reading {
	var best *reading
	for _, k := range order {
		if vr := variants[k]; best == nil || vr.count > best.count || vr.count == best.count && vr.conf > best.conf {
			best = vr
		}
	}
	return best
}

// verdict is what agreement decides of a page's reading of a value.
type verdict int

const (
	undecided  verdict = iota
	keepMine           // the page's reading wins
	takeTheirs         // the other reading wins
)

// decide weighs the page's reading (read alike support times, this page included, on a text
// layer when mineText, its differing words mineConf sure) against the strongest other one.
func decide(support int, mineText bool, mineConf float64, other *reading) vote {
	vt := vote{support: support, best: other, mineConf: mineConf}
	switch theirs := other.count; {
	case theirs > support:
		vt.verdict = takeTheirs
	case theirs < support:
		vt.verdict = keepMine
	case mineText && other.textLayer:
		// Two text layers that differ: two values after all.
	case mineText:
		vt.verdict = keepMine
	case other.textLayer:
		vt.verdict = takeTheirs
	case other.conf > mineConf+unsureMargin:
		vt.verdict, vt.byConfidence = takeTheirs, true
	case mineConf > other.conf+unsureMargin:
		vt.verdict, vt.byConfidence = keepMine, true
	}
	return vt
}

func sureOf(c float64) string {
	if c >= sureWord {
		return "sure of it"
	}
	return fmt.Sprintf("%.0f%% sure", c)
}

// pageList names pages, self as "this page".
func pageList(pages []int, self int) string {
	s := make([]string, len(pages))
	for i, p := range pages {
		s[i] = fmt.Sprint(p)
		if p == self {
			s[i] = "this page"
		}
	}
	if len(s) == 1 && pages[0] == self {
		return "this page"
	}
	if len(s) == 1 {
		return "page " + s[0]
	}
	return "pages " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// agreeKey is what two readings of a field are compared by: a phone's last ten digits, a
// name's words (stage.NameKey), an address's letters and digits.
func agreeKey(field, v string) string {
	switch field {
	case stage.FieldPhoneNumber:
		d := stage.Digits(v)
		return d[max(0, len(d)-10):]
	case stage.FieldAccountHolders:
		return stage.NameKey(v)
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, v)
}

// sameValue reports whether two different readings (agreeKey) of field are close enough
// to be one value read twice: an address a character or two apart (of at least 15;
// closeAddress), a phone a digit apart; names as the comment at the top of this file says.
func sameValue(field, a, b string) bool {
	switch field {
	case stage.FieldPhoneNumber:
		return len(a) == 10 && len(b) == 10 && stage.EditDistance(a, b, 1) <= 1
	case stage.FieldAccountHolders:
		return oneNameRead(a, b)
	}
	return len(a) >= 15 && len(b) >= 15 && closeAddress(a, b)
}

// closeAddress: two addresses (agreeKeys) two characters apart at most, their digits one: a
// house number two digits off is a house down the street ("5749 Oak Hollow" and "5781 Oak
// Hollow"), where OCR's damage to letters may be two ("rn" for m).
func closeAddress(a, b string) bool {
	return stage.EditDistance(a, b, 2) <= 2 && stage.EditDistance(stage.Digits(a), stage.Digits(b), 1) <= 1
}

// oneNameRead: the same letters spaced otherwise, or the same words but the last name (the
// last word of at least four letters) a letter off.
func oneNameRead(a, b string) bool {
	wa, wb := strings.Fields(a), strings.Fields(b)
	if strings.Join(wa, "") == strings.Join(wb, "") {
		return true
	}
	if len(wa) != len(wb) {
		return false
	}
	last := -1
	for i := len(wa) - 1; i >= 0; i-- {
		if len(wa[i]) >= 4 && len(wb[i]) >= 4 {
			last = i
			break
		}
		if wa[i] != wb[i] {
			return false // a suffix or an initial: Jr and Sr are two people
		}
	}
	if last < 0 || !slices.Equal(wa[:last], wb[:last]) || !slices.Equal(wa[last+1:], wb[last+1:]) {
		return false
	}
	return stage.EditDistance(wa[last], wb[last], 1) <= 1
}

// keys are the agreeKeys of one page's values of field.
func keys(field string, values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = agreeKey(field, v)
	}
	return out
}

// differingConfidence is how sure OCR was of the words of value v that the other reading
// w does not have (its least sure), from the page's unsure words: sureWord when none of
// them is unsure.
func differingConfidence(v, w string, unsure []stage.Word) float64 {
	theirs := words(w)
	c := sureWord
	for _, t := range words(v) {
		if slices.Contains(theirs, t) {
			continue
		}
		for _, u := range unsure {
			if slices.Contains(words(u.Text), t) {
				c = min(c, u.Confidence)
			}
		}
	}
	return c
}

// words are the runs of letters and digits of s, lower case.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// mend puts the other reading's words in place of the page's where they differ, in the
// page's case ("40666 Timber Ridge" and "10666 TIMBER RIDGE" make "10666 Timber Ridge"), so
// the value stays as the page prints it; when the two do not have the same words in the
// same places, the other reading as it is.
func mend(mine, theirs string) string {
	type run struct{ start, end int }
	runs := func(s string) []run {
		var out []run
		start := -1
		for i, r := range s + " " {
			alnum := unicode.IsLetter(r) || unicode.IsDigit(r)
			switch {
			case alnum && start < 0:
				start = i
			case !alnum && start >= 0:
				out = append(out, run{start, i})
				start = -1
			}
		}
		return out
	}
	rm, rt := runs(mine), runs(theirs)
	if len(rm) != len(rt) {
		return inCaseOf(mine, theirs)
	}
	var b strings.Builder
	at := 0
	for i, r := range rm {
		m, t := mine[r.start:r.end], theirs[rt[i].start:rt[i].end]
		b.WriteString(mine[at:r.start])
		if strings.EqualFold(m, t) {
			b.WriteString(m)
		} else {
			b.WriteString(inCaseOf(m, t))
		}
		at = r.end
	}
	b.WriteString(mine[at:])
	return b.String()
}

// inCaseOf is t in the case of m: upper, lower, capitalised, or as it is.
func inCaseOf(m, t string) string {
	switch {
	case !strings.ContainsFunc(m, unicode.IsLetter):
		return t
	case m == strings.ToUpper(m):
		return strings.ToUpper(t)
	case m == strings.ToLower(m):
		return strings.ToLower(t)
	case m == titleCase(strings.ToLower(m)):
		return titleCase(strings.ToLower(t))
	}
	return t
}
