package eval

import (
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
	if s.ExactAccounts != 1 {
		t.Errorf("exact account sets = %d, want 1", s.ExactAccounts)
	}
	if f1 := s.Fields[stage.FieldAccountHolders].F1(); f1 < 0.49 || f1 > 0.51 {
		t.Errorf("holders F1 = %.3f, want 0.5", f1)
	}
}
