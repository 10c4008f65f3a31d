package rules

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/idp/idp/stage"
)

// Layouts of real packets, as /work/shared/LAYOUTS.md and issue 10 describe them, written as
// the layout text stage 1 makes of them. None of them comes from a generator.

// realStatement is a 5-page bank statement as the issue describes it: the customer's name
// and address in the window-envelope block with no label, a line of sort codes above it, the
// bank's return address and contact block, an account summary table with a checking and a
// savings account ("details on page 3"), section headers, and transaction rows full of
// 10-digit reference numbers.
var realStatement = []string{
	// page 0: header, recipient block, summary
	layout([]string{"FIRST STATE BANK", "Questions? Call 1-800-555-0134"}) + "\n" +
		layout([]string{"PO BOX 1800", "Contact us: www.firststatebank.com"}) + "\n" +
		layout([]string{"SIOUX FALLS SD 57117-1800", "Member FDIC"}) + "\n\n" +
		layout([]string{"000-11-22 48213 2 C 004 07 S 31 001", "Statement period 03/01/2024 - 03/31/2024"}) + "\n" +
		layout([]string{"ALEJANDRO ROSALEZ", "Page 1 of 5"}) + "\n" +
		"400 KOZEY LIGHT, WEBERBURGH, HI 29922\n\n" +
		"ACCOUNT SUMMARY\n" +
		layout([]string{"ACCOUNT NAME / TYPE", "ACCOUNT NUMBER", "BALANCE", "DETAILS ON"}) + "\n" +
		layout([]string{"Everyday Checking", "0071 2290 4415", "$1,204.17", "page 2"}) + "\n" +
		layout([]string{"Way2Save Savings", "3525 1187 2290", "$8,311.02", "page 3"}),
	// page 1: the checking account's transactions
	layout([]string{"CHECKING 0071 2290 4415", "Page 2 of 5"}) + "\n" +
		layout([]string{"Date", "Description", "Amount", "Balance"}) + "\n" +
		layout([]string{"03/02", "POS Purchase - Corner Market - 5512093847", "-45.12", "1,159.05"}) + "\n" +
		layout([]string{"03/04", "ACH Credit PAYROLL ID 9912038471", "1,520.00", "2,679.05"}) + "\n" +
		layout([]string{"03/09", "Online Transfer to Savings XXXXXX2290", "-200.00", "2,479.05"}),
	// page 2: the savings section
	layout([]string{"Savings account 3525 1187 2290", "Page 3 of 5"}) + "\n" +
		layout([]string{"Date", "Description", "Amount", "Balance"}) + "\n" +
		layout([]string{"03/09", "Transfer from Checking 7719305518", "200.00", "8,311.02"}),
	// page 3: more of it, without a number
	layout([]string{"Page 4 of 5"}) + "\n" +
		layout([]string{"03/31", "Interest Earned", "0.41", "8,311.43"}),
	// page 4: the bank's notice, with its phone and address
	layout([]string{"Page 5 of 5"}) + "\n" +
		"IMPORTANT INFORMATION ABOUT YOUR ACCOUNTS\n" +
		"In case of errors or questions call us at 1-800-555-0134 or write to us at\n" +
		"First State Bank, PO Box 1800, Sioux Falls, SD 57117-1800.",
}

func TestRealStatement(t *testing.T) {
	var pages []stage.PageText
	for i, p := range realStatement {
		pages = append(pages, stage.PageText{Page: i, Text: p, Source: stage.SourceOCR, Confidence: 91})
	}
	s := Splitter{}
	accounts, err := s.Split(context.Background(), pages)
	if err != nil {
		t.Fatal(err)
	}
	want := []stage.Account{
		{Index: 0, AccountNumber: "0071 2290 4415", Holders: []string{"ALEJANDRO ROSALEZ"}, Pages: []int{0, 1}},
		{Index: 1, AccountNumber: "3525 1187 2290", Holders: []string{"ALEJANDRO ROSALEZ"}, Pages: []int{2, 3, 4}},
	}
	if !reflect.DeepEqual(accounts, want) {
		t.Errorf("accounts =\n%+v\nwant (both accounts of the summary table; no transaction id an account; the savings section's pages the savings account's)\n%+v", accounts, want)
	}

	f, ev := Read(realStatement[0])
	wantFields := stage.Fields{
		stage.FieldAccountNumber:  "0071 2290 4415",
		stage.FieldAccountHolders: []string{"ALEJANDRO ROSALEZ"},
		stage.FieldAddress:        "400 KOZEY LIGHT, WEBERBURGH, HI 29922",
	}
	if !reflect.DeepEqual(f, wantFields) {
		t.Errorf("page 0 fields = %v, want %v (the recipient block's name and address; not the bank's phone or return address)", f, wantFields)
	}
	if e := ev[stage.FieldAddress]; len(e) != 1 || e[0].Source != stage.EvidencePosition {
		t.Errorf("address evidence = %+v, want one by position", e)
	}
	if e := ev[stage.FieldAccountNumber]; len(e) != 1 || e[0].Source != stage.EvidenceTable || !strings.Contains(e[0].Detail, "ACCOUNT NUMBER") {
		t.Errorf("account number evidence = %+v, want the table's column", e)
	}
	if f, _ := Read(realStatement[2]); f[stage.FieldAccountNumber] != "3525 1187 2290" {
		t.Errorf("page 2 account number = %v, want the section header's", f[stage.FieldAccountNumber])
	}
	if f, _ := Read(realStatement[4]); len(f) != 0 {
		t.Errorf("the bank's notice gave %v, want nothing (its phone and address are the bank's)", f)
	}
}

func TestRecipientBlock(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		holders []string
		address string
	}{
		{"two lines, sort codes above", layout([]string{"000-11-22 48213 2 C 004 07 S 31 001"}) + "\n" +
			layout([]string{"ALEJANDRO ROSALEZ", "Statement period: 03/01/2024"}) + "\n" +
			layout([]string{"400 KOZEY LIGHT", "Page 1 of 5"}) + "\nWEBERBURGH, HI 29922",
			[]string{"ALEJANDRO ROSALEZ"}, "400 KOZEY LIGHT, WEBERBURGH, HI 29922"},
		{"two names, a unit, ZIP+4 without a comma", "JOHN Q SAMPLE\nJANE SAMPLE\n1208 SW 4TH AVE APT 4B\nPORTLAND OR 97204-1127",
			[]string{"JOHN Q SAMPLE", "JANE SAMPLE"}, "1208 SW 4TH AVE APT 4B, PORTLAND, OR 97204-1127"},
		{"joint names on one line", "JOHN SAMPLE & JANE SAMPLE\n55 COUNTY ROAD 14\nMILLBROOK, AL 36054",
			[]string{"JOHN SAMPLE", "JANE SAMPLE"}, "55 COUNTY ROAD 14, MILLBROOK, AL 36054"},
		{"a bank's return address is nobody's", "NORTHWIND BANK\nPO BOX 4410\nSIOUX FALLS, SD 57104", nil, ""},
		{"a city without a real state is no address", "JOHN SAMPLE\n12 MAIN ST\nSPRINGFIELD, XX 62704", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkHoldersAndAddress(t, tt.text, tt.holders, tt.address)
		})
	}
}

func TestAccountRefsOfRealPackets(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // "~" marks a partial reference, "T" a table's, "H" a header's
	}{
		{"lender loan number", "Lender Loan No. 0081442190", []string{"0081442190"}},
		{"agency case number", layout([]string{"Agency Case No.", "Lender Loan No."}) + "\n" + layout([]string{"", "0081442190"}), []string{"0081442190"}},
		{"masked after a label", "Account number: ****1543", []string{"~1543"}},
		{"masked in a header", layout([]string{"Everyday Checking", "XXXXXX1543"}), []string{"~H1543"}},
		{"section headers", "CHECKING 0071 2290 4415\nWay2Save Savings - 3525118722\nAccount summary for Premier Money Market 000482119307",
			[]string{"H0071 2290 4415", "H3525118722", "H000482119307"}},
		{"summary table", layout([]string{"ACCOUNT", "ACCOUNT NUMBER", "BALANCE"}) + "\n" + layout([]string{"Checking", "0071 2290 4415", "$1.00"}) + "\n" +
			layout([]string{"Savings", "3525 1187 2290", "$2.00"}), []string{"T0071 2290 4415", "T3525 1187 2290"}},
		{"a transfer to savings is a transaction", layout([]string{"03/09", "Online Transfer to Savings XXXXXX2290", "-200.00"}), nil},
		{"a check number", layout([]string{"03/11", "Check #1043", "1043", "-85.00"}), nil},
		{"a MICR line", "⑆123456780⑆ 0071229044⑈ 1043", nil},
		{"a page number", "Page 2 of 5", nil},
		{"an NMLS id", "NMLSR ID# 1234567", nil},
		{"a reference id in a description", layout([]string{"03/02", "POS Purchase - Corner Market - 5512093847", "-45.12"}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range findAccountRefs(newPage(tt.text).rows) {
				s := r.Printed
				switch r.Kind {
				case refTable:
					s = "T" + s
				case refHeader:
					s = "H" + s
				}
				if r.Suffix {
					s = "~" + s
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("refs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEvidenceAndConfidence(t *testing.T) {
	text := layout([]string{"Owner 1:", "Maria L. Gonzalez"}) + "\n" +
		"Account Number: 4401-2231-0097\n" +
		"Home Phone (613) 338-7829\n" +
		layout([]string{"Property Address:", "7842 Orchard Pl, Mesa, AZ 85201"})
	f, ev := Read(text)
	for field := range f {
		if len(ev[field]) == 0 {
			t.Errorf("%s has no evidence", field)
		}
	}
	want := map[string]struct {
		source string
		low    bool
	}{
		stage.FieldAccountHolders: {stage.EvidenceLabel, false},
		stage.FieldAccountNumber:  {stage.EvidenceLabel, false},
		stage.FieldPhoneNumber:    {stage.EvidenceLabel, false},
		stage.FieldAddress:        {stage.EvidenceLabel, true}, // a property's address: the best there is, not sure
	}
	for field, w := range want {
		e := ev[field]
		if len(e) != 1 {
			t.Errorf("%s evidence = %+v", field, e)
			continue
		}
		if e[0].Source != w.source || (e[0].Confidence < stage.LowConfidence) != w.low || e[0].Detail == "" || e[0].Value == "" {
			t.Errorf("%s evidence = %+v, want source %s, low confidence %v", field, e[0], w.source, w.low)
		}
	}
}

// TestChecksAndPayslips: on a check the payer is the customer and the MICR line gives no
// account; on a W-2 or a payslip the employer is never the customer (LAYOUTS.md).
func TestChecksAndPayslips(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		holders []string
		address string
	}{
		{"a check's payer at the top left, OCR's MICR symbols", "MARIA GONZALEZ\n1207 LAKEVIEW DRIVE\nSPRINGFIELD, IL 62704\nFIRST PRAIRIE BANK\nPAY TO THE ORDER OF\n|:071000013|: 4401223100970# 1042",
			[]string{"MARIA GONZALEZ"}, "1207 LAKEVIEW DRIVE, SPRINGFIELD, IL 62704"},
		{"a W-2's employer box", layout([]string{"a Employee's social security number", "XXX-XX-1234"}) + "\n" +
			layout([]string{"c Employer's name, address, and ZIP code"}) + "\nCOPPER MILLS INC\n88 INDUSTRIAL PKWY\nLAREDO, TX 78040", nil, ""},
		{"a payslip's employer", "Pay Period: 03/01/2024 - 03/15/2024\nEmployer: Copper Mills Inc, 88 Industrial Pkwy, Laredo, TX 78040", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := checkHoldersAndAddress(t, tt.text, tt.holders, tt.address)
			if n, ok := f[stage.FieldAccountNumber]; ok {
				t.Errorf("account number %v", n)
			}
		})
	}
}

// checkHoldersAndAddress reads text and checks the holders and the address it gives; it
// returns what was read.
func checkHoldersAndAddress(t *testing.T, text string, holders []string, address string) stage.Fields {
	t.Helper()
	f, _ := Read(text)
	var got []string
	if h, ok := f[stage.FieldAccountHolders].([]string); ok {
		got = h
	}
	if !reflect.DeepEqual(got, holders) {
		t.Errorf("holders = %q, want %q", got, holders)
	}
	if a, _ := f[stage.FieldAddress].(string); a != address {
		t.Errorf("address = %q, want %q", a, address)
	}
	return f
}
