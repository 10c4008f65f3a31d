package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The raw material of the second generator (other.go). None of it is shared with the first
// generator's (data.go): other names, streets with the suffixes and units of real US
// addresses, cities of more than one word, other banks, lenders, phone shapes and number
// formats. Everything is invented.

var otherFirstNames = []string{
	"Alejandro", "Siobhan", "Dmitri", "Nadia", "Tobias", "Lucia", "Mateo", "Yusuf", "Grace",
	"Declan", "Imani", "Rafael", "Hannah", "Omar", "Beatriz", "Connor", "Leilani", "Viktor",
	"Zoe", "Marcus", "Esperanza", "Theo", "Ayesha", "Felix", "Rosa", "Hiroshi", "Noor", "Elena",
	"Jamal", "Colette", "Bartholomew", "Mei", "Oluwaseun", "Ximena", "Gunnar", "Priscilla",
	"Desmond", "Anahi", "Lorenzo", "Winifred", "Kwame", "Marisol", "Ezekiel", "Thandiwe",
	"Cormac", "Valentina", "Anders", "Juniper", "Ignatius", "Paloma",
}

var otherLastNames = []string{
	"Rosalez", "O'Connell", "De La Cruz", "MacKenzie", "Nguyen-Tran", "Abernathy", "Kozlowski",
	"Okonkwo", "Fitzgerald", "Delacroix", "Yamamoto", "Brennan", "Castellanos", "Lindgren",
	"Achterberg", "Pham", "Hoffman", "Quintero", "Szabo", "Whitfield", "Ferreira", "Gallagher",
	"Rasmussen", "Villanueva", "Dubois", "Kaur", "Al-Sayed", "St. Clair", "Oyelaran", "Bjornsson",
	"Vasquez-Ortega", "Thibodeaux", "Nakashima", "Mwangi", "Prendergast", "Halvorsen",
	"Castillo", "Lefebvre", "Zielinski", "Ashworth",
}

var otherMiddleNames = []string{"Miguel", "Rose", "James", "Ann", "Lee", "Marie", "Elias", "Jean", "Kai", "Louise"}

// otherStreets are street names with their suffix: every USPS suffix shape, directionals,
// numbered streets, names of several words.
var otherStreets = []string{
	"Kozey Light", "Oak Hollow", "Martin Luther King Jr Blvd", "County Road 14", "N Main St",
	"SW 4th Ave", "Old Mill Rd", "Cottonwood Trail", "Eagle Crest Ct", "Harbor View Ter",
	"Bayside Pkwy", "Quail Run", "Stonebridge Loop", "Foxglove Cir", "Lakeshore Hwy",
	"W Elm St", "Birchwood Crossing", "Timber Ridge", "E 23rd Street", "Sycamore Bend",
	"Pelican Cove", "Canyon View Dr", "Ironwood Way", "Mission Pl", "Copperfield Ln",
	"S Harrison Avenue", "Wildflower Path", "Bluebonnet Square", "Heron Landing", "Sandpiper Point",
	"NE Glisan St", "Old Post Road", "Chapel Hill Rd", "Tamarack Pike", "Willow Springs Blvd",
}

var otherUnits = []string{"Apt 4B", "Unit 12", "#305", "Suite 210", "Apt. 7", "Ste 3", "Unit C", "Apt 1102"}

var otherCities = []struct{ city, state, zip string }{
	{"Salt Lake City", "UT", "84101"}, {"St. Louis", "MO", "63101"}, {"Winston-Salem", "NC", "27101"},
	{"Coeur d'Alene", "ID", "83814"}, {"Sioux Falls", "SD", "57104"}, {"Baton Rouge", "LA", "70801"},
	{"Cedar Rapids", "IA", "52401"}, {"Weberburgh", "HI", "29922"}, {"Port St. Lucie", "FL", "34952"},
	{"Las Cruces", "NM", "88001"}, {"Bowling Green", "KY", "42101"}, {"Burlington", "VT", "05401"},
	{"Portland", "ME", "04101"}, {"Wilmington", "DE", "19801"}, {"Billings", "MT", "59101"},
	{"Cheyenne", "WY", "82001"}, {"Anchorage", "AK", "99501"}, {"Fargo", "ND", "58102"},
	{"Providence", "RI", "02903"}, {"Manchester", "NH", "03101"}, {"Little Rock", "AR", "72201"},
	{"Hartford", "CT", "06103"}, {"Birmingham", "AL", "35203"}, {"Reno", "NV", "89501"},
	{"Savannah", "GA", "31401"}, {"Chattanooga", "TN", "37402"}, {"Topeka", "KS", "66603"},
	{"Pueblo", "CO", "81003"}, {"Laredo", "TX", "78040"}, {"West Valley City", "UT", "84119"},
}

// otherBanks are the institutions of the second generator, with the web address their
// statements print.
var otherBanks = []struct{ name, web string }{
	{"Granite Peak Federal Credit Union", "granitepeakfcu.org"},
	{"Tidewater Bank & Trust", "tidewaterbank.com"},
	{"Copper Valley Savings Bank", "coppervalley.com"},
	{"Northwind Bank", "northwindbank.com"},
	{"Evergreen Members Credit Union", "evergreenmembers.org"},
	{"Bluestem National Bank", "bluestem.bank"},
	{"Keystone Heritage Bank", "keystoneheritage.com"},
	{"Sierra Vista Community Bank", "sierravistacb.com"},
}

var otherLenders = []string{"Summit Home Lending LLC", "Beacon Mortgage Corp", "Prairie Sky Home Loans Inc", "Harborline Mortgage Company"}

var otherEmployers = []string{"Copper Mills Inc", "Tri-County Hospital", "Westlake Unified Schools", "Orion Aerospace LLC", "Redfern Construction Co", "City of Laredo"}

var otherStaffTitles = []string{"Deposit Operations Specialist", "Branch Manager", "Personal Banker", "Assistant Vice President", "Loan Processor", "Member Services Representative"}

// otherTx are transaction descriptions; %s is a long reference number that must never be read
// as an account.
var otherTx = []string{
	"POS Purchase - Corner Market - %s", "ACH Credit PAYROLL COPPER MILLS ID %s",
	"Online Transfer to Savings XXXXXX%s", "Recurring Card Purchase STREAMFLIX %s",
	"ATM Withdrawal 4410 N MAIN ST %s", "Mobile Deposit Ref %s", "Bill Pay ELECTRIC COOP Conf %s",
	"Zelle to J SMITH on 03/11 Ref # %s", "Check %s", "Debit Card Purchase FUEL N GO %s",
	"Wire Transfer In FED REF %s", "Interest Earned",
}

// otherPhones are the shapes of phone numbers in the second generator.
var otherPhones = []string{
	"(%03d) %03d-%04d", "%03d.%03d.%04d", "+1 %03d %03d %04d", "%03d-%03d-%04d",
	"1 (%03d) %03d-%04d", "%03d %03d %04d", "+1-%03d-%03d-%04d", "(%03d)%03d-%04d",
}

// otherPhone is a phone number in one of the shapes of the second generator.
func otherPhone(r *rand.Rand) string {
	a, b, c := personalAreaCode(201+r.IntN(780)), 201+r.IntN(780), r.IntN(10000)
	return fmt.Sprintf(pick(r, otherPhones), a, b, c)
}

// tollFree is a bank's service number.
func tollFree(r *rand.Rand) string {
	p := pick(r, []string{"800", "888", "877", "866", "855"})
	return fmt.Sprintf(pick(r, []string{"1-%s-%03d-%04d", "%s.%03d.%04d", "(%s) %03d-%04d"}), p, 200+r.IntN(799), r.IntN(10000))
}

func otherPerson(r *rand.Rand, last string) person {
	p := person{first: pick(r, otherFirstNames), last: last}
	if p.last == "" {
		p.last = pick(r, otherLastNames)
	}
	switch r.IntN(5) {
	case 0, 1:
		p.middle = string(rune('A' + r.IntN(26)))
	case 2:
		p.middle = pick(r, otherMiddleNames)
	}
	if r.IntN(10) == 0 {
		p.suffix = pick(r, []string{"Jr.", "II"})
	}
	return p
}

// otherName is how the second generator writes a person in running text: a full middle name
// is written out, an initial gets a period.
func (p person) otherName() string {
	n := p.first + " " + p.last
	if len(p.middle) == 1 {
		n = p.first + " " + p.middle + ". " + p.last
	} else if p.middle != "" {
		n = p.first + " " + p.middle + " " + p.last
	}
	if p.suffix != "" {
		n += " " + p.suffix
	}
	return n
}

// otherLastFirst is "ROSALEZ, ALEJANDRO M" as a core system prints it.
func (p person) otherLastFirst() string {
	n := p.last + ", " + p.first
	if p.middle != "" {
		n += " " + p.middle[:1]
	}
	return strings.ToUpper(n)
}

func otherAddress(r *rand.Rand) address {
	c := otherCities[r.IntN(len(otherCities))]
	street := fmt.Sprintf("%d %s", 1+r.IntN(19999), pick(r, otherStreets))
	if r.IntN(4) == 0 {
		street += " " + pick(r, otherUnits)
	}
	zip := c.zip
	if r.IntN(3) == 0 {
		zip += "-" + fmt.Sprintf("%04d", r.IntN(10000))
	}
	return address{street: street, city: c.city, state: c.state, zip: zip}
}

// otherAccountNumber is a deposit or loan number in the second generator's formats.
func otherAccountNumber(r *rand.Rand, loan bool) string {
	if loan {
		switch r.IntN(3) {
		case 0:
			return "00" + randDigits(r, 8)
		case 1:
			return fmt.Sprintf("%s-%s-%s", randDigits(r, 4), randDigits(r, 3), randDigits(r, 3))
		default:
			return randDigits(r, 9)
		}
	}
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("%s %s %s", randDigits(r, 4), randDigits(r, 4), randDigits(r, 4))
	case 1:
		return randDigits(r, 10)
	case 2:
		return "000" + randDigits(r, 9)
	case 3:
		return fmt.Sprintf("%s-%s-%s", randDigits(r, 3), randDigits(r, 6), randDigits(r, 1))
	default:
		return fmt.Sprintf("%s-%s", randDigits(r, 2), randDigits(r, 8))
	}
}
