package eval

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idp/idp/stage"
)

func TestScores(t *testing.T) {
	want := stage.Result{
		Accounts: []stage.Account{{AccountNumber: "1111-2222"}, {AccountNumber: "333344445"}},
		Pages: []stage.PageResult{
			{Page: 0, AccountIndex: -1, Data: stage.Fields{}},
			{Page: 1, AccountIndex: 0, AccountNumber: "1111-2222", Data: stage.Fields{
				stage.FieldAccountNumber: "1111-2222", stage.FieldAccountHolders: []any{"Maria L. Gonzalez", "Wei Chen"},
				stage.FieldPhoneNumber: "(555) 201-7788", stage.FieldAddress: "1 Elm St, Springfield, IL 62704"}},
			{Page: 2, AccountIndex: 1, AccountNumber: "333344445", Data: stage.Fields{stage.FieldAccountNumber: "333344445"}},
		},
	}
	got := stage.Result{
		Accounts: []stage.Account{{AccountNumber: "11112222"}, {AccountNumber: "333344445"}},
		Pages: []stage.PageResult{
			{Page: 0, AccountIndex: 0, AccountNumber: "11112222", Data: stage.Fields{}}, // wrong: cover mapped
			{Page: 1, AccountIndex: 0, AccountNumber: "11112222", Data: stage.Fields{
				stage.FieldAccountNumber: "11112222", stage.FieldAccountHolders: []string{"MARIA L GONZALEZ", "Someone Else"},
				stage.FieldPhoneNumber: "+1 555 201 7788", stage.FieldAddress: "1 ELM ST SPRINGFIELD IL 62704"}},
			{Page: 2, AccountIndex: 1, AccountNumber: "333344445", Data: stage.Fields{}},
		},
	}
	s := NewScores()
	s.Add(got, want)
	check := func(name string, p *PRF, tp, fp, fn int) {
		t.Helper()
		if p == nil || p.TP != tp || p.FP != fp || p.FN != fn {
			t.Errorf("%s = %+v, want tp=%d fp=%d fn=%d", name, p, tp, fp, fn)
		}
	}
	check(stage.FieldAccountNumber, s.Fields[stage.FieldAccountNumber], 1, 0, 1)
	check(stage.FieldAccountHolders, s.Fields[stage.FieldAccountHolders], 1, 1, 1)
	check(stage.FieldPhoneNumber, s.Fields[stage.FieldPhoneNumber], 1, 0, 0)
	check(stage.FieldAddress, s.Fields[stage.FieldAddress], 1, 0, 0)
	if s.PagesCorrect != 2 || s.Pages != 3 {
		t.Errorf("pages %d/%d, want 2/3", s.PagesCorrect, s.Pages)
	}
	if want := (Confusion{Right: 2, Spurious: 1}); s.Confusion != want {
		t.Errorf("confusion = %+v, want %+v", s.Confusion, want)
	}
	// The cover in an account, a holder and a missing account number.
	var mistakes []string
	for _, m := range s.Mistakes {
		mistakes = append(mistakes, fmt.Sprintf("%d %s", m.Page, m.Field))
	}
	if want := []string{"0 account", "1 Account_Holders", "2 Account_Number"}; !slices.Equal(mistakes, want) {
		t.Errorf("mistakes = %q, want %q", mistakes, want)
	}
	var b strings.Builder
	s.PrintMistakes(&b)
	if !strings.Contains(b.String(), `page 1 Account_Holders: got "MARIA L GONZALEZ; Someone Else", want "Maria L. Gonzalez; Wei Chen"`) {
		t.Errorf("printed mistakes:\n%s", b.String())
	}
	if s.ExactAccounts != 1 {
		t.Errorf("exact account sets = %d, want 1", s.ExactAccounts)
	}
	if f1 := s.Fields[stage.FieldAccountHolders].F1(); f1 < 0.49 || f1 > 0.51 {
		t.Errorf("holders F1 = %.3f, want 0.5", f1)
	}
}
