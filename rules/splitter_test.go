package rules

import (
	"context"
	"reflect"
	"testing"

	"github.com/idp/idp/stage"
)

func TestRuleSplitter(t *testing.T) {
	pages := []string{
		"LOAN PACKET COVER SHEET\nReference No. 20231114-0098",                                                  // 0: cover
		"MARIA GONZALEZ" + stage.CellSep + "Account Number: 4401-2231-0097\n12 ELM ST\nSPRINGFIELD, IL 62704",   // 1
		"TRANSACTION DETAIL (continued)\n05/22" + stage.CellSep + "6503364258721194" + stage.CellSep + "130.50", // 2: continues 1
		"Account ending in 0097\nTRANSACTION DETAIL",                                                            // 3: partial
		"DOCUMENT SEPARATOR\nThis page intentionally left blank",                                                // 4: separator
		"Owner 1: Wei Chen\nAcct # 5555-6666-77",                                                                // 5
		"Signature of Owner 1",                                                                                  // 6: continues 5
		"Loan Number: 0012345678\nBorrower Name: Priya Patel\nCo-Borrower Name: Wei Chen",                       // 7
		"Owner: Maria L. Gonzalez\nACCOUNT NUMBER: 440122310097",                                                // 8: account 0 again
	}
	var in []stage.PageText
	for i, p := range pages {
		in = append(in, stage.PageText{Page: i, Text: p})
	}
	ctx := context.Background()
	s := Splitter{}
	accounts, err := s.Split(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []stage.Account{
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

// TestRuleSplitterOCRMisread: a number read by OCR alone that is one digit off a number
// printed more often is that account misread; sequential numbers in a text layer stay apart.
func TestRuleSplitterOCRMisread(t *testing.T) {
	ctx := context.Background()
	pages := func(src string, texts ...string) []stage.PageText {
		var out []stage.PageText
		for i, x := range texts {
			out = append(out, stage.PageText{Page: i, Text: x, Source: src})
		}
		return out
	}
	scanned := pages(stage.SourceOCR,
		"Account Number: 8109891224\nOwner: Maria Gonzalez",
		"Account Number: 8109891224",
		"Account Number: 8169891224", // misread
		"Loan Number: 0012345678")
	accounts, err := Splitter{}.Split(ctx, scanned)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 || accounts[0].AccountNumber != "8109891224" || !reflect.DeepEqual(accounts[0].Pages, []int{0, 1, 2}) {
		t.Errorf("scanned: %+v", accounts)
	}
	digital := pages(stage.SourceTextLayer,
		"Account Number: 1234567890",
		"Account Number: 1234567890",
		"Account Number: 1234567891")
	accounts, err = Splitter{}.Split(ctx, digital)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 {
		t.Errorf("sequential numbers in a text layer: %+v, want 2 accounts", accounts)
	}
}

func TestAddHolder(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"two printings of one person", []string{"MARIA L GONZALEZ", "Maria L. Gonzalez"}, []string{"Maria L. Gonzalez"}},
		{"a suffix printed once", []string{"Robert T. Hall II", "ROBERT T HALL"}, []string{"Robert T. Hall II"}},
		{"Jr on the second printing only", []string{"ROBERT HALL", "Robert Hall Jr"}, []string{"Robert Hall Jr"}},
		{"other middle initials are other people", []string{"John A. Smith", "John B. Smith"}, []string{"John A. Smith", "John B. Smith"}},
		{"the same last name is not the same person", []string{"John Smith", "Jane Smith"}, []string{"John Smith", "Jane Smith"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, n := range tt.names {
				got = AddHolder(got, n)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("holders = %q, want %q", got, tt.want)
			}
		})
	}
}
