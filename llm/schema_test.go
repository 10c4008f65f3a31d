package llm

import (
	"errors"
	"strings"
	"testing"

	"github.com/idp/idp/stage"
)

func TestLLMParseSchema(t *testing.T) {
	cases := []struct {
		name string
		json string
		want []string // substrings of the error; none: valid
	}{
		{"valid", `{"name":"loan","fields":[{"name":"Loan_Amount","type":"number","description":"the amount"},{"name":"Names","type":"string[]","description":"people","max_items":3}]}`, nil},
		{"unknown key", `{"fields":[{"name":"A","type":"string","description":"a","max_lenght":3}]}`, []string{`unknown field "max_lenght"`}},
		{"no fields", `{"fields":[]}`, []string{"at least one field"}},
		{"bad type and name", `{"fields":[{"name":"1x","type":"int","description":"a"}]}`, []string{`name "1x"`, `type "int"`}},
		{"duplicate", `{"fields":[{"name":"A","type":"string","description":"a"},{"name":"a","type":"string","description":"b"}]}`, []string{"appears twice"}},
		{"no description", `{"fields":[{"name":"A","type":"string"}]}`, []string{"description is missing"}},
		{"limits", `{"fields":[{"name":"A","type":"string","description":"a","max_length":20000},{"name":"B","type":"number","description":"b","max_length":5},{"name":"C","type":"string","description":"c","max_items":2}]}`,
			[]string{"max_length 20000", "applies to strings", "max_items applies"}},
		{"match", `{"fields":[{"name":"A","type":"number","description":"a","match":"text"},{"name":"B","type":"string","description":"b","match":"fuzzy"}]}`,
			[]string{"matched by its digits", `match "fuzzy"`}},
		{"two values", `{"fields":[{"name":"A","type":"string","description":"a"}]} {}`, []string{"more than one"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSchema([]byte(c.json))
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if f, _ := s.Field("Names"); f.MaxLength != defaultMaxLength || f.Match != MatchText {
					t.Errorf("defaults not filled in: %+v", f)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("err = %v, want ErrInvalidSchema", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if DefaultSchema().Digest() == mustSchema(t, `{"fields":[{"name":"A","type":"string","description":"a"}]}`).Digest() {
		t.Error("two schemas with one digest")
	}
}

func mustSchema(t *testing.T, js string) *Schema {
	t.Helper()
	s, err := ParseSchema([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLLMNormalize(t *testing.T) {
	s := DefaultSchema()
	cases := []struct {
		name   string
		answer string
		want   stage.Fields
		err    string
	}{
		{"clean", `{"Account_Number":" 4401-2231-0097 ","Account_Holders":["Maria  L. Gonzalez","MARIA L. GONZALEZ",""],"Phone_Number":null,"Address":"N/A"}`,
			stage.Fields{"Account_Number": "4401-2231-0097", "Account_Holders": []string{"Maria L. Gonzalez"}}, ""},
		{"extra field", `{"Account_Number":"1","Notes":"x"}`, nil, `unexpected field "Notes"`},
		{"wrong type", `{"Account_Number":12345678,"Account_Holders":"Maria"}`, nil, "want a string or null, got a number"},
		{"too long", `{"Address":"` + strings.Repeat("a", 201) + `"}`, nil, "201 characters; at most 200"},
		{"too many", `{"Account_Holders":["A B","C D","E F","G H","I J","K L","M N","O P","Q R","S T","U V"]}`, nil, "11 entries; at most 10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj, err := decodeAnswer(c.answer)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Normalize(obj)
			if c.err != "" {
				if !errors.Is(err, ErrInvalidAnswer) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want ErrInvalidAnswer saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !fieldsEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	num := mustSchema(t, `{"fields":[{"name":"Amount","type":"number","description":"a"}]}`)
	for in, want := range map[string]any{`{"Amount":1234.5}`: 1234.5, `{"Amount":"$1,234.50"}`: 1234.5, `{"Amount":"n/a"}`: nil} {
		obj, _ := decodeAnswer(in)
		got, err := num.Normalize(obj)
		if err != nil || got["Amount"] != want {
			t.Errorf("%s: got %v (%v), want %v", in, got["Amount"], err, want)
		}
	}
}

func fieldsEqual(a, b stage.Fields) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok {
			return false
		}
		vs, vok := v.([]string)
		ws, wok := w.([]string)
		if vok || wok {
			if strings.Join(vs, "|") != strings.Join(ws, "|") {
				return false
			}
			continue
		}
		if v != w {
			return false
		}
	}
	return true
}
