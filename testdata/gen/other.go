package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/idp/idp/stage"
)

// The second generator: packets laid out the way other banks and lenders lay them out,
// written from the descriptions of real packets (a statement's window-envelope recipient
// block and account summary table, two-column account cards, boxed loan applications with
// labels above their values, a verification of deposit with its signature captions, fax
// cover sheets and fax headers, blank pages) and with wording and raw material that the
// first generator never uses (otherdata.go).
//
// It exists to measure the rules on layouts they were not written beside. Seeds below 1000
// may be looked at while writing rules; seeds from 1000 on are held out: they are only ever
// scored (README, "Accuracy").

// Layouts name the generators.
const (
	// LayoutsHouse is the first generator (gen.go): the layouts the rules were written beside.
	LayoutsHouse = "house"
	// LayoutsOther is the second generator (this file).
	LayoutsOther = "other"
)

// HeldOutSeeds is the first seed of the second generator that rules are never tuned on.
const HeldOutSeeds = 1000

// household is the people behind one or more accounts: one address, a phone each.
type household struct {
	holders []person
	phones  []string // phones[i] is holder i's phone
	addr    address
	accts   []int
}

type otherBuilder struct {
	*builder
	web      string
	bankAddr address
	lender   string
	faxed    bool // every page carries a fax machine's header
	scanned  bool
	hh       []*household
	pageNo   int // page of the current document, from 1, for "Page x of y"
}

func generateOther(opts Options) (*Packet, error) {
	r := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x2545f4914f6cdd1d))
	pdf := newPDF("idp testdata generator (other layouts)")
	pdf.AliasNbPages("{nb}")
	bank := pick(r, otherBanks)
	b := &builder{r: r, pdf: pdf, bank: bank.name, bankTel: tollFree(r)}
	o := &otherBuilder{builder: b, web: bank.web, bankAddr: otherBankAddress(r), lender: pick(r, otherLenders), scanned: opts.Scanned}
	o.faxed = opts.Scanned && r.IntN(2) == 0
	n := opts.Accounts
	if n <= 0 {
		n = 2 + r.IntN(3)
	}
	o.makeHouseholds(n)
	if r.IntN(3) == 0 {
		o.faxCover()
	}
	for i, h := range o.hh {
		if i > 0 && r.IntN(3) == 0 {
			o.blankPage()
		}
		o.documents(h)
	}
	return finish(b, opts, scanOther)
}

func otherBankAddress(r *rand.Rand) address {
	a := otherAddress(r)
	if r.IntN(2) == 0 {
		a.street = fmt.Sprintf("PO Box %d", 100+r.IntN(9900))
	}
	return a
}

// makeHouseholds makes n accounts in households of one to three accounts: a checking
// account, often with a savings account, sometimes with a loan.
func (o *otherBuilder) makeHouseholds(n int) {
	r := o.r
	for n > 0 {
		size := 1 + r.IntN(min(n, 3))
		n -= size
		h := &household{addr: otherAddress(r), holders: drawHolders(r, otherPerson)}
		for range h.holders {
			h.phones = append(h.phones, otherPhone(r))
		}
		var kinds []string
		switch size {
		case 1:
			kinds = []string{pick(r, []string{"checking", "savings", "loan"})}
		case 2:
			kinds = pick(r, [][]string{{"checking", "savings"}, {"checking", "savings"}, {"checking", "loan"}, {"checking", "money market"}})
		default:
			kinds = []string{"checking", "savings", "loan"}
		}
		for _, k := range kinds {
			a := &account{kind: k, loan: k == "loan", addr: h.addr, holders: h.holders, phone: h.phones[0]}
			a.number = otherAccountNumber(r, a.loan)
			h.accts = append(h.accts, len(o.acct))
			o.acct = append(o.acct, a)
		}
		o.hh = append(o.hh, h)
	}
}

// documents writes a household's documents: statements of its deposit accounts (one
// statement for a checking and a savings account more often than not), an account card, a
// verification of deposit, and a loan application for a loan.
func (o *otherBuilder) documents(h *household) {
	r := o.r
	var deposit []int
	loan := -1
	for _, i := range h.accts {
		if o.acct[i].loan {
			loan = i
		} else {
			deposit = append(deposit, i)
		}
	}
	var docs []func()
	if len(deposit) > 0 {
		card := r.IntN(2) == 0
		if card {
			docs = append(docs, func() { o.accountCard(h, deposit[0]) })
		}
		if len(deposit) > 1 && r.IntN(3) != 0 {
			docs = append(docs, func() { o.statement(h, deposit) })
		} else {
			for _, i := range deposit {
				docs = append(docs, func() { o.statement(h, []int{i}) })
			}
		}
		if r.IntN(3) == 0 {
			i := pick(r, deposit)
			docs = append(docs, func() { o.verificationOfDeposit(h, i) })
		}
		if card && r.IntN(2) == 0 {
			docs[0], docs[len(docs)-1] = docs[len(docs)-1], docs[0]
		}
	}
	if loan >= 0 {
		docs = append(docs, func() { o.loanApplication(h, loan) })
	}
	for _, d := range docs {
		o.pageNo = 0
		d()
	}
}

// page starts a page of account idx (-1 for none): a fax header when the packet was faxed.
func (o *otherBuilder) page(idx int) *stage.PageResult {
	pr := o.newPage(idx)
	o.pageNo++
	if o.faxed {
		o.pdf.SetFont("Courier", "", 8)
		o.pdf.Text(24, 14, fmt.Sprintf("MAR-%02d-2024 %02d:%02d   FROM:LOAN OPS   FAX:%s   TO:%s   P.%03d/{nb}",
			4+o.r.IntN(3), 8+o.r.IntN(9), o.r.IntN(60), otherPhone(o.r), otherPhone(o.r), len(o.pages)))
	}
	return pr
}

// blankPage is a sheet with nothing on it: a separator, or the back of a duplex scan.
func (o *otherBuilder) blankPage() {
	o.pickFont()
	o.page(-1)
}

// maybeBlankBack follows a page with its blank back, as a duplex scanner does, now and then.
func (o *otherBuilder) maybeBlankBack() {
	if o.scanned && !o.faxed && o.r.IntN(6) == 0 {
		o.page(-1)
	}
}

func (o *otherBuilder) faxCover() {
	o.pickFont()
	o.page(-1)
	y := 70.0
	o.text(54, y, "B", 30, "FAX")
	o.text(300, y, "", 9, o.lender)
	y += 40
	rows := [][4]string{
		{"To:", "Underwriting Department", "Fax:", otherPhone(o.r)},
		{"From:", otherPerson(o.r, "").otherName() + ", " + pick(o.r, otherStaffTitles), "Phone:", otherPhone(o.r)},
		{"Date:", fmt.Sprintf("%02d/%02d/2024", 1+o.r.IntN(12), 1+o.r.IntN(28)), "Pages:", fmt.Sprintf("%d (including cover)", 4+o.r.IntN(20))},
		{"Re:", pick(o.r, []string{"Loan documents", "Documents for underwriting", "Requested statements"}), "", ""},
	}
	for _, row := range rows {
		o.text(54, y, "B", 11, row[0])
		o.text(110, y, "", 11, row[1])
		if row[2] != "" {
			o.text(380, y, "B", 11, row[2])
			o.text(430, y, "", 11, row[3])
		}
		y += 24
	}
	y += 20
	o.text(54, y, "", 10, "[ ] Urgent   [ ] For review   [x] Please reply")
	y += 40
	o.text(54, y, "I", 8, "CONFIDENTIALITY NOTICE: this facsimile contains information that is confidential. If you")
	o.text(54, y+11, "I", 8, "received it in error, please notify the sender at the number above and destroy it.")
}

// bankHeader prints the bank's name, its return address and its contact block: none of it
// is the customer's. It returns where the page goes on.
func (o *otherBuilder) bankHeader(y float64) float64 {
	if o.r.IntN(2) == 0 {
		o.text(54, y, "B", 15, o.bank)
		o.text(54, y+12, "", 7, strings.ToUpper(o.bankAddr.street))
		o.text(54, y+21, "", 7, strings.ToUpper(o.bankAddr.line2()))
	} else {
		o.text(54, y, "B", 15, strings.ToUpper(o.bank))
		o.text(54, y+12, "", 7, o.bankAddr.street+", "+o.bankAddr.line2())
	}
	x := 400.0
	switch o.r.IntN(3) {
	case 0:
		o.text(x, y-4, "B", 8, "Questions? Call "+o.bankTel)
		o.text(x, y+6, "", 8, "Contact us at www."+o.web)
		o.text(x, y+16, "", 8, "Member FDIC")
	case 1:
		o.text(x, y-4, "B", 8, "Customer Service")
		o.text(x, y+6, "", 8, o.bankTel)
		o.text(x, y+16, "", 8, "www."+o.web)
	default:
		o.text(x, y-4, "B", 8, "Contact us")
		o.text(x, y+6, "", 8, "Call us: "+o.bankTel)
		o.text(x, y+16, "", 8, "Member FDIC | Equal Housing Lender")
	}
	return y + 40
}

// recipientBlock prints the customer's names and address in the envelope window, without a
// label; a line of sort codes above it now and then.
func (o *otherBuilder) recipientBlock(pr *stage.PageResult, h *household, x, y float64) float64 {
	if o.r.IntN(2) == 0 {
		o.text(x, y, "", 7, fmt.Sprintf("%03d-%02d-%02d %05d %d C %03d %02d S %02d %03d",
			o.r.IntN(1000), o.r.IntN(100), o.r.IntN(100), o.r.IntN(100000), o.r.IntN(10), o.r.IntN(1000), o.r.IntN(100), o.r.IntN(100), o.r.IntN(1000)))
		y += 12
	}
	var names []string
	for _, p := range h.holders {
		names = append(names, p.otherName())
	}
	if len(h.holders) == 2 && o.r.IntN(4) == 0 {
		o.text(x, y, "", 10, h.holders[0].upper()+" & "+h.holders[1].upper())
		y += 12
	} else {
		for _, p := range h.holders {
			o.text(x, y, "", 10, p.upper())
			y += 12
		}
	}
	o.text(x, y, "", 10, strings.ToUpper(h.addr.street))
	y += 12
	city := h.addr.line2()
	if o.r.IntN(2) == 0 {
		city = h.addr.city + " " + h.addr.state + "  " + h.addr.zip
	}
	o.text(x, y, "", 10, strings.ToUpper(city))
	y += 12
	pr.Data[stage.FieldAccountHolders] = names
	pr.Data[stage.FieldAddress] = h.addr.oneLine()
	return y
}

func product(kind string, r *rand.Rand) string {
	switch kind {
	case "checking":
		return pick(r, []string{"Everyday Checking", "Interest Checking", "Free Checking", "Premier Checking"})
	case "savings":
		return pick(r, []string{"Way2Save Savings", "Statement Savings", "High Yield Savings", "Regular Savings"})
	case "money market":
		return pick(r, []string{"Money Market Savings", "Premier Money Market"})
	}
	return "Loan"
}

// statement writes one statement of a household's deposit accounts: with more than one
// account, a first page with the account summary table and a section per account, each
// starting on a new page under its header; with one, the number in a box on the first page.
func (o *otherBuilder) statement(h *household, accts []int) {
	r := o.r
	o.pickFont()
	month := 1 + r.IntN(12)
	period := fmt.Sprintf("%02d/01/2024 - %02d/28/2024", month, month)
	names := map[int]string{}
	sections := map[int]int{} // pages of each account's section
	total := 0
	for _, i := range accts {
		names[i] = product(o.acct[i].kind, r)
		sections[i] = 1 + r.IntN(2)
		total += sections[i]
	}
	combined := len(accts) > 1
	if combined {
		total++
	}
	disclosure := r.IntN(3) == 0
	if disclosure {
		total++
	}

	// First page.
	first := accts[0]
	pr := o.page(first)
	y := o.bankHeader(56)
	o.right(pageW-54, y, "B", 12, pick(r, []string{"Statement of Accounts", "Your Account Statement", "ACCOUNT STATEMENT"}))
	y += 60
	top := y
	y = o.recipientBlock(pr, h, 72, y)
	o.text(360, top, "", 9, "Statement period: "+period)
	o.text(360, top+12, "", 9, fmt.Sprintf("Page 1 of %d", total))
	y += 30
	start := 2
	if combined {
		o.text(54, y, "B", 11, pick(r, []string{"ACCOUNT SUMMARY", "Your accounts at a glance", "Summary of your accounts"}))
		y += 18
		heads := pick(r, [][4]string{
			{"ACCOUNT NAME / TYPE", "ACCOUNT NUMBER", "BALANCE", "DETAILS ON"},
			{"Account", "Account number", "Ending balance", "See page"},
			{"TYPE", "ACCOUNT NUMBER", "CLOSING BALANCE", "DETAILS ON PAGE"},
		})
		xs := [4]float64{54, 220, 360, 470}
		for k, hd := range heads {
			o.text(xs[k], y, "B", 8, hd)
		}
		o.pdf.Line(54, y+4, 558, y+4)
		y += 16
		page := start
		for _, i := range accts {
			o.text(xs[0], y, "", 9, names[i])
			o.text(xs[1], y, "", 9, o.acct[i].number)
			o.text(xs[2], y, "", 9, "$"+money(r, 30000))
			o.text(xs[3], y, "", 9, fmt.Sprintf("page %d", page))
			page += sections[i]
			y += 14
		}
		pr.Data[stage.FieldAccountNumber] = o.acct[first].number
		y += 20
		o.text(54, y, "", 8, "Thank you for banking with us. Please examine this statement promptly.")
		o.statementFooter()
		o.maybeBlankBack()
	}
	for si, i := range accts {
		a := o.acct[i]
		for p := range sections[i] {
			if combined || si > 0 || p > 0 {
				pr = o.page(i)
				y = 56
				o.text(54, y, "B", 10, o.bank)
				o.right(pageW-54, y, "", 9, fmt.Sprintf("Page %d of %d", o.pageNo, total))
				y += 24
				if p == 0 {
					o.text(54, y, "B", 12, o.sectionHeader(names[i], a))
					pr.Data[stage.FieldAccountNumber] = a.number
					y += 22
				} else {
					o.continuationRef(names[i], a, y)
					y += 22
				}
			} else {
				// A single account: the number in the box beside the recipient block.
				o.text(360, top+24, "", 9, pick(r, []string{"Account number:", "Your account number", "Account #", "Account Number"}))
				o.text(470, top+24, "", 9, a.number)
				pr.Data[stage.FieldAccountNumber] = a.number
			}
			y = o.transactions(a, y, p == sections[i]-1)
			o.statementFooter()
			o.maybeBlankBack()
		}
	}
	if disclosure {
		o.page(accts[len(accts)-1])
		y = 56
		o.text(54, y, "B", 10, o.bank)
		o.right(pageW-54, y, "", 9, fmt.Sprintf("Page %d of %d", o.pageNo, total))
		y += 30
		o.text(54, y, "B", 11, "IMPORTANT INFORMATION ABOUT YOUR ACCOUNTS")
		y += 20
		for _, line := range []string{
			"In case of errors or questions about your electronic transfers, call us at " + o.bankTel,
			"or write to us at " + o.bank + ", " + o.bankAddr.oneLine() + ",",
			"as soon as you can, if you think your statement or receipt is wrong or if you need",
			"more information about a transfer listed on the statement or receipt.",
			"",
			"Overdraft coverage: you may change your overdraft choices at any time at www." + o.web + ".",
			"Deposit products are offered by " + o.bank + ". Member FDIC.",
		} {
			o.text(54, y, "", 9, line)
			y += 13
		}
	}
}

// sectionHeader is the heading above an account's transactions in a combined statement.
func (o *otherBuilder) sectionHeader(product string, a *account) string {
	kind := strings.ToUpper(a.kind)
	switch o.r.IntN(4) {
	case 0:
		return kind + " " + a.number
	case 1:
		return product + " - " + a.number
	case 2:
		return strings.ToUpper(a.kind[:1]) + a.kind[1:] + " account " + a.number
	default:
		return "Account summary for " + product + " " + a.number
	}
}

// continuationRef is what a continuation page says of its account: its product, its last
// digits masked, or nothing.
func (o *otherBuilder) continuationRef(product string, a *account, y float64) {
	d := stage.Digits(a.number)
	last := d[len(d)-4:]
	switch o.r.IntN(5) {
	case 0:
		o.text(54, y, "", 9, product+" (continued)")
	case 1:
		o.text(54, y, "", 9, "Account ending in "+last)
	case 2:
		o.text(54, y, "", 9, product+"   XXXXXX"+last)
	case 3:
		o.text(54, y, "", 9, "Account number: ****"+last)
	}
}

func (o *otherBuilder) transactions(a *account, y float64, last bool) float64 {
	r := o.r
	o.text(54, y, "B", 10, pick(r, []string{"Transaction history", "ACTIVITY DETAIL", "Deposits and other activity"}))
	y += 16
	o.text(54, y, "B", 8, "Date")
	o.text(100, y, "B", 8, "Description")
	o.right(430, y, "B", 8, "Withdrawals")
	o.right(500, y, "B", 8, "Deposits")
	o.right(558, y, "B", 8, "Balance")
	o.pdf.Line(54, y+4, 558, y+4)
	y += 15
	bal := 1000 + r.IntN(20000)
	end := pageH - 90
	if last {
		end = pageH - 90 - float64(r.IntN(300))
	}
	for y < end {
		desc := pick(r, otherTx)
		if strings.Contains(desc, "XXXXXX%s") {
			desc = fmt.Sprintf(desc, randDigits(r, 4))
		} else if strings.Contains(desc, "%s") {
			desc = fmt.Sprintf(desc, randDigits(r, 10+r.IntN(4)))
		}
		if a.kind != "checking" && r.IntN(2) == 0 {
			desc = pick(r, []string{"Interest Earned", "Transfer from Checking", "Deposit"})
		}
		amt := r.IntN(90000)
		o.text(54, y, "", 8, fmt.Sprintf("%02d/%02d", 1+r.IntN(12), 1+r.IntN(28)))
		o.text(100, y, "", 8, desc)
		if r.IntN(3) == 0 {
			bal += amt / 100
			o.right(500, y, "", 8, commas(amt/100)+fmt.Sprintf(".%02d", amt%100))
		} else {
			bal -= amt / 300
			o.right(430, y, "", 8, commas(amt/300)+fmt.Sprintf(".%02d", amt%100))
		}
		o.right(558, y, "", 8, commas(max(bal, 0))+".00")
		y += 12
	}
	if last {
		y += 6
		o.text(100, y, "B", 8, "Ending balance")
		o.right(558, y, "B", 8, commas(max(bal, 0))+".00")
		y += 12
	}
	return y
}

func (o *otherBuilder) statementFooter() {
	switch o.r.IntN(3) {
	case 0:
		o.text(54, pageH-40, "", 7, fmt.Sprintf("%s  |  %s  |  www.%s  |  Member FDIC", o.bank, o.bankTel, o.web))
	case 1:
		o.text(54, pageH-40, "", 7, "Questions? Contact us at "+o.bankTel+" or visit any branch.")
	}
}

// accountCard is an account card with the owners side by side: their labels in a column
// heading, labels above or before their values, phones with or without a colon.
func (o *otherBuilder) accountCard(h *household, idx int) {
	r := o.r
	a := o.acct[idx]
	o.pickFont()
	pr := o.page(idx)
	y := o.bankHeader(56)
	o.text(54, y+6, "B", 14, pick(r, []string{"ACCOUNT SIGNATURE CARD", "Membership and Account Card", "Deposit Account Application"}))
	y += 34
	o.text(54, y, "B", 9, pick(r, []string{"Account No.", "Account Number", "ACCOUNT #", "Acct. Number"}))
	o.text(140, y, "", 10, a.number)
	o.text(300, y, "", 9, "Ownership: "+pick(r, []string{"Joint with right of survivorship", "Individual", "Joint", "Individual with POD"}))
	pr.Data[stage.FieldAccountNumber] = a.number
	y += 14
	o.text(300, y, "", 9, fmt.Sprintf("Date opened %02d/%02d/%d", 1+r.IntN(12), 1+r.IntN(28), 2008+r.IntN(16)))
	y += 26

	heads := pick(r, [][2]string{{"OWNER 1", "OWNER 2"}, {"PRIMARY OWNER", "JOINT OWNER"}, {"PRIMARY MEMBER", "JOINT MEMBER"}, {"APPLICANT", "CO-APPLICANT"}})
	nameLabel := pick(r, []string{"Name", "Full Legal Name", "Name (Last, First, MI)"})
	addrLabel := pick(r, []string{"Residence", "Residence Address", "Home Address", "Physical Address", "Street Address"})
	above := r.IntN(2) == 0 // labels above their values, else before them
	colon := ""
	if !above && r.IntN(2) == 0 {
		colon = ":"
	}
	xs := []float64{40, 316}
	// field prints label and value in column c at y; it returns the next y.
	field := func(c int, y float64, label, value string) float64 {
		x := xs[c]
		if above {
			o.text(x, y, "", 7, strings.ToUpper(label))
			o.text(x, y+12, "", 10, value)
			return y + 26
		}
		o.text(x, y, "B", 8, label+colon)
		o.text(x+110, y, "", 9, value)
		return y + 15
	}
	var names []string
	ys := make([]float64, len(h.holders))
	for c, p := range h.holders {
		o.text(xs[c], y, "B", 10, heads[c])
		yy := y + 18
		name := p.otherName()
		if strings.Contains(nameLabel, "Last, First") {
			name = p.otherLastFirst()
			names = append(names, strings.Join(strings.Fields(p.first+" "+firstLetter(p.middle)+" "+p.last), " "))
		} else {
			names = append(names, name)
		}
		yy = field(c, yy, nameLabel, name)
		yy = field(c, yy, "Date of Birth", fmt.Sprintf("%02d/%02d/19%02d", 1+r.IntN(12), 1+r.IntN(28), 40+r.IntN(60)))
		yy = field(c, yy, "SSN", "XXX-XX-"+randDigits(r, 4))
		if c == 0 || r.IntN(2) == 0 {
			// The street, and the city on the line below.
			yy = field(c, yy, addrLabel, h.addr.street)
			if above {
				o.text(xs[c], yy-2, "", 10, h.addr.line2())
				yy += 12
			} else {
				o.text(xs[c]+110, yy, "", 9, h.addr.line2())
				yy += 15
			}
		} else {
			yy = field(c, yy, addrLabel, pick(r, []string{"Same as Owner 1", "Same as above"}))
		}
		ys[c] = yy
	}
	pr.Data[stage.FieldAccountHolders] = names
	pr.Data[stage.FieldAddress] = h.addr.oneLine()
	// The phones, side by side on common rows: the primary owner's first.
	y = max(ys[0], ys[len(ys)-1])
	for c := range h.holders {
		label := pick(r, []string{"Home Phone", "Cell Phone", "Mobile", "Daytime Phone", "Tel.", "Phone"})
		yy := y
		if !above && r.IntN(2) == 0 {
			// Label and number in one run of text, no colon: "Home Phone (613) 338-7829".
			o.text(xs[c], yy, "B", 9, label+" "+h.phones[c])
			yy += 15
		} else {
			yy = field(c, yy, label, h.phones[c])
		}
		if c == 0 && r.IntN(2) == 0 {
			field(c, yy, pick(r, []string{"Work Phone", "Evening Phone"}), otherPhone(r)+pick(r, []string{"", " x" + randDigits(r, 3), " ext. " + randDigits(r, 2)}))
		}
	}
	pr.Data[stage.FieldPhoneNumber] = h.phones[0]
	y += 60
	o.text(54, y, "", 8, "Each signer agrees to the terms of the account agreement and acknowledges receipt of the fee schedule.")
	y += 40
	for c := range h.holders {
		o.pdf.Line(xs[c], y, xs[c]+220, y)
		o.text(xs[c], y+10, "", 7, "SIGNATURE")
		o.text(xs[c]+160, y+10, "", 7, "DATE")
	}
	y += 40
	if r.IntN(2) == 0 {
		o.text(54, y, "B", 8, "FOR BANK USE ONLY")
		o.text(54, y+12, "", 8, "Opened by: "+otherPerson(r, "").otherName()+", "+pick(r, otherStaffTitles))
		o.text(330, y+12, "", 8, "Branch phone: "+otherPhone(r))
	}
}

func firstLetter(s string) string {
	if s == "" {
		return ""
	}
	return s[:1]
}

// verificationOfDeposit is a lender's request to the bank to verify an account: the bank's
// and the lender's names and addresses, the account in a table, the applicants' names and
// address in a box, and the bank officer's signature block with its captions.
func (o *otherBuilder) verificationOfDeposit(h *household, idx int) {
	r := o.r
	a := o.acct[idx]
	o.pickFont()
	pr := o.page(idx)
	y := 60.0
	o.text(54, y, "B", 14, "Request for Verification of Deposit")
	y += 24
	o.text(54, y, "B", 9, "Part I - Request")
	y += 16
	o.text(54, y, "", 7, "1. To (Name and address of depository)")
	o.text(320, y, "", 7, "2. From (Name and address of lender)")
	y += 12
	lenderAddr := otherAddress(r)
	for k, pair := range [][2]string{{o.bank, o.lender}, {o.bankAddr.street, lenderAddr.street}, {o.bankAddr.line2(), lenderAddr.line2()}} {
		_ = k
		o.text(54, y, "", 10, pair[0])
		o.text(320, y, "", 10, pair[1])
		y += 12
	}
	y += 10
	o.text(54, y, "", 7, "3. Signature of Lender")
	o.text(250, y, "", 7, "4. Title")
	o.text(420, y, "", 7, "5. Date")
	y += 12
	o.text(250, y, "", 10, pick(r, otherStaffTitles))
	o.text(420, y, "", 10, fmt.Sprintf("%02d/%02d/2024", 1+r.IntN(12), 1+r.IntN(28)))
	y += 22
	o.text(54, y, "", 7, "7. Information To Be Verified")
	y += 12
	kind := strings.ToUpper(a.kind[:1]) + a.kind[1:]
	y = o.table(y, []float64{54, 150, 330, 460}, []string{"Type of Account", "Account in Name of", "Account Number", "Balance"},
		[]string{kind, h.holders[0].otherName(), a.number, "$" + money(r, 40000)})
	pr.Data[stage.FieldAccountNumber] = a.number
	y += 24
	o.text(54, y, "", 7, "8. Name and Address of Applicant(s)")
	o.text(320, y, "", 7, "9. Signature of Applicant(s)")
	y += 12
	var names []string
	for _, p := range h.holders {
		o.text(54, y, "", 10, p.otherName())
		names = append(names, p.otherName())
		y += 12
	}
	o.text(54, y, "", 10, h.addr.street)
	o.text(54, y+12, "", 10, h.addr.line2())
	pr.Data[stage.FieldAccountHolders] = names
	pr.Data[stage.FieldAddress] = h.addr.oneLine()
	y += 40
	o.text(54, y, "B", 9, "Part II - Verification of Depository")
	y += 16
	o.text(54, y, "", 7, "10. Deposit Accounts of Applicant(s)")
	y += 12
	y = o.table(y, []float64{54, 150, 280, 400}, []string{"Type of Account", "Account Number", "Current Balance", "Date Opened"},
		[]string{kind, a.number, "$" + money(r, 40000), fmt.Sprintf("%02d/%02d/20%02d", 1+r.IntN(12), 1+r.IntN(28), 5+r.IntN(19))})
	y += 30
	o.text(54, y, "", 8, "11. Are there any outstanding loans to the applicant(s)?   No")
	y += 40
	staff := otherPerson(r, "")
	values := []string{staff.otherName(), pick(r, otherStaffTitles), otherPhone(r), fmt.Sprintf("%02d/%02d/2024", 1+r.IntN(12), 1+r.IntN(28))}
	captions := []string{"PRINT NAME", "POSITION TITLE", "PHONE NO.", "DATE"}
	xs := []float64{54, 200, 360, 470}
	o.pdf.Line(54, y-10, 300, y-10)
	o.text(54, y, "", 7, "SIGNATURE OF DEPOSITORY REPRESENTATIVE")
	y += 24
	captionsFirst := r.IntN(2) == 0
	for k := range xs {
		if captionsFirst {
			o.text(xs[k], y, "", 7, captions[k])
			o.text(xs[k], y+13, "", 10, values[k])
		} else {
			o.text(xs[k], y, "", 10, values[k])
			o.text(xs[k], y+13, "", 7, captions[k])
		}
	}
	y += 40
	o.text(54, y, "I", 7, "The confidentiality of the information you have furnished will be preserved except where disclosure is required by law.")
}

// table prints a row of column headings and one row of values under them; it returns the
// next y.
func (o *otherBuilder) table(y float64, xs []float64, heads, values []string) float64 {
	for k, x := range xs {
		o.text(x, y, "B", 8, heads[k])
		o.text(x, y+13, "", 10, values[k])
	}
	return y + 13
}

// loanApplication is a boxed residential loan application: labels above their values, the
// address in cells (street, unit, city, state, ZIP), phones in a row of boxes, the
// employer's name, phone and address, the property, and on a second page the loan
// originator's.
func (o *otherBuilder) loanApplication(h *household, idx int) {
	r := o.r
	a := o.acct[idx]
	o.pickFont()
	pr := o.page(idx)
	y := 56.0
	o.text(54, y, "B", 14, pick(r, []string{"Uniform Residential Loan Application", "Residential Loan Application", "Mortgage Loan Application"}))
	o.text(54, y+12, "", 7, o.lender)
	switch r.IntN(3) {
	case 0:
		o.text(400, y-4, "", 7, "Agency Case No.")
		o.text(480, y-4, "", 7, "Lender Loan No.")
		o.text(480, y+8, "", 10, a.number)
	case 1:
		o.text(360, y, "B", 9, "Lender Loan No.")
		o.text(470, y, "", 10, a.number)
	default:
		o.text(360, y, "B", 9, pick(r, []string{"Loan No.", "Loan Number"}))
		o.text(470, y, "", 10, a.number)
	}
	pr.Data[stage.FieldAccountNumber] = a.number
	y += 34
	cols := func(y float64, labels, values []string, xs []float64) float64 {
		for k := range labels {
			o.text(xs[k], y, "", 7, labels[k])
			if values[k] != "" {
				o.text(xs[k], y+11, "", 10, values[k])
			}
		}
		return y + 26
	}
	addrCells := func(y float64, ad address) float64 {
		street, unit := ad.street, ""
		for _, u := range otherUnits {
			if strings.HasSuffix(street, " "+u) {
				street, unit = strings.TrimSuffix(street, " "+u), u
			}
		}
		y = cols(y, []string{"Street", "Unit #"}, []string{street, unit}, []float64{54, 330})
		return cols(y, []string{"City", "State", "ZIP", "Country"}, []string{ad.city, ad.state, ad.zip, "USA"}, []float64{54, 250, 330, 430})
	}
	phoneRow := func(y float64, first string) float64 {
		home, cell := first, ""
		if r.IntN(3) == 0 {
			home, cell = "", first
		} else if r.IntN(2) == 0 {
			cell = otherPhone(r)
		}
		work, ext := "", ""
		if r.IntN(2) == 0 {
			work, ext = otherPhone(r), randDigits(r, 3)
		}
		return cols(y, []string{"Home Phone", "Cell Phone", "Work Phone", "Ext."}, []string{home, cell, work, ext}, []float64{54, 180, 330, 470})
	}
	borrower := func(y float64, title string, p person, phone string, full bool) float64 {
		o.text(54, y, "B", 10, title)
		y += 16
		y = cols(y, []string{"Name (First, Middle, Last, Suffix)", "Social Security Number"}, []string{p.otherName(), "XXX-XX-" + randDigits(r, 4)}, []float64{54, 330})
		o.text(54, y, "B", 8, "Current Address")
		y += 12
		if full {
			y = addrCells(y, h.addr)
		} else {
			o.text(54, y, "", 10, "Same as Borrower")
			y += 16
		}
		return phoneRow(y, phone)
	}
	var names []string
	for _, p := range h.holders {
		names = append(names, p.otherName())
	}
	y = borrower(y, "Section 1: Borrower Information", h.holders[0], h.phones[0], true)
	y = cols(y, []string{"Email"}, []string{strings.ToLower(strings.ReplaceAll(h.holders[0].first, " ", "")) + "@example.com"}, []float64{54})
	o.text(54, y, "B", 10, "1b. Current Employment / Self-Employment and Income")
	y += 16
	y = cols(y, []string{"Employer or Business Name", "Phone"}, []string{pick(r, otherEmployers), otherPhone(r)}, []float64{54, 330})
	y = addrCells(y, otherAddress(r))
	y = cols(y, []string{"Position or Title", "Start Date"}, []string{pick(r, []string{"Machinist", "Registered Nurse", "Teacher", "Engineer", "Foreman"}), fmt.Sprintf("%02d/01/20%02d", 1+r.IntN(12), r.IntN(24))}, []float64{54, 330})
	second := len(h.holders) > 1 && r.IntN(2) == 0
	if second {
		y = borrower(y, "Additional Borrower Information", h.holders[1], h.phones[1], r.IntN(2) == 0)
	}
	y += 4
	o.text(54, y, "B", 10, "Section 4: Loan and Property Information")
	y += 16
	purpose := pick(r, []string{"Refinance", "Refinance", "Purchase"})
	y = cols(y, []string{"Loan Amount", "Loan Purpose"}, []string{"$" + commas(50000+r.IntN(600000)) + ".00", purpose}, []float64{54, 330})
	o.text(54, y, "B", 8, "Property Address")
	y += 12
	prop := h.addr
	if purpose == "Purchase" {
		prop = otherAddress(r)
	}
	addrCells(y, prop)
	if second {
		pr.Data[stage.FieldAccountHolders] = names
	} else {
		pr.Data[stage.FieldAccountHolders] = names[:1]
	}
	pr.Data[stage.FieldAddress] = h.addr.oneLine()
	pr.Data[stage.FieldPhoneNumber] = h.phones[0]

	// Second page: a co-borrower not on the first, declarations, the originator.
	pr = o.page(idx)
	y = 56
	o.text(54, y, "", 8, pick(r, []string{"Uniform Residential Loan Application", "Residential Loan Application"}))
	if r.IntN(2) == 0 {
		o.right(pageW-54, y, "", 8, "Lender Loan No. "+a.number)
		pr.Data[stage.FieldAccountNumber] = a.number
	}
	y += 24
	if len(h.holders) > 1 && !second {
		y = borrower(y, "Additional Borrower Information", h.holders[1], h.phones[1], true)
		pr.Data[stage.FieldAccountHolders] = names[1:]
		pr.Data[stage.FieldAddress] = h.addr.oneLine()
		pr.Data[stage.FieldPhoneNumber] = h.phones[1]
		y += 6
	}
	o.text(54, y, "B", 10, "Section 5: Declarations")
	y += 16
	for _, q := range []string{
		"A. Will you occupy the property as your primary residence?",
		"B. Are you borrowing any money for this real estate transaction?",
		"C. Have you declared bankruptcy within the past 7 years?",
		"D. Are you a party to a lawsuit in which you potentially have any personal financial liability?",
	} {
		o.text(54, y, "", 8, q)
		o.text(520, y, "", 8, pick(r, []string{"YES", "NO", "NO"}))
		y += 13
	}
	y += 14
	o.text(54, y, "B", 10, "Section 9: Loan Originator Information")
	y += 16
	la := otherAddress(r)
	y = cols(y, []string{"Loan Originator Organization Name", "NMLSR ID#"}, []string{o.lender, randDigits(r, 6)}, []float64{54, 330})
	y = cols(y, []string{"Address"}, []string{la.oneLine()}, []float64{54})
	y = cols(y, []string{"Loan Originator Name", "NMLSR ID#"}, []string{otherPerson(r, "").otherName(), randDigits(r, 7)}, []float64{54, 330})
	y = cols(y, []string{"Email", "Phone"}, []string{"originations@example.com", otherPhone(r)}, []float64{54, 330})
	y += 30
	o.pdf.Line(54, y, 300, y)
	o.pdf.Line(340, y, 540, y)
	o.text(54, y+10, "", 7, "Borrower Signature")
	o.text(340, y+10, "", 7, "Date")
}
