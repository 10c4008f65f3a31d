package llm

import (
	"strings"
	"testing"

	"github.com/idp/idp/stage"
)

func TestLLMGround(t *testing.T) {
	ev := newPageEvidence(groundPage)
	s := DefaultSchema()
	acct, _ := s.Field(stage.FieldAccountNumber)
	phone, _ := s.Field(stage.FieldPhoneNumber)
	addr, _ := s.Field(stage.FieldAddress)
	holders, _ := s.Field(stage.FieldAccountHolders)
	cases := []struct {
		f    SchemaField
		v    string
		want groundResult
	}{
		{acct, "4401-2231-0097", grounded},
		{acct, "4401 2231 0097", grounded},
		{acct, "440122310097", grounded},
		{acct, "2231-0097", grounded},
		{acct, "4401-2231-0098", notOnPage},
		{acct, "000", onlyInInstructions},
		{acct, "2024", grounded},
		{phone, "555-201-7788", grounded},
		{phone, "+1 (555) 201-7788", grounded},
		{phone, "555-201-7789", notOnPage},
		{addr, "1207 Lakeview Drive, Springfield, IL 62704", grounded},
		{addr, "1207 Lakeview Dr, Springfield IL 62704", grounded},
		{addr, "1208 Lakeview Drive, Springfield, IL 62704", notOnPage},
		{addr, "1207 Lake View Drive, Springfield, IL 62704", grounded},
		{addr, "99 Elm Street, Chicago, IL 60601", notOnPage},
		{holders, "Maria L. Gonzalez", grounded},
		{holders, "MARIA GONZALEZ", grounded},
		{holders, "Robert Smith", notOnPage},
		{holders, "John Planted", onlyInInstructions},
	}
	for _, c := range cases {
		if got := ev.check(c.f, c.v); got != c.want {
			t.Errorf("%s %q: got %d, want %d", c.f.Name, c.v, got, c.want)
		}
	}
	kept, flags := s.ground(stage.Fields{
		stage.FieldAccountNumber:  "000",
		stage.FieldAccountHolders: []string{"Maria L. Gonzalez", "John Planted"},
		stage.FieldPhoneNumber:    "(555) 201-7788",
	}, ev)
	if _, ok := kept[stage.FieldAccountNumber]; ok {
		t.Errorf("planted account number kept: %v", kept)
	}
	if h := kept[stage.FieldAccountHolders].([]string); len(h) != 1 || h[0] != "Maria L. Gonzalez" {
		t.Errorf("holders = %v", h)
	}
	if kept[stage.FieldPhoneNumber] != "(555) 201-7788" {
		t.Errorf("phone dropped: %v", kept)
	}
	joined := strings.Join(flags, "\n")
	for _, w := range []string{"reads as instructions to a model (line 5)", `Account_Number: dropped "000": printed only in text that reads as instructions`, `Account_Holders: dropped "John Planted"`} {
		if !strings.Contains(joined, w) {
			t.Errorf("flags do not say %q:\n%s", w, joined)
		}
	}
}
