package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The raw material of synthetic packets. Everything is invented; names and streets are common
// enough to be nobody in particular.

var firstNames = []string{
	"Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Jennifer", "David", "Elizabeth",
	"William", "Susan", "Richard", "Jessica", "Joseph", "Sarah", "Thomas", "Karen", "Charles",
	"Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Ashley",
	"Steven", "Kimberly", "Paul", "Donna", "Andrew", "Emily", "Kenneth", "Michelle", "Joshua",
	"Carol", "Kevin", "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Rebecca",
	"Ronald", "Laura", "Jason", "Helen", "Edward", "Sharon", "Jeffrey", "Cynthia", "Ryan",
	"Kathleen", "Jacob", "Amy", "Gary", "Angela", "Nicholas", "Shirley", "Eric", "Anna",
	"Jonathan", "Ruth", "Stephen", "Brenda", "Larry", "Pamela", "Justin", "Nicole", "Scott",
	"Katherine", "Brandon", "Virginia", "Benjamin", "Catherine", "Samuel", "Christine", "Gregory",
	"Samantha", "Frank", "Debra", "Alexander", "Janet", "Raymond", "Rachel", "Patrick", "Carolyn",
	"Jack", "Emma", "Dennis", "Maria", "Jerry", "Heather", "Tyler", "Diane", "Aaron", "Julie",
	"Wei", "Priya", "Ahmed", "Olga", "Kenji", "Fatima", "Carlos", "Ingrid", "Tomasz", "Aisha",
}

var lastNames = []string{
	"Gonzalez", "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
	"Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor",
	"Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
	"Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
	"Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
	"Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Phillips", "Evans", "Turner",
	"Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan",
	"Peterson", "Cooper", "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson",
	"Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Reyes", "Hughes", "Price", "Myers",
	"Long", "Foster", "Sanders", "Ross", "Morales", "Powell", "Sullivan", "Russell", "Ortiz",
	"Jenkins", "Perry", "Butler", "Barnes", "Fisher", "Henderson", "Coleman", "Patterson",
	"Okafor", "Kowalski", "Nakamura", "Haddad", "Lindqvist", "Chen", "Patel", "Novak",
}

var streetNames = []string{
	"Lakeview", "Maple", "Oak", "Cedar", "Elm", "Washington", "Lincoln", "Park", "Hillcrest",
	"Sunset", "Ridge", "Meadow", "Willow", "Pine", "Chestnut", "Highland", "River", "Forest",
	"Spring", "Church", "Mill", "Orchard", "Prairie", "Jefferson", "Madison", "Franklin",
	"Walnut", "Birch", "Valley", "Summit", "Harbor", "Juniper", "Magnolia", "Aspen", "Cherry",
}

var streetSuffixes = []string{"Drive", "Street", "Avenue", "Road", "Lane", "Court", "Boulevard", "Way", "Place", "St", "Ave", "Dr", "Rd", "Ln"}

var cities = []struct{ city, state, zip string }{
	{"Springfield", "IL", "62704"}, {"Madison", "WI", "53703"}, {"Columbus", "OH", "43215"},
	{"Austin", "TX", "78701"}, {"Raleigh", "NC", "27601"}, {"Boise", "ID", "83702"},
	{"Tacoma", "WA", "98402"}, {"Dayton", "OH", "45402"}, {"Fresno", "CA", "93721"},
	{"Omaha", "NE", "68102"}, {"Tulsa", "OK", "74103"}, {"Albany", "NY", "12207"},
	{"Richmond", "VA", "23219"}, {"Eugene", "OR", "97401"}, {"Lansing", "MI", "48933"},
	{"Trenton", "NJ", "08608"}, {"Mesa", "AZ", "85201"}, {"Durham", "NC", "27701"},
	{"Ann Arbor", "MI", "48104"}, {"Des Moines", "IA", "50309"}, {"Fort Wayne", "IN", "46802"},
}

var bankNames = []string{
	"First Prairie Bank", "Lakeshore Savings Bank", "Riverbend Credit Union",
	"Summit National Bank", "Cornerstone Community Bank", "Harborview Federal Savings",
	"Pioneer Trust Bank", "Blue Ridge Bank, N.A.", "Heartland State Bank",
}

var employers = []string{"Acme Logistics Inc", "Northside Medical Group", "Brightline Software LLC", "County School District 12", "Delta Freight Co", "Greenway Grocers"}

var txDescriptions = []string{
	"ACH DEPOSIT PAYROLL", "POS PURCHASE GROCERY MART", "ONLINE TRANSFER TO SAVINGS",
	"CHECK #%d", "ATM WITHDRAWAL", "DEBIT CARD PURCHASE FUEL STOP", "MORTGAGE PAYMENT",
	"UTILITY PAYMENT CITY WATER", "INTEREST PAYMENT", "MONTHLY SERVICE FEE", "MOBILE DEPOSIT",
	"ZELLE PAYMENT", "INSURANCE PREMIUM", "CABLE TV AUTOPAY", "PHARMACY PURCHASE",
}

type person struct {
	first, middle, last, suffix string
}

// name is how the person is written in running text ("Maria L. Gonzalez", "Robert Hall Jr.").
func (p person) name() string {
	n := p.first + " " + p.last
	if p.middle != "" {
		n = p.first + " " + p.middle + ". " + p.last
	}
	if p.suffix != "" {
		n += " " + p.suffix
	}
	return n
}

// upper is how a statement mailing block prints it ("MARIA L GONZALEZ").
func (p person) upper() string {
	n := p.first + " " + p.last
	if p.middle != "" {
		n = p.first + " " + p.middle + " " + p.last
	}
	if p.suffix != "" {
		n += " " + strings.TrimSuffix(p.suffix, ".")
	}
	return strings.ToUpper(n)
}

// lastFirst is how a core banking system prints it ("GONZALEZ, MARIA L").
func (p person) lastFirst() string {
	n := p.last + ", " + p.first
	if p.middle != "" {
		n += " " + p.middle
	}
	if p.suffix != "" {
		n += " " + strings.TrimSuffix(p.suffix, ".")
	}
	return strings.ToUpper(n)
}

type address struct {
	street, city, state, zip string
}

func (a address) line2() string { return a.city + ", " + a.state + " " + a.zip }

func (a address) oneLine() string { return a.street + ", " + a.line2() }

func randPerson(r *rand.Rand, last string) person {
	p := person{first: pick(r, firstNames), last: last}
	if p.last == "" {
		p.last = pick(r, lastNames)
	}
	if r.IntN(2) == 0 {
		p.middle = string(rune('A' + r.IntN(26)))
	}
	if r.IntN(12) == 0 {
		p.suffix = pick(r, []string{"Jr.", "Sr.", "III"})
	}
	return p
}

func randAddress(r *rand.Rand) address {
	c := cities[r.IntN(len(cities))]
	street := fmt.Sprintf("%d %s %s", 10+r.IntN(9980), pick(r, streetNames), pick(r, streetSuffixes))
	if r.IntN(6) == 0 {
		street += fmt.Sprintf(" Apt %d", 1+r.IntN(40))
	}
	zip := c.zip
	if r.IntN(5) == 0 {
		zip += "-" + randDigits(r, 4)
	}
	return address{street: street, city: c.city, state: c.state, zip: zip}
}

func randDigits(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		d := r.IntN(10)
		if i == 0 && d == 0 {
			d = 1 + r.IntN(9)
		}
		b.WriteByte(byte('0' + d))
	}
	return b.String()
}

// randPhone is a phone number in one of the formats people print.
func randPhone(r *rand.Rand) string {
	a, b, c := personalAreaCode(200+r.IntN(799)), 200+r.IntN(799), r.IntN(10000)
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("(%03d) %03d-%04d", a, b, c)
	case 1:
		return fmt.Sprintf("%03d-%03d-%04d", a, b, c)
	case 2:
		return fmt.Sprintf("%03d.%03d.%04d", a, b, c)
	case 3:
		return fmt.Sprintf("+1 %03d %03d %04d", a, b, c)
	default:
		return fmt.Sprintf("1-%03d-%03d-%04d", a, b, c)
	}
}

// personalAreaCode moves a toll-free area code (800, 888, 877, ...), which no one has as a
// home or mobile number, to the next code; it draws nothing, so every other packet stays
// the same.
func personalAreaCode(a int) int {
	switch a {
	case 800, 833, 844, 855, 866, 877, 888:
		return a + 1
	}
	return a
}

// randAccountNumber is an account or loan number in one of the formats banks print.
func randAccountNumber(r *rand.Rand, loan bool) string {
	if loan {
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("%d-%s", 2015+r.IntN(10), randDigits(r, 6))
		case 1:
			return randDigits(r, 10)
		default:
			return "00" + randDigits(r, 8)
		}
	}
	switch r.IntN(4) {
	case 0:
		return fmt.Sprintf("%s-%s-%s", randDigits(r, 4), randDigits(r, 4), randDigits(r, 4))
	case 1:
		return randDigits(r, 10+r.IntN(3))
	case 2:
		return fmt.Sprintf("%s %s %s", randDigits(r, 4), randDigits(r, 4), randDigits(r, 4))
	default:
		return fmt.Sprintf("000%s", randDigits(r, 7))
	}
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func money(r *rand.Rand, max int) string {
	cents := r.IntN(max * 100)
	return commas(cents/100) + fmt.Sprintf(".%02d", cents%100)
}

func commas(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
