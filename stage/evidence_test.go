package stage

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestValues(t *testing.T) {
	var decoded map[string]any
	if err := json.Unmarshal([]byte(`{"h":["Grace Kim","Omar Haddad"],"n":"0071"}`), &decoded); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		v    any
		want []string
	}{
		{"nil", nil, nil},
		{"one value", "0071 2290 4415", []string{"0071 2290 4415"}},
		{"a list as an extractor gives it", []string{"Grace Kim", "Omar Haddad"}, []string{"Grace Kim", "Omar Haddad"}},
		{"a list as JSON decodes it", decoded["h"], []string{"Grace Kim", "Omar Haddad"}},
		{"a string as JSON decodes it", decoded["n"], []string{"0071"}},
		{"anything else, printed", 42, []string{"42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Values(tt.v); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Values(%#v) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

func TestRoundConfidence(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0.6 + 0.3, 0.9}, {0.9 - 0.05, 0.85}, {0.95, 0.95}, {1, 1}, {0.123, 0.12}} {
		if got := RoundConfidence(c.in); got != c.want {
			t.Errorf("RoundConfidence(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
