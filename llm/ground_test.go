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
	kept, evidence, flags := s.ground(stage.Fields{
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
	// Evidence stands beside every kept value, and says how closely the page prints it.
	// "Gonza1ez" on the page: found with OCR's tolerance, 2 of 3 words as they are.
	if e := evidence[stage.FieldAccountHolders]; len(e) != 1 || e[0].Value != "Maria L. Gonzalez" || e[0].Source != stage.EvidenceGrounded || e[0].Confidence != 0.8 {
		t.Errorf("holder evidence = %+v", e)
	}
	if _, ok := evidence[stage.FieldAccountNumber]; ok {
		t.Errorf("a dropped value has evidence: %+v", evidence)
	}
	for _, c := range []struct {
		f    SchemaField
		v    string
		low  bool
		conf float64
	}{
		{phone, "(555) 201-7788", false, 0.9},
		{acct, "2231-0097", false, 0.75},                                 // inside a longer number
		{addr, "1207 Lakeview Drive, Springfield, IL 62704", false, 0.9}, // as printed
		{addr, "1207 Lake View Dr, Springf, IL 62704", false, 0.73},      // 0.6 + 0.3*3/7 to two decimals: OCR's tolerance for 4 of 7 words
		{addr, "Lake View Dr Springf", true, 0.6},                        // for every word
	} {
		e := ev.evidence(c.f, c.v)
		if (e.Confidence < stage.LowConfidence) != c.low || e.Confidence != c.conf || e.Detail == "" {
			t.Errorf("%s %q: evidence %+v, want confidence %.3f", c.f.Name, c.v, e, c.conf)
		}
	}
	joined := strings.Join(flags, "\n")
	for _, w := range []string{"reads as instructions to a model (line 5)", `Account_Number: dropped "000": printed only in text that reads as instructions`, `Account_Holders: dropped "John Planted"`} {
		if !strings.Contains(joined, w) {
			t.Errorf("flags do not say %q:\n%s", w, joined)
		}
	}
}
