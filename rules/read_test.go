package rules

import (
	"reflect"
	"strings"
	"testing"

	"github.com/idp/idp/stage"
)

// layout joins cells with CellSep and rows with newlines, as layout text has them.
func layout(rows ...[]string) string {
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
		{"label and value in two cells", layout([]string{"Loan No.", "0080557986"}), []string{"0080557986"}},
		{"acct hash", "Acct # 12345678901", []string{"12345678901"}},
		{"upper case loan number", "LOAN NUMBER: 2019-004512", []string{"2019-004512"}},
		{"spaced groups", "Account No. 4401 2231 0097   Statement Period: 01/01", []string{"4401 2231 0097"}},
		{"loan account number", "Loan Account Number: 0012345678", []string{"0012345678"}},
		{"OCR letters in the label and the number", "Acc0unt Numb3r: 44O1-2231-OO97", []string{"4401-2231-0097"}},
		{"value on the next row", layout([]string{"Account Number"}) + "\n" + layout([]string{"000123456789", "Branch 12"}), []string{"000123456789"}},
		{"two on a row", layout([]string{"Acct. No. 1111222233", "Loan #: 5555666677"}), []string{"1111222233", "5555666677"}},
		{"a form box: value below its label", layout([]string{"ACCOUNT NUMBER", "ACCOUNT TYPE"}) + "\n" + layout([]string{"4401-2231-0097", "Joint Checking"}), []string{"4401-2231-0097"}},
		{"second box of a row", layout([]string{"ACCOUNT TYPE", "ACCOUNT NUMBER"}) + "\n" + layout([]string{"Joint Checking", "4401-2231-0097"}), []string{"4401-2231-0097"}},
		{"account colon", "Account: 000123456789", []string{"000123456789"}},
		{"OCR: a final 1 read as a bracket, a quote before", layout([]string{"Acct # 9058-6339-399]"}) + "\n" + layout([]string{"Account No.", "\"5565 7871 1001", "Account Type:"}),
			[]string{"9058-6339-3991", "5565 7871 1001"}},
		{"the number inside the label's box, read between its words", layout([]string{"Uniform Residential Loan Application", "Agency Case No.", "Lender 0073479814 Loan No."}),
			[]string{"0073479814"}},
		{"a caption under the line written on", layout([]string{"000496981168", "Ownership: Joint"}) + "\n" + layout([]string{"ACCOUNT #"}) + "\n" + layout([]string{"Date opened 11/14/2014"}),
			[]string{"000496981168"}},
		{"a label with its own value takes nothing before it", "Ref 12345678 Account No. 4401-2231-0097", []string{"4401-2231-0097"}},
		{"a phone over a caption is not an account", layout([]string{"(555) 201-7788"}) + "\n" + layout([]string{"Account #"}), nil},
		{"a number after other digits is not the box's", "Opened 11/14 0073479814 Loan No.", nil},
		{"OCR: a first 5 read as §", layout([]string{"Mortgage Loan Application", "Loan No.", "§510-781-820"}), []string{"5510-781-820"}},
		{"OCR: a section header's for broken in two", "Account summary fo r High Yield Savings 000761946985", []string{"000761946985"}},
		{"OCR: an L read as t", layout([]string{"Uniform Residential Loan Application toan Number", "672433235"}), []string{"672433235"}},
		{"a section header with an em dash", "Statement Savings — 57-90097968", []string{"57-90097968"}},
		{"OCR: a speck before a section header", "-Regular Savings 1576 3447 3669", []string{"1576 3447 3669"}},
		{"OCR: a degree sign and a quote before the number", layout([]string{"ACCOUNT #", "\"°807-788650-8", "Ownership: Individual"}), []string{"807-788650-8"}},
		{"partial", "Account ending in 0097", []string{"~0097"}},
		{"partial masked", "Acct ending XXXX4412", []string{"~4412"}},

		{"routing number is not an account", "Routing Number: 995070164", nil},
		{"transaction reference is not an account", layout([]string{"05/22", "CABLE TV AUTOPAY", "6503364258721194", "130.50"}), nil},
		{"phone is not an account", "Phone: (555) 201-7788", nil},
		{"account type", "Account Type: Joint Checking", nil},
		{"batch and reference ids", layout([]string{"Batch ID:", "191617121840"}) + "\n" + layout([]string{"Reference No.", "27686790-7480"}), nil},
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
		{"owner labels", layout([]string{"Owner 1:", "Maria L. Gonzalez", "SSN: XXX-XX-1234"}) + "\n" + layout([]string{"Owner 2:", "James Smith"}), []string{"Maria L. Gonzalez", "James Smith"}},
		{"borrower and co-borrower", layout([]string{"Borrower Name:", "Wei Chen"}) + "\n" + layout([]string{"Co-Borrower Name:", "Priya Patel"}), []string{"Wei Chen", "Priya Patel"}},
		{"one label, several names", "Account Holders: John A. Smith and Jane Smith & Mary O'Neil", []string{"John A. Smith", "Jane Smith", "Mary O'Neil"}},
		{"comma list", "Name(s) on account: Ahmed Haddad, Olga Novak", []string{"Ahmed Haddad", "Olga Novak"}},
		{"form box without colon", layout([]string{"ACCOUNT HOLDER(S)"}) + "\n" + layout([]string{"Maria L. Gonzalez and James Smith"}), []string{"Maria L. Gonzalez", "James Smith"}},
		{"owner names box", layout([]string{"OWNER NAME(S)"}) + "\n" + layout([]string{"Wei Chen"}), []string{"Wei Chen"}},
		{"a label word in running text is not a label", "Name Change Request Form\nMaria Gonzalez", nil},
		{"the address below is not a name", layout([]string{"Name:", "Jonathan Jackson", "SSN: XXX-XX-3714"}) + "\n" + layout([]string{"Mailing Address:", "3924 Meadow Lane, Fort Wayne, IN 46802"}), []string{"Jonathan Jackson"}},
		{"last name first", layout([]string{"Owner 1:", "GONZALEZ, MARIA L", "SSN: XXX-XX-1234"}) + "\n" + layout([]string{"Owner 2:", "HALL, ROBERT JR"}),
			[]string{"MARIA L GONZALEZ", "ROBERT HALL JR"}},
		{"noise after the label", layout([]string{"Name:", ":", "Diane N. Phillips", ";"}), []string{"Diane N. Phillips"}},
		{"statement mailing block", layout([]string{"REBECCA CHEN", "Statement Period: 05/01/2022"}) + "\n" +
			layout([]string{"KENJI MURPHY", "Account Number: 5915-4876-9534"}) + "\n" +
			layout([]string{"6441 PRAIRIE RD", "Page 1 of 2"}) + "\n" +
			layout([]string{"AUSTIN, TX 78701"}), []string{"REBECCA CHEN", "KENJI MURPHY"}},
		{"bank letterhead is not a holder", "First Prairie Bank\n6486 Chestnut Dr\nEugene, OR 97401", nil},
		{"verifier is not a holder", "Verified by: Linda Moore, Personal Banker", nil},
		{"employer is not a holder", layout([]string{"Employer:", "Acme Logistics Inc"}), nil},
		{"authorized signer is not a holder", "Authorized Signer: Paul Reed", nil},
		{"member and joint member", layout([]string{"Primary Member:", "Grace Kim"}) + "\n" + layout([]string{"Joint Member:", "Omar Haddad"}), []string{"Grace Kim", "Omar Haddad"}},
		{"applicant and co-applicant", "Applicant: Grace Kim\nCo-Applicant: Omar Haddad", []string{"Grace Kim", "Omar Haddad"}},
		{"customer", "Customer Name: Grace Kim", []string{"Grace Kim"}},
		{"owners in columns", layout([]string{"OWNER 1", "OWNER 2"}) + "\n" + layout([]string{"NAME (LAST, FIRST, MI)", "NAME (LAST, FIRST, MI)"}) + "\n" +
			layout([]string{"ROSALEZ, ALEJANDRO M", "DE LA CRUZ, ANA"}), []string{"ALEJANDRO M ROSALEZ", "ANA DE LA CRUZ"}},
		{"last name first, no colon", "Name (Last, First, MI) ST. CLAIR, MARCUS J", []string{"MARCUS J ST. CLAIR"}},
		{"a boxed name with a suffix", layout([]string{"Name (First, Middle, Last, Suffix)", "Social Security Number"}) + "\n" + layout([]string{"Lorenzo C. De La Cruz II", "XXX-XX-1234"}), []string{"Lorenzo C. De La Cruz II"}},
		{"account in the name of", layout([]string{"Type of Account", "Account in Name of", "Account Number"}) + "\n" + layout([]string{"Checking", "Grace Kim", "0071229044"}), []string{"Grace Kim"}},
		{"POSITION TITLE is a caption", layout([]string{"NAME", "DATE"}) + "\n" + layout([]string{"POSITION TITLE", "SIGNATURE"}), nil},
		{"captions of a signature block", layout([]string{"PRINT NAME", "POSITION TITLE", "DATE"}) + "\n" + layout([]string{"Jordan Ellis", "Branch Manager", "03/15/2024"}), nil},
		{"authorized signature", "Name:\nAUTHORIZED SIGNATURE", nil},
		{"department", "Name: Payroll Department", nil},
		{"a loan originator", layout([]string{"Loan Originator Name", "NMLSR ID#"}) + "\n" + layout([]string{"Jordan Ellis", "7654321"}), nil},
		{"the bank's staff", "FOR BANK USE ONLY\nName: Jordan Ellis", nil},
		{"an employer", "Employer Name: Copper Mills Inc", nil},
		{"a suffix II that OCR read as Il", "Borrower Name: Lorenzo C. De La Cruz Il", []string{"Lorenzo C. De La Cruz II"}},
		{"a page number OCR joined to a recipient's name", "MARIA GONZALEZ Page 1 of 5\n1207 LAKEVIEW DRIVE\nSPRINGFIELD, IL 62704", []string{"MARIA GONZALEZ"}},
		{"equal housing lender is no one", layout([]string{"Member FDIC", "Equal Housing Lender"}) + "\n" + layout([]string{"Name:", "Equal Housing Lender"}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, h := range findHolders(newPage(tt.text)) {
				got = append(got, h.name)
			}
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
		{"labelled phone", layout([]string{"Home Phone:", "(639) 675-6909"}), "(639) 675-6909", ""},
		{"phone formats", "Telephone: +1 555 201 7788", "+1 555 201 7788", ""},
		{"employer phone is not the customer's", layout([]string{"Employer Phone:", "+1 898 268 6310"}), "", ""},
		{"service line is not the customer's", "Customer Service 1-800-746-1511", "", ""},
		{"OCR digits", "Phone: (5S5) 2O1-7788", "(555) 201-7788", ""},
		{"OCR space in a group", layout([]string{"Phone:", ".749-7 13-0783"}), "749-7 13-0783", ""},
		{"a date is not a phone", layout([]string{"Phone:", "03/02/2007"}), "", ""},
		{"too few digits", "Phone: 555-0199", "", ""},
		{"inline address", layout([]string{"Address:", "9801 Sunset Rd, Durham, NC 27701"}), "", "9801 Sunset Rd, Durham, NC 27701"},
		{"two-line address", layout([]string{"Present Address:", "6441 Prairie Rd"}) + "\n" + layout([]string{"Austin, TX 78701"}),
			"", "6441 Prairie Rd, Austin, TX 78701"},
		{"OCR: a dash glued before the state", "Address: 4755 Pine Street, Durham,-NC 27701", "", "4755 Pine Street, Durham, NC 27701"},
		{"address box", layout([]string{"MAILING ADDRESS"}) + "\n" + layout([]string{"1207 Lakeview Drive, Springfield, IL 62704"}), "", "1207 Lakeview Drive, Springfield, IL 62704"},
		{"phone box", layout([]string{"HOME PHONE", "DATE OPENED"}) + "\n" + layout([]string{"555.201.7788", "03/14/2019"}), "555.201.7788", ""},
		{"street and city lines with their own labels", layout([]string{"Street Address:", "88 Elm St Apt 4"}) + "\n" + layout([]string{"City, State ZIP:", "Madison, WI 53703"}),
			"", "88 Elm St Apt 4, Madison, WI 53703"},
		{"a property address alone is the best there is", layout([]string{"Property Address:", "7842 Orchard Place, Mesa, AZ 85201"}), "", "7842 Orchard Place, Mesa, AZ 85201"},
		{"a property address is not the customer's when another is printed", layout([]string{"Property Address:", "7842 Orchard Place, Mesa, AZ 85201"}) + "\n" +
			layout([]string{"Present Address:", "6441 Prairie Rd, Austin, TX 78701"}), "", "6441 Prairie Rd, Austin, TX 78701"},
		{"mailing block", "MARIA GONZALEZ\n1207 LAKEVIEW DRIVE\nSPRINGFIELD, IL 62704", "", "1207 LAKEVIEW DRIVE, SPRINGFIELD, IL 62704"},
		{"no colon, same cell", "Home Phone (613) 338-7829", "(613) 338-7829", ""},
		{"dots", layout([]string{"Cell Phone", "205.415.4995"}), "205.415.4995", ""},
		{"+1 and spaces", "Mobile: +1 871 218 4441", "+1 871 218 4441", ""},
		{"+1 and dashes", "Tel. +1-871-218-4441", "+1-871-218-4441", ""},
		{"1 and parentheses", "Evening 1 (871) 218-4441", "1 (871) 218-4441", ""},
		{"no space after the parenthesis", "Daytime Phone: (871)218-4441", "(871)218-4441", ""},
		{"on the next line", "Daytime\n(205) 415-4995", "(205) 415-4995", ""},
		{"an extension is cut off", "Tel. 871-218-4441 ext. 12", "871-218-4441", ""},
		{"x extension", "Work Phone (555) 121-3344 x204", "(555) 121-3344", ""},
		{"a home phone before a work phone", "Work Phone (555) 121-3344\nHome Phone (613) 338-7829", "(613) 338-7829", ""},
		{"boxes of phones", layout([]string{"Home Phone", "Cell Phone", "Work Phone", "Ext."}) + "\n" + layout([]string{"(613) 338-7829", "205.415.4995", "(555) 121-3344", "204"}), "(613) 338-7829", ""},
		{"a fax is not a phone", "Fax: (613) 338-7829", "", ""},
		{"a toll-free line is the bank's", "Phone: 1-800-555-0199", "", ""},
		{"the bank's contact block", layout([]string{"NORTHWIND BANK", "Customer Service"}) + "\n" + layout([]string{"PO Box 4410", "Phone: (605) 555-0100"}), "", ""},
		{"a fax header is the sender's", "MAR-04-2022 10:31   FROM: LOAN OPS   FAX: (555) 201-0000   P.002/007\nPhone: (613) 338-7829", "(613) 338-7829", ""},
		{"a fax cover's sender", layout([]string{"From:", "Jordan Ellis, Loan Processor", "Phone:", "(614) 201-7788"}), "", ""},
		{"an employer's phone", layout([]string{"Employer or Business Name", "Phone"}) + "\n" + layout([]string{"Copper Mills Inc", "(555) 700-1200"}), "", ""},
		{"a branch phone", "Branch phone: 463-282-9974", "", ""},
		{"a loan originator's", "Section 9: Loan Originator Information\n" + layout([]string{"Email", "Phone"}) + "\n" + layout([]string{"lo@example.com", "(214) 555-0199"}), "", ""},
		{"the depository's officer", layout([]string{"PRINT NAME", "POSITION TITLE", "PHONE NO.", "DATE"}) + "\n" + layout([]string{"Jordan Ellis", "Branch Manager", "(398) 544-5116", "03/15/2024"}), "", ""},
		{"residence", "Residence: 400 Kozey Light, Weberburgh, HI 29922", "", "400 Kozey Light, Weberburgh, HI 29922"},
		{"home address, two lines", layout([]string{"Home Address", "12 N Main St Unit 4"}) + "\n" + layout([]string{"Sioux Falls, SD 57104-1234"}), "", "12 N Main St Unit 4, Sioux Falls, SD 57104-1234"},
		{"label above, two lines", layout([]string{"MAILING ADDRESS", "MAILING ADDRESS"}) + "\n" + layout([]string{"9 Quail Run", "Same as above"}) + "\nSt. Louis, MO 63101", "", "9 Quail Run, St. Louis, MO 63101"},
		{"street above its city", layout([]string{"Street", "Unit #"}) + "\n" + layout([]string{"4671 Oak Hollow", "Apt 4B"}) + "\n" +
			layout([]string{"City", "State", "ZIP", "Country"}) + "\n" + layout([]string{"Pueblo", "CO", "81003-9032", "USA"}), "", "4671 Oak Hollow Apt 4B, Pueblo, CO 81003-9032"},
		{"street label in a value", layout([]string{"Street Address", "13931 Birchwood Crossing Suite 210 Street Address", "Same as above"}) + "\nLittle Rock, AR 72201", "", "13931 Birchwood Crossing Suite 210, Little Rock, AR 72201"},
		{"a property address alone", layout([]string{"Property Address"}) + "\n7842 Orchard Pl, Mesa, AZ 85201", "", "7842 Orchard Pl, Mesa, AZ 85201"},
		{"the current address before the property's", "Current Address: 12 Elm St, Mesa, AZ 85201\nProperty Address: 7842 Orchard Pl, Mesa, AZ 85201", "", "12 Elm St, Mesa, AZ 85201"},
		{"an employer's", "1b. Current Employment / Self-Employment and Income\n" + layout([]string{"Street", "Unit #"}) + "\n88 Industrial Pkwy\n" +
			layout([]string{"City", "State", "ZIP"}) + "\n" + layout([]string{"Laredo", "TX", "78040"}), "", ""},
		{"a lender's", "Section 9: Loan Originator Information\nAddress\n1200 Commerce Pkwy Ste 300, Dallas, TX 75201", "", ""},
		{"a previous address", "Previous Address: 12 Elm St, Mesa, AZ 85201", "", ""},
		{"the depository's", layout([]string{"1. To (Name and address of depository)", "2. From (Name and address of lender)"}) + "\n" +
			layout([]string{"Northwind Bank", "Summit Home Lending LLC"}) + "\n" + layout([]string{"PO Box 4239", "1533 Stonebridge Loop"}) + "\n" +
			layout([]string{"Salt Lake City, UT 84101", "Birmingham, AL 35203"}), "", ""},
		{"the applicants' box", "8. Name and Address of Applicant(s)\nMaria Gonzalez\n1207 Lakeview Drive\nSpringfield, IL 62704", "", "1207 Lakeview Drive, Springfield, IL 62704"},
		{"OCR's comma after a house number", layout([]string{"Address:", "1207, Lakeview Drive"}) + "\n" + layout([]string{"Springfield, IL 62704"}), "", "1207, Lakeview Drive, Springfield, IL 62704"},
		{"the bank's, inline in a contact block", layout([]string{"Contact us", "Mailing Address: PO Box 4410, Sioux Falls, SD 57104"}), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPage(tt.text)
			if got, _, _ := findPhone(p); got != tt.phone {
				t.Errorf("phone = %q, want %q", got, tt.phone)
			}
			if got, _, _ := findAddress(p); got != tt.street {
				t.Errorf("address = %q, want %q", got, tt.street)
			}
		})
	}
}

func TestCityCaptionsAreNoCity(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
	}{
		{"City State, ME 04101-5733", false},
		{"City, UT 84119", false},
		{"West Valley City, UT 84119", true},
		{"Salt Lake City, UT 84101-8381", true},
		{"Pueblo, CO 81003-9032", true},
	}
	for _, tt := range tests {
		if _, ok := parseCity(tt.line); ok != tt.ok {
			t.Errorf("parseCity(%q) ok = %v, want %v", tt.line, ok, tt.ok)
		}
	}
}
