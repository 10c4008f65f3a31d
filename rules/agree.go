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
//   - read so on as many pages: the reading whose differing word OCR was less sure of
//     loses (a word it was sure of is 100); when neither is surer, or a text layer says
//     otherwise, that decides as a majority would: a text layer is not misread;
//   - when nothing decides, the page's value stays but is marked uncertain, and flagged.
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
// the other's for a tie to go to it: word confidences a few points apart say nothing.
const unsureMargin = 5.0

// undecidedConfidence is the most a value gets when another page reads it differently and
// nothing says which reading is right: under stage.LowConfidence, shown as uncertain.
const undecidedConfidence = 0.6

// relatedPage is what the rules read on a related page.
type relatedPage struct {
	page      int
	fields    stage.Fields
	unsure    []stage.Word
	textLayer bool
}

// variant is one reading of a value on related pages.
type variant struct {
	value     string // as the first page that reads it prints it
	pages     []int
	conf      float64 // how sure OCR was of its differing words, on its surest page
	textLayer bool
}

// agree checks the values of an OCR'd page's fields against the same fields read on the
// related pages of in, mends or marks those read differently elsewhere (f and ev are
// changed), and returns a flag for each.
func agree(f stage.Fields, ev stage.FieldEvidence, in stage.ExtractInput) []string {
	if in.Source != stage.SourceOCR || len(in.Related) == 0 || !slices.ContainsFunc(agreeFields, func(k string) bool { return f[k] != nil }) {
		return nil
	}
	related := make([]relatedPage, 0, len(in.Related))
	for _, rp := range in.Related {
		rf, _ := Read(rp.Text)
		related = append(related, relatedPage{page: rp.Page, fields: rf, unsure: rp.Unsure, textLayer: rp.Source == stage.SourceTextLayer})
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
			flag, mended, ok := agreeValue(field, v, values, &es[i], in.Unsure, related)
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
// mine) against the related pages; e is its evidence, changed in place. It returns the
// flag to raise, if any, and the value to put in v's place when another reading wins.
func agreeValue(field, v string, mine []string, e *stage.Evidence, unsure []stage.Word, related []relatedPage) (flag, mended string, ok bool) {
	kv := agreeKey(field, v)
	if kv == "" {
		return "", "", false
	}
	// The readings given beside v on one page (this one or another) are other values.
	support, distinct := 1, keys(field, mine)
	for _, rp := range related {
		if theirs := keys(field, stage.Values(rp.fields[field])); slices.Contains(theirs, kv) {
			support++
			distinct = append(distinct, theirs...)
		}
	}
	variants := map[string]*variant{}
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
			vr := variants[kw]
			if vr == nil {
				vr = &variant{value: w}
				variants[kw] = vr
				order = append(order, kw)
			}
			if !slices.Contains(vr.pages, rp.page) {
				vr.pages = append(vr.pages, rp.page)
			}
			vr.conf = max(vr.conf, conf)
			vr.textLayer = vr.textLayer || rp.textLayer
		}
	}
	if len(order) == 0 {
		return "", "", false
	}
	// The strongest other reading: on most pages, then the surest.
	best := variants[order[0]]
	for _, k := range order[1:] {
		if vr := variants[k]; len(vr.pages) > len(best.pages) || len(vr.pages) == len(best.pages) && vr.conf > best.conf {
			best = vr
		}
	}
	mineConf := differingConfidence(v, best.value, unsure)
	elsewhere := fmt.Sprintf("%q on %s", best.value, pageList(best.pages))
	switch decide(support, mineConf, best) {
	case keepMine:
		if len(best.pages) < support {
			e.Detail += fmt.Sprintf("; read so on %d pages, %s", support, elsewhere)
		} else {
			e.Detail += fmt.Sprintf("; read %s, where OCR was %s", elsewhere, sureOf(best.conf))
		}
		return "", "", false
	case takeTheirs:
		mended = mend(v, best.value)
		e.Value = mended
		e.Detail += fmt.Sprintf("; OCR read %q here (%s), %s", v, sureOf(mineConf), elsewhere)
		return fmt.Sprintf("%s %q read as %s: taken from there", field, v, elsewhere), mended, true
	}
	e.Confidence = min(e.Confidence, undecidedConfidence)
	e.Detail += fmt.Sprintf("; read %s", elsewhere)
	return fmt.Sprintf("%s %q uncertain: read %s", field, v, elsewhere), "", false
}

// verdict is what agreement decides of a page's reading of a value.
type verdict int

const (
	undecided  verdict = iota
	keepMine           // the page's reading wins
	takeTheirs         // the other reading wins
)

// decide weighs the page's reading (read alike on support pages, this one included, its
// differing word mineConf sure) against the strongest other reading.
func decide(support int, mineConf float64, other *variant) verdict {
	switch theirs := len(other.pages); {
	case theirs > support:
		return takeTheirs
	case theirs < support:
		return keepMine
	case other.textLayer:
		return takeTheirs
	case other.conf >= mineConf+unsureMargin:
		return takeTheirs
	case mineConf >= other.conf+unsureMargin:
		return keepMine
	}
	return undecided
}

func sureOf(c float64) string {
	if c >= sureWord {
		return "sure of it"
	}
	return fmt.Sprintf("%.0f%% sure", c)
}

func pageList(pages []int) string {
	s := make([]string, len(pages))
	for i, p := range pages {
		s[i] = fmt.Sprint(p)
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
// to be one value read twice: an address a character or two apart (of at least 15), a
// phone a digit apart; names as the comment at the top of this file says.
func sameValue(field, a, b string) bool {
	switch field {
	case stage.FieldPhoneNumber:
		return len(a) == 10 && len(b) == 10 && editDistance(a, b, 1) <= 1
	case stage.FieldAccountHolders:
		return oneNameRead(a, b)
	}
	return len(a) >= 15 && len(b) >= 15 && editDistance(a, b, 2) <= 2
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
	return editDistance(wa[last], wb[last], 1) <= 1
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

// editDistance is the Levenshtein distance between a and b (bytes), or limit+1 when it is
// more than limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
			low = min(low, cur[j])
		}
		if low > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit+1)
}
