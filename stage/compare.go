package stage

import (
	"strings"
	"unicode"
)

// How values of the default schema compare (README, "Fields and the result format"): an
// account number by its digits, a holder by NameKey, a phone by its last 10 digits.

// Digits keeps the ASCII digits of s.
func Digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// NameKey is how names are compared: letters only, lower case, single spaces.
func NameKey(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.':
			space = true
		}
	}
	return b.String()
}
