package rules

import (
	"reflect"
	"strings"
	"testing"

	"github.com/idp/idp/stage"
)

// page joins cells with CellSep and rows with newlines, as layout text has them.
func page(rows ...[]string) string {
	var lines []string
	for _, r := range rows {
		lines = append(lines, strings.Join(r, stage.CellSep))
	}
	return strings.Join(lines, "\n")
}

func TestFindAccountRefs(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // printed values; a "~" prefix marks a partial reference
	}{
		{"label and value in one cell", "Account Number: 4401-2231-0097", []string{"4401-2231-0097"}},
		{"label and value in two cells", page([]string{"Loan No.", "0080557986"}), []string{"0080557986"}},
		{"acct hash", "Acct # 12345678901", []string{"12345678901"}},
		{"upper case loan number", "LOAN NUMBER: 2019-004512", []string{"2019-004512"}},
		{"spaced groups", "Account No. 4401 2231 0097   Statement Period: 01/01", []string{"4401 2231 0097"}},
		{"loan account number", "Loan Account Number: 0012345678", []string{"0012345678"}},
		{"OCR letters in the label and the number", "Acc0unt Numb3r: 44O1-2231-OO97", []string{"4401-2231-0097"}},
		{"value on the next row", page([]string{"Account Number"}) + "\n" + page([]string{"000123456789", "Branch 12"}), []string{"000123456789"}},
		{"two on a row", page([]string{"Acct. No. 1111222233", "Loan #: 5555666677"}), []string{"1111222233", "5555666677"}},
		{"a form box: value below its label", page([]string{"ACCOUNT NUMBER", "ACCOUNT TYPE"}) + "\n" + page([]string{"4401-2231-0097", "Joint Checking"}), []string{"4401-2231-0097"}},
		{"second box of a row", page([]string{"ACCOUNT TYPE", "ACCOUNT NUMBER"}) + "\n" + page([]string{"Joint Checking", "4401-2231-0097"}), []string{"4401-2231-0097"}},
		{"account colon", "Account: 000123456789", []string{"000123456789"}},
		{"OCR: a final 1 read as a bracket, a quote before", page([]string{"Acct # 9058-6339-399]"}) + "\n" + page([]string{"Account No.", "\"5565 7871 1001", "Account Type:"}),
			[]string{"9058-6339-3991", "5565 7871 1001"}},
		{"partial", "Account ending in 0097", []string{"~0097"}},
		{"partial masked", "Acct ending XXXX4412", []string{"~4412"}},

		{"routing number is not an account", "Routing Number: 995070164", nil},
		{"transaction reference is not an account", page([]string{"05/22", "CABLE TV AUTOPAY", "6503364258721194", "130.50"}), nil},
		{"phone is not an account", "Phone: (555) 201-7788", nil},
		{"account type", "Account Type: Joint Checking", nil},
		{"batch and reference ids", page([]string{"Batch ID:", "191617121840"}) + "\n" + page([]string{"Reference No.", "27686790-7480"}), nil},
		{"check number", "CHECK #9766   1850471315550735", nil},
		{"account summary heading", "ACCOUNT SUMMARY", nil},
		{"too short", "Account Number: 1234", nil},
		{"number glued to a word", "Account Number: 12345678Statement", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range findAccountRefs(parseRows(tt.text)) {
				if r.Suffix {
					got = append(got, "~"+r.Printed)
				} else {
					got = append(got, r.Printed)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("refs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindHolders(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"owner labels", page([]string{"Owner 1:", "Maria L. Gonzalez", "SSN: XXX-XX-1234"}) + "\n" + page([]string{"Owner 2:", "James Smith"}), []string{"Maria L. Gonzalez", "James Smith"}},
		{"borrower and co-borrower", page([]string{"Borrower Name:", "Wei Chen"}) + "\n" + page([]string{"Co-Borrower Name:", "Priya Patel"}), []string{"Wei Chen", "Priya Patel"}},
		{"one label, several names", "Account Holders: John A. Smith and Jane Smith & Mary O'Neil", []string{"John A. Smith", "Jane Smith", "Mary O'Neil"}},
		{"comma list", "Name(s) on account: Ahmed Haddad, Olga Novak", []string{"Ahmed Haddad", "Olga Novak"}},
		{"form box without colon", page([]string{"ACCOUNT HOLDER(S)"}) + "\n" + page([]string{"Maria L. Gonzalez and James Smith"}), []string{"Maria L. Gonzalez", "James Smith"}},
		{"owner names box", page([]string{"OWNER NAME(S)"}) + "\n" + page([]string{"Wei Chen"}), []string{"Wei Chen"}},
		{"a label word in running text is not a label", "Name Change Request Form\nMaria Gonzalez", nil},
		{"the address below is not a name", page([]string{"Name:", "Jonathan Jackson", "SSN: XXX-XX-3714"}) + "\n" + page([]string{"Mailing Address:", "3924 Meadow Lane, Fort Wayne, IN 46802"}), []string{"Jonathan Jackson"}},
		{"last name first", page([]string{"Owner 1:", "GONZALEZ, MARIA L", "SSN: XXX-XX-1234"}) + "\n" + page([]string{"Owner 2:", "HALL, ROBERT JR"}),
			[]string{"MARIA L GONZALEZ", "ROBERT HALL JR"}},
		{"noise after the label", page([]string{"Name:", ":", "Diane N. Phillips", ";"}), []string{"Diane N. Phillips"}},
		{"statement mailing block", page([]string{"REBECCA CHEN", "Statement Period: 05/01/2022"}) + "\n" +
			page([]string{"KENJI MURPHY", "Account Number: 5915-4876-9534"}) + "\n" +
			page([]string{"6441 PRAIRIE RD", "Page 1 of 2"}) + "\n" +
			page([]string{"AUSTIN, TX 78701"}), []string{"REBECCA CHEN", "KENJI MURPHY"}},
		{"bank letterhead is not a holder", "First Prairie Bank\n6486 Chestnut Dr\nEugene, OR 97401", nil},
		{"verifier is not a holder", "Verified by: Linda Moore, Personal Banker", nil},
		{"employer is not a holder", page([]string{"Employer:", "Acme Logistics Inc"}), nil},
		{"authorized signer is not a holder", "Authorized Signer: Paul Reed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findHolders(parseRows(tt.text))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("holders = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindPhoneAndAddress(t *testing.T) {
	tests := []struct {
		name          string
		text          string
		phone, street string
	}{
		{"labelled phone", page([]string{"Home Phone:", "(639) 675-6909"}), "(639) 675-6909", ""},
		{"phone formats", "Telephone: +1 555 201 7788", "+1 555 201 7788", ""},
		{"employer phone is not the customer's", page([]string{"Employer Phone:", "+1 898 268 6310"}), "", ""},
		{"service line is not the customer's", "Customer Service 1-800-746-1511", "", ""},
		{"OCR digits", "Phone: (5S5) 2O1-7788", "(555) 201-7788", ""},
		{"OCR space in a group", page([]string{"Phone:", ".749-7 13-0783"}), "749-7 13-0783", ""},
		{"a date is not a phone", page([]string{"Phone:", "03/02/2007"}), "", ""},
		{"too few digits", "Phone: 555-0199", "", ""},
		{"inline address", page([]string{"Address:", "9801 Sunset Rd, Durham, NC 27701"}), "", "9801 Sunset Rd, Durham, NC 27701"},
		{"two-line address", page([]string{"Present Address:", "6441 Prairie Rd"}) + "\n" + page([]string{"Austin, TX 78701"}),
			"", "6441 Prairie Rd, Austin, TX 78701"},
		{"OCR: a dash glued before the state", "Address: 4755 Pine Street, Durham,-NC 27701", "", "4755 Pine Street, Durham, NC 27701"},
		{"address box", page([]string{"MAILING ADDRESS"}) + "\n" + page([]string{"1207 Lakeview Drive, Springfield, IL 62704"}), "", "1207 Lakeview Drive, Springfield, IL 62704"},
		{"phone box", page([]string{"HOME PHONE", "DATE OPENED"}) + "\n" + page([]string{"555.201.7788", "03/14/2019"}), "555.201.7788", ""},
		{"street and city lines with their own labels", page([]string{"Street Address:", "88 Elm St Apt 4"}) + "\n" + page([]string{"City, State ZIP:", "Madison, WI 53703"}),
			"", "88 Elm St Apt 4, Madison, WI 53703"},
		{"property address is not the customer's", page([]string{"Property Address:", "7842 Orchard Place, Mesa, AZ 85201"}), "", ""},
		{"mailing block", "MARIA GONZALEZ\n1207 LAKEVIEW DRIVE\nSPRINGFIELD, IL 62704", "", "1207 LAKEVIEW DRIVE, SPRINGFIELD, IL 62704"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := parseRows(tt.text)
			if got := findPhone(rows); got != tt.phone {
				t.Errorf("phone = %q, want %q", got, tt.phone)
			}
			if got := findAddress(rows); got != tt.street {
				t.Errorf("address = %q, want %q", got, tt.street)
			}
		})
	}
}
