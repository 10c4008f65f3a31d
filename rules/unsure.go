package rules

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/idp/idp/stage"
)

// A value read from words OCR was unsure of may be misread: one character off is enough to
// make it wrong. Its confidence is at most what its least sure word's confidence says about
// such values (unsureConfidence), and a value whose least sure word is under dropUnder is
// dropped from the page's data, flagged, as more often wrong than right.
//
// Both were chosen on the first generator's scans (seeds 500-507) and the second's (500-507,
// 600-604), 21 packets, about 500 values: of the values whose least sure word was under 50,
// five in six were right (two account numbers on words Tesseract gave 0 and 19); from 50 to
// 80, about nine in ten; from 80 to 95, 99 in 100. No word confidence made values more
// often wrong than right, so dropUnder is 0: nothing is dropped for its confidence alone.
const dropUnder = 0.0

// unsureConfidence is the confidence of a value whose least sure word has confidence c
// (0-100): 0.6 at 0, stage.LowConfidence (shown as uncertain) under 25, 0.8 at 50, 0.9 at 75.
func unsureConfidence(c float64) float64 {
	return 0.6 + 0.004*c
}

// weighUnsure lowers the confidence of every value of f built on a word of unsure, and drops
// those built on a word under drop, with a flag for each. Extract drops under dropUnder.
func weighUnsure(f stage.Fields, ev stage.FieldEvidence, unsure []stage.Word, drop float64) []string {
	if len(unsure) == 0 {
		return nil
	}
	var flags []string
	for field, es := range ev {
		keep := make([]bool, len(es))
		for i := range es {
			keep[i] = true
			c, word, ok := leastSure(es[i].Value, unsure)
			if !ok {
				continue
			}
			if c < drop {
				keep[i] = false
				flags = append(flags, fmt.Sprintf("%s %q dropped: OCR was %.0f%% sure of %q", field, es[i].Value, c, word))
				continue
			}
			es[i].Confidence = stage.RoundConfidence(min(es[i].Confidence, unsureConfidence(c)))
			es[i].Detail += fmt.Sprintf("; OCR %.0f%% sure of %q", c, word)
		}
		kept := es[:0]
		for i, e := range es {
			if keep[i] {
				kept = append(kept, e)
			}
		}
		switch {
		case len(kept) == len(es):
		case len(kept) == 0:
			delete(ev, field)
			delete(f, field)
		default:
			ev[field] = kept
			if list, ok := f[field].([]string); ok {
				f[field] = slices.DeleteFunc(list, func(v string) bool {
					return !slices.ContainsFunc(kept, func(e stage.Evidence) bool { return e.Value == v })
				})
			}
		}
	}
	slices.Sort(flags)
	return flags
}

// leastSure is the least confidence of the words of unsure that value is built on: every
// letter-and-digit run of the word is one of the value's (runs of one character, an initial
// or a "+1", are left out: the same letter is too often elsewhere on the page), or the word, with digits in it,
// is part of the value's run of letters and digits (a number the rules repaired, "399]" for
// "3991"). Letters OCR confuses with digits compare equal (o and 0, l, i and 1).
func leastSure(value string, unsure []stage.Word) (float64, string, bool) {
	vt := tokens(value)
	vall := strings.Join(vt, "")
	c, word, ok := 100.0, "", false
	for _, w := range unsure {
		wt := slices.DeleteFunc(tokens(w.Text), func(t string) bool { return len(t) < 2 })
		wall := strings.Join(wt, "")
		if len(wt) == 0 {
			continue
		}
		if !allIn(wt, vt) && !(len(wall) >= 4 && strings.ContainsAny(wall, "0123456789") && strings.Contains(vall, wall)) {
			continue
		}
		if w.Confidence < c {
			c, word, ok = w.Confidence, w.Text, true
		}
	}
	return c, word, ok
}

// tokens are the runs of letters and digits of s, lower case, with o read as 0 and l and i
// as 1.
func tokens(s string) []string {
	s = strings.NewReplacer("o", "0", "l", "1", "i", "1").Replace(strings.ToLower(s))
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func allIn(sub, set []string) bool {
	for _, t := range sub {
		if !slices.Contains(set, t) {
			return false
		}
	}
	return true
}
