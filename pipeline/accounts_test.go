package pipeline

import (
	"context"
	"reflect"
	"testing"
)

func TestRuleSplitter(t *testing.T) {
	pages := []string{
		"LOAN PACKET COVER SHEET\nReference No. 20231114-0098",                                          // 0: cover
		"MARIA GONZALEZ" + CellSep + "Account Number: 4401-2231-0097\n12 ELM ST\nSPRINGFIELD, IL 62704", // 1
		"TRANSACTION DETAIL (continued)\n05/22" + CellSep + "6503364258721194" + CellSep + "130.50",     // 2: continues 1
		"Account ending in 0097\nTRANSACTION DETAIL",                                                    // 3: partial
		"DOCUMENT SEPARATOR\nThis page intentionally left blank",                                        // 4: separator
		"Owner 1: Wei Chen\nAcct # 5555-6666-77",                                                        // 5
		"Signature of Owner 1",                                                                          // 6: continues 5
		"Loan Number: 0012345678\nBorrower Name: Priya Patel\nCo-Borrower Name: Wei Chen",               // 7
		"Owner: Maria L. Gonzalez\nACCOUNT NUMBER: 440122310097",                                        // 8: account 0 again
	}
	var in []PageText
	for i, p := range pages {
		in = append(in, PageText{Page: i, Text: p})
	}
	ctx := context.Background()
	s := RuleSplitter{}
	accounts, err := s.Split(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Account{
		{Index: 0, AccountNumber: "4401-2231-0097", Holders: []string{"Maria L. Gonzalez"}, Pages: []int{1, 2, 3, 8}},
		{Index: 1, AccountNumber: "5555-6666-77", Holders: []string{"Wei Chen"}, Pages: []int{5, 6}},
		{Index: 2, AccountNumber: "0012345678", Holders: []string{"Priya Patel", "Wei Chen"}, Pages: []int{7}},
	}
	if !reflect.DeepEqual(accounts, want) {
		t.Errorf("accounts =\n%+v\nwant\n%+v", accounts, want)
	}
	maps, err := s.MapPages(ctx, in, accounts)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range maps {
		got = append(got, m.AccountIndex)
		if m.Evidence == "" {
			t.Errorf("page %d has no evidence", m.Page)
		}
	}
	if wantMap := []int{-1, 0, 0, 0, -1, 1, 1, 2, 0}; !reflect.DeepEqual(got, wantMap) {
		t.Errorf("mapping = %v, want %v", got, wantMap)
	}
}

func TestScores(t *testing.T) {
	want := Result{
		Accounts: []Account{{AccountNumber: "1111-2222"}, {AccountNumber: "333344445"}},
		Pages: []PageResult{
			{Page: 0, AccountIndex: -1, Data: Fields{}},
			{Page: 1, AccountIndex: 0, AccountNumber: "1111-2222", Data: Fields{
				FieldAccountNumber: "1111-2222", FieldAccountHolders: []any{"Maria L. Gonzalez", "Wei Chen"},
				FieldPhoneNumber: "(555) 201-7788", FieldAddress: "1 Elm St, Springfield, IL 62704"}},
			{Page: 2, AccountIndex: 1, AccountNumber: "333344445", Data: Fields{FieldAccountNumber: "333344445"}},
		},
	}
	got := Result{
		Accounts: []Account{{AccountNumber: "11112222"}, {AccountNumber: "333344445"}},
		Pages: []PageResult{
			{Page: 0, AccountIndex: 0, AccountNumber: "11112222", Data: Fields{}}, // wrong: cover mapped
			{Page: 1, AccountIndex: 0, AccountNumber: "11112222", Data: Fields{
				FieldAccountNumber: "11112222", FieldAccountHolders: []string{"MARIA L GONZALEZ", "Someone Else"},
				FieldPhoneNumber: "+1 555 201 7788", FieldAddress: "1 ELM ST SPRINGFIELD IL 62704"}},
			{Page: 2, AccountIndex: 1, AccountNumber: "333344445", Data: Fields{}},
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
	check(FieldAccountNumber, s.Fields[FieldAccountNumber], 1, 0, 1)
	check(FieldAccountHolders, s.Fields[FieldAccountHolders], 1, 1, 1)
	check(FieldPhoneNumber, s.Fields[FieldPhoneNumber], 1, 0, 0)
	check(FieldAddress, s.Fields[FieldAddress], 1, 0, 0)
	if s.PagesCorrect != 2 || s.Pages != 3 {
		t.Errorf("pages %d/%d, want 2/3", s.PagesCorrect, s.Pages)
	}
	if s.ExactAccounts != 1 {
		t.Errorf("exact account sets = %d, want 1", s.ExactAccounts)
	}
	if f1 := s.Fields[FieldAccountHolders].F1(); f1 < 0.49 || f1 > 0.51 {
		t.Errorf("holders F1 = %.3f, want 0.5", f1)
	}
}

// TestRuleSplitterOCRMisread: a number read by OCR alone that is one digit off a number
// printed more often is that account misread; sequential numbers in a text layer stay apart.
func TestRuleSplitterOCRMisread(t *testing.T) {
	ctx := context.Background()
	pages := func(src string, texts ...string) []PageText {
		var out []PageText
		for i, x := range texts {
			out = append(out, PageText{Page: i, Text: x, Source: src})
		}
		return out
	}
	scanned := pages(SourceOCR,
		"Account Number: 8109891224\nOwner: Maria Gonzalez",
		"Account Number: 8109891224",
		"Account Number: 8169891224", // misread
		"Loan Number: 0012345678")
	accounts, err := RuleSplitter{}.Split(ctx, scanned)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 || accounts[0].AccountNumber != "8109891224" || !reflect.DeepEqual(accounts[0].Pages, []int{0, 1, 2}) {
		t.Errorf("scanned: %+v", accounts)
	}
	digital := pages(SourceTextLayer,
		"Account Number: 1234567890",
		"Account Number: 1234567890",
		"Account Number: 1234567891")
	accounts, err = RuleSplitter{}.Split(ctx, digital)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 {
		t.Errorf("sequential numbers in a text layer: %+v, want 2 accounts", accounts)
	}
}
