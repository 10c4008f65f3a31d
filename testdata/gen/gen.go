// Package gen writes synthetic loan packets with ground truth: cover sheets, bank statements
// (with continuation pages and transaction tables full of long numbers), signature cards and
// loan applications for 2 to 5 accounts, as born-digital PDFs or as scans (rasterised, noisy,
// slightly rotated, image only). The truth has the shape of idp's result format
// (stage.Result); it imports nothing else of idp.
//
// Two generators share the package: the first (Layouts "house", this file and data.go) is
// the one the rules were written beside; the second (Layouts "other", other.go and
// otherdata.go) lays packets out as other banks and lenders do, to measure the rules on
// layouts they were not written for. Its seeds from HeldOutSeeds on are never used to tune
// rules.
package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/idp/idp/stage"
)

// Options choose a packet.
type Options struct {
	// Seed makes the packet reproducible.
	Seed uint64
	// Accounts is the number of accounts; 0 picks 2 to 5.
	Accounts int
	// MinPages lengthens statements until the packet has at least this many pages
	// (benchmarks).
	MinPages int
	// Scanned rasterises every page into a noisy, slightly rotated image-only page.
	Scanned bool
	// ScanDPI is the resolution of the scan (default 200).
	ScanDPI int
	// Layouts chooses the generator: LayoutsHouse (the default) or LayoutsOther.
	Layouts string
}

// Packet is one generated PDF and its ground truth.
type Packet struct {
	PDF   []byte
	Truth stage.Result
}

const (
	pageW = 612.0 // US Letter, points
	pageH = 792.0
)

type account struct {
	number  string
	kind    string // the second generator's: checking, savings, money market, loan
	loan    bool
	holders []person
	addr    address
	phone   string
	docs    []string // kinds of documents, in packet order
	pages   []int
}

type builder struct {
	r       *rand.Rand
	pdf     *fpdf.Fpdf
	bank    string
	bankTel string
	pages   []stage.PageResult
	acct    []*account
	font    string
	fax     bool // scans that came through a fax: a header line on every page
}

// Generate writes one packet.
func Generate(opts Options) (*Packet, error) {
	switch opts.Layouts {
	case "", LayoutsHouse:
	case LayoutsOther:
		return generateOther(opts)
	default:
		return nil, fmt.Errorf("generate: unknown layouts %q (want %q or %q)", opts.Layouts, LayoutsHouse, LayoutsOther)
	}
	r := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	n := opts.Accounts
	if n <= 0 {
		n = 2 + r.IntN(4)
	}
	pdf := newPDF("idp testdata generator")
	b := &builder{r: r, pdf: pdf, bank: pick(r, bankNames), bankTel: fmt.Sprintf("1-800-%03d-%04d", 200+r.IntN(799), r.IntN(10000))}
	b.fax = opts.Scanned && r.IntN(3) == 0

	// Accounts: a household shares a last name more often than not.
	for i := range n {
		a := &account{loan: r.IntN(4) == 0, addr: randAddress(r), phone: randPhone(r)}
		a.number = randAccountNumber(r, a.loan)
		a.holders = drawHolders(r, randPerson)
		if a.loan {
			a.docs = []string{"loan_application"}
			if r.IntN(2) == 0 {
				a.docs = append(a.docs, "statement")
			}
		} else {
			a.docs = []string{"statement"}
			switch r.IntN(3) {
			case 0:
				a.docs = append([]string{"signature_card"}, a.docs...)
			case 1:
				a.docs = append(a.docs, "signature_card")
			}
		}
		_ = i
		b.acct = append(b.acct, a)
	}
	extra := 0
	if opts.MinPages > 0 {
		extra = opts.MinPages
	}

	if r.IntN(3) != 0 {
		b.coverSheet()
	}
	for i, a := range b.acct {
		if i > 0 && r.IntN(4) == 0 {
			b.separator()
		}
		for _, kind := range a.docs {
			switch kind {
			case "statement":
				pages := 1 + r.IntN(3)
				if extra > 0 {
					remaining := extra - len(b.pages)
					share := remaining / (len(b.acct) - i)
					if share > pages {
						pages = share
					}
				}
				b.statement(i, pages)
			case "signature_card":
				b.signatureCard(i)
			case "loan_application":
				b.loanApplication(i)
			}
		}
	}
	return finish(b, opts, scanHouse)
}

// newPDF starts an empty US Letter document whose bytes depend on nothing but what is drawn.
func newPDF(creator string) *fpdf.Fpdf {
	pdf := fpdf.New("P", "pt", "Letter", "")
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCatalogSort(true)
	stamp := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	pdf.SetCreationDate(stamp)
	pdf.SetModificationDate(stamp)
	pdf.SetCreator(creator, false)
	return pdf
}

// finish writes the packet b drew, scanned in style when opts ask for a scan.
func finish(b *builder, opts Options, style scanStyle) (*Packet, error) {
	p, err := b.packet()
	if err != nil {
		return nil, err
	}
	if opts.Scanned {
		dpi := opts.ScanDPI
		if dpi == 0 {
			dpi = 200
		}
		scan, err := scan(p.PDF, dpi, opts.Seed, style)
		if err != nil {
			return nil, err
		}
		p.PDF = scan
	}
	p.Truth.TotalPages = len(p.Truth.Pages)
	return p, nil
}

// drawHolders draws a primary holder and, half the time, a second one who shares the last
// name more often than not.
func drawHolders(r *rand.Rand, newPerson func(*rand.Rand, string) person) []person {
	primary := newPerson(r, "")
	holders := []person{primary}
	if r.IntN(2) == 0 {
		last := primary.last
		if r.IntN(3) == 0 {
			last = ""
		}
		holders = append(holders, newPerson(r, last))
	}
	return holders
}

func (b *builder) truth() stage.Result {
	res := stage.Result{Pages: b.pages, Accounts: []stage.Account{}}
	for i, a := range b.acct {
		var names []string
		for _, h := range a.holders {
			if a.kind != "" {
				names = append(names, h.otherName())
			} else {
				names = append(names, h.name())
			}
		}
		res.Accounts = append(res.Accounts, stage.Account{Index: i, AccountNumber: a.number, Holders: names, Pages: a.pages})
	}
	return res
}

// newPage starts a page that belongs to account idx (-1 for none) and returns its truth.
func (b *builder) newPage(idx int) *stage.PageResult {
	b.pdf.AddPage()
	n := len(b.pages)
	if b.fax {
		b.pdf.SetFont("Courier", "", 8)
		b.pdf.Text(30, 18, fmt.Sprintf("NOV 14 2023 10:%02dAM  FROM: %s  TO: %s  P. %03d", 10+n%50, randPhone(b.r), randPhone(b.r), n+1))
	}
	pr := stage.PageResult{Page: n, AccountIndex: idx, Data: stage.Fields{}}
	if idx >= 0 {
		pr.AccountNumber = b.acct[idx].number
		b.acct[idx].pages = append(b.acct[idx].pages, n)
	}
	b.pages = append(b.pages, pr)
	return &b.pages[n]
}

func (b *builder) text(x, y float64, style string, size float64, s string) {
	b.pdf.SetFont(b.font, style, size)
	b.pdf.Text(x, y, s)
}

func (b *builder) right(x, y float64, style string, size float64, s string) {
	b.pdf.SetFont(b.font, style, size)
	b.pdf.Text(x-b.pdf.GetStringWidth(s), y, s)
}

func (b *builder) pickFont() {
	b.font = pick(b.r, []string{"Helvetica", "Helvetica", "Times", "Courier"})
}

func (b *builder) letterhead(y float64) float64 {
	b.text(54, y, "B", 16, b.bank)
	addr := randAddress(b.r)
	b.text(54, y+14, "", 8, fmt.Sprintf("%s  |  %s  |  Customer Service %s", strings.Replace(addr.street, "Apt", "Suite", 1), addr.line2(), b.bankTel))
	b.pdf.SetLineWidth(0.8)
	b.pdf.Line(54, y+22, pageW-54, y+22)
	return y + 44
}

var accountLabels = []string{"Account Number:", "Account No.", "Acct #", "ACCOUNT NUMBER:", "Account #:", "Acct. No.", "Account Number"}
var loanLabels = []string{"Loan Number:", "Loan No.", "Loan #", "LOAN NUMBER:", "Loan Account Number:"}

// formTop starts a form page of account idx: the letterhead, a title picked from titles at
// size points, and the account's number label with the number at x. It returns the page's
// truth and where the next row goes.
func (b *builder) formTop(idx int, size float64, titles []string, x float64) (*stage.PageResult, float64) {
	a := b.acct[idx]
	b.pickFont()
	pr := b.newPage(idx)
	y := b.letterhead(60)
	b.text(54, y+10, "B", size, pick(b.r, titles))
	y += 44
	b.text(54, y, "B", 10, b.numberLabel(a))
	b.text(x, y, "", 10, a.number)
	pr.Data[stage.FieldAccountNumber] = a.number
	return pr, y
}

func (b *builder) numberLabel(a *account) string {
	if a.loan {
		return pick(b.r, loanLabels)
	}
	return pick(b.r, accountLabels)
}

func (b *builder) coverSheet() {
	b.pickFont()
	pr := b.newPage(-1)
	_ = pr
	y := b.letterhead(60)
	b.text(54, y+30, "B", 20, pick(b.r, []string{"LOAN DOCUMENT PACKET", "LOAN PACKET COVER SHEET", "DOCUMENT PACKAGE - COVER SHEET"}))
	y += 80
	rows := [][2]string{
		{"Prepared by:", "Loan Operations, Branch " + randDigits(b.r, 4)},
		{"Date:", fmt.Sprintf("%02d/%02d/%d", 1+b.r.IntN(12), 1+b.r.IntN(28), 2022+b.r.IntN(3))},
		{"Reference No.", randDigits(b.r, 8) + "-" + randDigits(b.r, 4)},
		{"Batch ID:", randDigits(b.r, 12)},
		{"Total pages:", "see index"},
	}
	for _, row := range rows {
		b.text(54, y, "B", 11, row[0])
		b.text(180, y, "", 11, row[1])
		y += 20
	}
	y += 20
	b.text(54, y, "B", 12, "Contents")
	y += 18
	for i, c := range []string{"Bank statements", "Signature cards", "Loan application and disclosures", "Supporting documents"} {
		b.text(72, y, "", 11, fmt.Sprintf("%d. %s", i+1, c))
		y += 16
	}
	b.text(54, pageH-60, "I", 8, "This cover sheet is not part of any account record. Confidential - for internal use only.")
}

func (b *builder) separator() {
	b.pickFont()
	b.newPage(-1)
	b.text(150, 330, "B", 28, "DOCUMENT SEPARATOR")
	b.text(220, 380, "", 12, "Scan batch "+randDigits(b.r, 10))
	b.text(190, 420, "I", 10, "This page intentionally left blank")
}

// mailingBlock prints holder names and the address, unlabelled, as a statement does.
func (b *builder) mailingBlock(pr *stage.PageResult, a *account, x, y float64) float64 {
	var names []string
	for _, h := range a.holders {
		b.text(x, y, "", 10, h.upper())
		names = append(names, h.name())
		y += 13
	}
	b.text(x, y, "", 10, strings.ToUpper(a.addr.street))
	y += 13
	b.text(x, y, "", 10, strings.ToUpper(a.addr.line2()))
	y += 13
	pr.Data[stage.FieldAccountHolders] = names
	pr.Data[stage.FieldAddress] = a.addr.oneLine()
	return y
}

func (b *builder) statement(idx, pages int) {
	a := b.acct[idx]
	b.pickFont()
	month := 1 + b.r.IntN(12)
	year := 2022 + b.r.IntN(3)
	period := fmt.Sprintf("%02d/01/%d - %02d/28/%d", month, year, month, year)
	balance := 500 + b.r.IntN(20000)
	kind := pick(b.r, []string{"Checking", "Savings", "Money Market", "Premier Checking"})
	if a.loan {
		kind = "Loan"
	}
	for p := range pages {
		pr := b.newPage(idx)
		y := 60.0
		if p == 0 {
			y = b.letterhead(y)
			b.right(pageW-54, y, "B", 13, strings.ToUpper(kind)+" STATEMENT")
			y += 24
			top := y
			y = b.mailingBlock(pr, a, 72, y)
			if b.r.IntN(2) == 0 {
				b.text(72, y, "", 9, "Phone: "+a.phone)
				pr.Data[stage.FieldPhoneNumber] = a.phone
				y += 13
			}
			// The right-hand box: period, number, page.
			b.text(340, top, "", 9, "Statement Period: "+period)
			label := b.numberLabel(a)
			if !a.loan && b.r.IntN(5) == 0 {
				label = "Account:"
			}
			b.text(340, top+13, "B", 9, label+" "+a.number)
			pr.Data[stage.FieldAccountNumber] = a.number
			b.text(340, top+26, "", 9, fmt.Sprintf("Page %d of %d", p+1, pages))
			b.text(340, top+39, "", 9, "Routing Number: "+randDigits(b.r, 9))
			y += 26
			b.text(54, y, "B", 11, "ACCOUNT SUMMARY")
			y += 16
			for _, row := range []string{"Beginning Balance", "Deposits and Credits", "Withdrawals and Debits", "Ending Balance"} {
				b.text(72, y, "", 9, row)
				b.right(300, y, "", 9, "$"+money(b.r, 9000))
				y += 12
			}
			y += 14
		} else {
			b.text(54, y, "B", 10, b.bank)
			b.right(pageW-54, y, "", 9, fmt.Sprintf("Page %d of %d", p+1, pages))
			y += 16
			switch b.r.IntN(3) {
			case 0:
				b.text(54, y, "", 9, b.numberLabel(a)+" "+a.number)
				pr.Data[stage.FieldAccountNumber] = a.number
			case 1:
				digits := strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return r
					}
					return -1
				}, a.number)
				b.text(54, y, "", 9, "Account ending in "+digits[len(digits)-4:])
			}
			y += 26
		}
		b.text(54, y, "B", 11, "TRANSACTION DETAIL")
		if p > 0 {
			b.text(200, y, "I", 9, "(continued)")
		}
		y += 16
		b.pdf.SetLineWidth(0.4)
		b.text(54, y, "B", 8, "Date")
		b.text(96, y, "B", 8, "Description")
		b.text(300, y, "B", 8, "Reference")
		b.right(470, y, "B", 8, "Amount")
		b.right(558, y, "B", 8, "Balance")
		b.pdf.Line(54, y+4, 558, y+4)
		y += 16
		for y < pageH-80 {
			desc := pick(b.r, txDescriptions)
			if strings.Contains(desc, "%d") {
				desc = fmt.Sprintf(desc, 1000+b.r.IntN(9000))
			}
			amt := b.r.IntN(150000) - 60000
			balance += amt / 100
			b.text(54, y, "", 8, fmt.Sprintf("%02d/%02d", month, 1+b.r.IntN(28)))
			b.text(96, y, "", 8, desc)
			b.text(300, y, "", 8, randDigits(b.r, 12+b.r.IntN(6)))
			b.right(470, y, "", 8, fmt.Sprintf("%.2f", float64(amt)/100))
			b.right(558, y, "", 8, commas(balance)+".00")
			y += 12
		}
		b.text(54, pageH-40, "I", 7, fmt.Sprintf("Questions? Call %s. Member FDIC. Equal Housing Lender.", b.bankTel))
	}
}

func (b *builder) signatureCard(idx int) {
	if b.r.IntN(2) == 0 {
		b.signatureCardBoxes(idx)
		return
	}
	a := b.acct[idx]
	pr, y := b.formTop(idx, 16, []string{"SIGNATURE CARD", "ACCOUNT SIGNATURE CARD", "Deposit Account Signature Card"}, 180)
	b.text(330, y, "B", 10, "Account Type:")
	b.text(420, y, "", 10, pick(b.r, []string{"Joint Checking", "Individual Savings", "Checking", "Money Market"}))
	y += 18
	b.text(54, y, "B", 10, "Date Opened:")
	b.text(180, y, "", 10, fmt.Sprintf("%02d/%02d/%d", 1+b.r.IntN(12), 1+b.r.IntN(28), 2005+b.r.IntN(18)))
	b.text(330, y, "B", 10, "Branch:")
	b.text(420, y, "", 10, randDigits(b.r, 4))
	y += 30
	var names []string
	for _, h := range a.holders {
		names = append(names, h.name())
	}
	if len(a.holders) > 1 && b.r.IntN(3) == 0 {
		// All owners on one line.
		b.text(54, y, "B", 10, pick(b.r, []string{"Account Holders:", "Owner(s):", "Name(s) on Account:"}))
		b.text(180, y, "", 10, strings.Join(names, pick(b.r, []string{" and ", " & ", ", "})))
		y += 18
	} else {
		ownerLabels := pick(b.r, [][]string{{"Owner 1:", "Owner 2:"}, {"Primary Owner:", "Joint Owner:"}, {"Account Holder:", "Joint Account Holder:"}, {"Name:", "Co-Owner:"}})
		lastFirst := b.r.IntN(4) == 0
		for i, h := range a.holders {
			b.text(54, y, "B", 10, ownerLabels[i])
			if lastFirst {
				b.text(180, y, "", 10, h.lastFirst())
			} else {
				b.text(180, y, "", 10, h.name())
			}
			b.text(380, y, "", 9, fmt.Sprintf("SSN: XXX-XX-%s   DOB: %02d/%02d/19%02d", randDigits(b.r, 4), 1+b.r.IntN(12), 1+b.r.IntN(28), 40+b.r.IntN(60)))
			y += 18
		}
	}
	pr.Data[stage.FieldAccountHolders] = names
	y += 8
	b.text(54, y, "B", 10, pick(b.r, []string{"Mailing Address:", "Address:", "Residential Address:"}))
	if b.r.IntN(2) == 0 {
		b.text(180, y, "", 10, a.addr.oneLine())
	} else {
		b.text(180, y, "", 10, a.addr.street)
		y += 14
		b.text(180, y, "", 10, a.addr.line2())
	}
	pr.Data[stage.FieldAddress] = a.addr.oneLine()
	y += 18
	b.text(54, y, "B", 10, pick(b.r, []string{"Home Phone:", "Phone:", "Telephone:", "Mobile Phone:", "Phone Number:"}))
	b.text(180, y, "", 10, a.phone)
	pr.Data[stage.FieldPhoneNumber] = a.phone
	y += 40
	b.text(54, y, "", 9, "By signing below, each owner agrees to the terms of the deposit account agreement.")
	y += 40
	for i := range a.holders {
		b.pdf.Line(54, y, 300, y)
		b.text(54, y+12, "", 8, fmt.Sprintf("Signature of Owner %d", i+1))
		b.pdf.Line(340, y, 480, y)
		b.text(340, y+12, "", 8, "Date")
		y += 50
	}
	if b.r.IntN(2) == 0 {
		b.text(54, y, "B", 9, "Bank Use Only")
		b.text(54, y+14, "", 9, "Verified by: "+randPerson(b.r, "").name()+", Personal Banker")
		b.text(54, y+28, "", 9, "Officer ID "+randDigits(b.r, 6))
	}
}

// signatureCardBoxes is the form variant: every value in a ruled box under a small
// capitalised label without a colon.
func (b *builder) signatureCardBoxes(idx int) {
	a := b.acct[idx]
	b.pickFont()
	pr := b.newPage(idx)
	y := b.letterhead(60)
	b.text(54, y+10, "B", 15, pick(b.r, []string{"SIGNATURE CARD", "ACCOUNT AGREEMENT AND SIGNATURE CARD"}))
	y += 36
	b.pdf.SetLineWidth(0.6)
	box := func(x, w, h float64, label, value string) {
		b.pdf.Rect(x, y, w, h, "D")
		b.text(x+6, y+11, "", 7, label)
		if value != "" {
			b.text(x+6, y+28, "", 11, value)
		}
	}
	box(54, 252, 38, "ACCOUNT NUMBER", a.number)
	box(306, 252, 38, "ACCOUNT TYPE", pick(b.r, []string{"Joint Checking", "Savings", "Checking"}))
	pr.Data[stage.FieldAccountNumber] = a.number
	y += 38
	var names []string
	for _, h := range a.holders {
		names = append(names, h.name())
	}
	box(54, 504, 38, pick(b.r, []string{"ACCOUNT HOLDER(S)", "OWNER NAME(S)", "NAME(S) ON ACCOUNT"}), strings.Join(names, " and "))
	pr.Data[stage.FieldAccountHolders] = names
	y += 38
	box(54, 504, 38, pick(b.r, []string{"MAILING ADDRESS", "ADDRESS"}), a.addr.oneLine())
	pr.Data[stage.FieldAddress] = a.addr.oneLine()
	y += 38
	box(54, 252, 38, pick(b.r, []string{"PHONE", "HOME PHONE", "TELEPHONE"}), a.phone)
	box(306, 252, 38, "DATE OPENED", fmt.Sprintf("%02d/%02d/%d", 1+b.r.IntN(12), 1+b.r.IntN(28), 2005+b.r.IntN(18)))
	pr.Data[stage.FieldPhoneNumber] = a.phone
	y += 38
	for i := range a.holders {
		box(54, 504, 46, fmt.Sprintf("SIGNATURE OF OWNER %d", i+1), "")
		y += 46
	}
	y += 20
	b.text(54, y, "", 8, "The owners agree to the terms and conditions of the deposit account agreement and fee schedule.")
}

func (b *builder) loanApplication(idx int) {
	a := b.acct[idx]
	pr, y := b.formTop(idx, 15, []string{"UNIFORM RESIDENTIAL LOAN APPLICATION", "CONSUMER LOAN APPLICATION", "Home Equity Loan Application"}, 200)
	b.text(360, y, "B", 10, "Date:")
	b.text(400, y, "", 10, fmt.Sprintf("%02d/%02d/%d", 1+b.r.IntN(12), 1+b.r.IntN(28), 2022+b.r.IntN(3)))
	y += 28
	b.text(54, y, "B", 11, "I. BORROWER INFORMATION")
	y += 20
	var names []string
	labels := []string{"Borrower Name:", "Co-Borrower Name:"}
	for i, h := range a.holders {
		b.text(54, y, "B", 10, labels[i])
		b.text(200, y, "", 10, h.name())
		names = append(names, h.name())
		y += 16
	}
	pr.Data[stage.FieldAccountHolders] = names
	if b.r.IntN(3) == 0 {
		b.text(54, y, "B", 10, "Street Address:")
		b.text(200, y, "", 10, a.addr.street)
		b.text(54, y+16, "B", 10, "City, State ZIP:")
		b.text(200, y+16, "", 10, a.addr.line2())
	} else {
		b.text(54, y, "B", 10, pick(b.r, []string{"Present Address:", "Current Address:", "Mailing Address:"}))
		b.text(200, y, "", 10, a.addr.street)
		b.text(200, y+13, "", 10, a.addr.line2())
	}
	pr.Data[stage.FieldAddress] = a.addr.oneLine()
	y += 32
	b.text(54, y, "B", 10, pick(b.r, []string{"Home Phone:", "Phone:", "Cell Phone:"}))
	b.text(200, y, "", 10, a.phone)
	pr.Data[stage.FieldPhoneNumber] = a.phone
	y += 28
	b.text(54, y, "B", 11, "II. EMPLOYMENT")
	y += 20
	b.text(54, y, "B", 10, "Employer:")
	b.text(200, y, "", 10, pick(b.r, employers))
	y += 16
	b.text(54, y, "B", 10, "Employer Phone:")
	b.text(200, y, "", 10, randPhone(b.r))
	y += 16
	b.text(54, y, "B", 10, "Years on job:")
	b.text(200, y, "", 10, fmt.Sprint(1+b.r.IntN(25)))
	y += 28
	b.text(54, y, "B", 11, "III. LOAN AND PROPERTY")
	y += 20
	prop := randAddress(b.r)
	for _, row := range [][2]string{
		{"Loan Amount:", "$" + commas(20000+b.r.IntN(400000)) + ".00"},
		{"Interest Rate:", fmt.Sprintf("%.3f%%", 3+b.r.Float64()*5)},
		{"Term:", fmt.Sprintf("%d months", pick(b.r, []int{60, 120, 180, 360}))},
		{"Property Address:", prop.oneLine()},
		{"Purpose:", pick(b.r, []string{"Purchase", "Refinance", "Home improvement"})},
	} {
		b.text(54, y, "B", 10, row[0])
		b.text(200, y, "", 10, row[1])
		y += 16
	}
	y += 30
	b.text(54, y, "", 8, "I certify that the information provided in this application is true and complete.")
	y += 40
	b.pdf.Line(54, y, 300, y)
	b.text(54, y+12, "", 8, "Borrower Signature")
	b.pdf.Line(340, y, 540, y)
	b.text(340, y+12, "", 8, "Co-Borrower Signature")
	if b.r.IntN(2) == 0 {
		b.loanApplicationDeclarations(idx)
	}
}

// loanApplicationDeclarations is a loan application's second page: no names, no address,
// sometimes the loan number in the header.
func (b *builder) loanApplicationDeclarations(idx int) {
	a := b.acct[idx]
	pr := b.newPage(idx)
	y := 60.0
	b.text(54, y, "B", 10, b.bank)
	b.right(pageW-54, y, "", 9, "Page 2 of 2")
	y += 16
	if b.r.IntN(2) == 0 {
		b.text(54, y, "", 9, b.numberLabel(a)+" "+a.number)
		pr.Data[stage.FieldAccountNumber] = a.number
	}
	y += 30
	b.text(54, y, "B", 11, "IV. DECLARATIONS")
	y += 20
	for _, q := range []string{
		"a. Are there any outstanding judgments against you?",
		"b. Have you been declared bankrupt within the past 7 years?",
		"c. Are you a party to a lawsuit?",
		"d. Are you obligated to pay alimony or child support?",
		"e. Do you intend to occupy the property as your primary residence?",
	} {
		b.text(54, y, "", 9, q)
		b.text(480, y, "", 9, pick(b.r, []string{"Yes", "No", "No", "No"}))
		y += 16
	}
	y += 20
	b.text(54, y, "B", 11, "V. ASSETS")
	y += 18
	b.text(54, y, "B", 8, "Description")
	b.right(400, y, "B", 8, "Market Value")
	y += 14
	for _, asset := range []string{"Checking and savings", "Retirement accounts", "Automobiles owned", "Other assets"} {
		b.text(54, y, "", 9, asset)
		b.right(400, y, "", 9, "$"+money(b.r, 90000))
		y += 14
	}
	y += 30
	b.text(54, y, "", 8, "Each of the undersigned acknowledges that the lender may verify the information in this application.")
}
