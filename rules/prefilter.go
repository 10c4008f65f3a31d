package rules

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// keywords is a regular expression that is a list of words, most of which a line never
// holds. Go's regexp tries every alternative at every position of a line, so a long
// case-insensitive alternation costs more than everything else the rules do to that line;
// keywords first looks for the plain words every match must start with, and runs the
// expression only on a line that holds one of them. It matches exactly what the expression
// matches.
type keywords struct {
	re *regexp.Regexp
	// lits are, lower-cased, the literal starts of the alternatives: a match holds one.
	// nil when some alternative starts with something other than a literal.
	lits []string
	// anchored: every match starts at the start of the line, so the line starts with one of
	// lits.
	anchored bool
}

func mustKeywords(expr string) keywords {
	k := keywords{re: regexp.MustCompile(expr)}
	if re, err := syntax.Parse(expr, syntax.Perl); err == nil {
		k.lits = literalStarts(re)
		k.anchored = startsWithText(re)
	}
	for _, l := range k.lits {
		if l == "" {
			k.lits = nil
			break
		}
	}
	return k
}

// maybe reports whether s can match: false only when s is ASCII (simple case folding maps
// a few non-ASCII letters to ASCII ones, such as the Kelvin sign to k) and holds none of
// the literal starts.
func (k keywords) maybe(s string) bool {
	if k.lits == nil {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	if k.anchored {
		for _, l := range k.lits {
			if len(s) >= len(l) && strings.EqualFold(s[:len(l)], l) {
				return true
			}
		}
		return false
	}
	lower := strings.ToLower(s)
	for _, l := range k.lits {
		if strings.Contains(lower, l) {
			return true
		}
	}
	return false
}

func (k keywords) MatchString(s string) bool { return k.maybe(s) && k.re.MatchString(s) }

func (k keywords) FindStringIndex(s string) []int {
	if !k.maybe(s) {
		return nil
	}
	return k.re.FindStringIndex(s)
}

func (k keywords) FindString(s string) string {
	if !k.maybe(s) {
		return ""
	}
	return k.re.FindString(s)
}

// literalStarts is the set of literals one of which starts every match of re (after
// zero-width assertions), lower-cased; nil when re has a match that starts otherwise.
func literalStarts(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture:
		return literalStarts(re.Sub[0])
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			l := literalStarts(sub)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		return out
	case syntax.OpConcat:
		for i, sub := range re.Sub {
			switch sub.Op {
			case syntax.OpWordBoundary, syntax.OpBeginLine, syntax.OpBeginText, syntax.OpEmptyMatch:
				continue
			}
			if canBeEmpty(sub) {
				// "(?:home\s+)?phone": a match starts as the optional part does, or as
				// what follows it does.
				rest := literalStarts(&syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[i+1:]})
				starts := literalStarts(sub.Sub[0])
				if rest == nil || starts == nil {
					return nil
				}
				return append(starts, rest...)
			}
			starts := literalStarts(sub)
			// The parser factors "contact us|customer service" into "c(?:ontact us|ustomer
			// service)": a lone "c" would let every line through.
			if sub.Op != syntax.OpLiteral || i+1 == len(re.Sub) {
				return starts
			}
			next := literalStarts(re.Sub[i+1])
			if next == nil {
				return starts
			}
			var out []string
			for _, n := range next {
				out = append(out, starts[0]+n)
			}
			return out
		}
	}
	return nil
}

func canBeEmpty(re *syntax.Regexp) bool {
	return re.Op == syntax.OpQuest || re.Op == syntax.OpStar || re.Op == syntax.OpRepeat && re.Min == 0
}

// startsWithText reports whether re matches only at the start of the text ("^" without
// multi-line mode).
func startsWithText(re *syntax.Regexp) bool {
	for {
		switch re.Op {
		case syntax.OpBeginText:
			return true
		case syntax.OpCapture, syntax.OpConcat:
			if len(re.Sub) == 0 {
				return false
			}
			re = re.Sub[0]
		default:
			return false
		}
	}
}
