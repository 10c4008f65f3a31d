package stage

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b  string
		limit int
		want  int
	}{
		{"", "", 2, 0},
		{"10666", "40666", 2, 1},
		{"10666", "1066", 2, 1},
		{"kitten", "sitting", 5, 3},
		{"kitten", "sitting", 2, 3},            // over the limit: limit+1
		{"abc", "abcdef", 2, 3},                // lengths too far apart
		{"rasmussen", "rasrnussen", 2, 2},      // rn for m
		{"gonzalez", "gonzales", 1, 1},         // one letter
		{"6135550100", "6135550199", 1, 2},     // two digits
		{"springfield", "sprlngfleld", 3, 2},   // l for i, twice
		{"abcdefghij", "bcdefghija", 1, 2},     // a rotation is not one edit
		{"1234567890", "1234567890", 0, 0},     // equal under a zero limit
		{"1234567890", "1234567891", 0, 1},     // one off under a zero limit
		{"a", "", 1, 1},                        // a deletion
		{"", "ab", 1, 2},                       // two insertions
		{"timberridge", "timberidge", 1, 1},    // a letter dropped
		{"baton rouge", "baton rogue", 2, 2},   // two letters swapped
		{"70801-9069", "70801-9060", 1, 1},     // the last digit
		{"unit12", "unit 12", 1, 1},            // a space
		{"gallagh er", "gallagher", 1, 1},      // a space inside a word
		{"abc", "xyz", 3, 3},                   // everything
		{"same", "same", 2, 0},                 // nothing
		{"longer value", "longer valve", 2, 1}, // a letter
		{"aaaaaaaaaa", "aaaaaaaaab", 2, 1},     // the end
		{"baaaaaaaaa", "aaaaaaaaaa", 2, 1},     // the start
		{"ab", "ba", 2, 2},                     // a swap is two edits
		{"xabcdefghij", "abcdefghijx", 1, 2},   // moved letter
		{"abcdefghij", "abcdxfghij", 1, 1},     // the middle
		{"13897 lakeshore", "13897 lakesh0re", 2, 1},
		{"smith ¢ jones", "smith & jones", 1, 1}, // a rune, not its bytes
	}
	for _, tt := range tests {
		if got := EditDistance(tt.a, tt.b, tt.limit); got != tt.want {
			t.Errorf("EditDistance(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.limit, got, tt.want)
		}
	}
}
