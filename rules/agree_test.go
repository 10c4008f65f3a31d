package rules

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/idp/idp/stage"
)

// card prints holders, an address and a phone after their labels, as an account card does.
func card(holders, address, phone string) string {
	return layout([]string{"Account Holder:", holders}) + "\n" +
		layout([]string{"Address:", address}) + "\n" +
		layout([]string{"Home Phone:", phone})
}

func ocrPage(n int, text string, unsure ...stage.Word) stage.PageText {
	return stage.PageText{Page: n, Text: text, Source: stage.SourceOCR, Unsure: unsure}
}

func TestExtractAgreesAcrossPages(t *testing.T) {
	const (
		right   = "10666 Timber Ridge Unit 12, Baton Rouge, LA 70801"
		misread = "40666 Timber Ridge Unit 12, Baton Rouge, LA 70801"
		upper   = "10666 TIMBER RIDGE UNIT 12, BATON ROUGE, LA 70801"
		other   = "2231 Lakeview Drive, Springfield, IL 62704"
		phone   = "(613) 338-7829"
		phone2  = "(613) 338-7826"
		// streetMisread is streetRight with its house number misread.
		streetMisread = "43495 Harbor View Ter Apt 4B"
		streetRight   = "13495 Harbor View Ter Apt 4B"
	)
	page := card("Maria Gonzalez", misread, phone)
	tests := []struct {
		name    string
		text    string
		source  string
		unsure  []stage.Word
		related []stage.PageText
		// want are the fields expected to differ from what the page alone reads; conf the
		// confidence expected of a field (the rules' own when not named).
		want  stage.Fields
		conf  map[string]float64
		flags int
	}{
		{name: "no related pages", text: page},
		{name: "related pages agree", text: page, related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", misread, phone))}},
		{name: "another address is another value", text: page, related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", other, phone))}},
		{name: "read otherwise on two pages: the majority's reading, in the page's case", text: page,
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", upper, phone)), ocrPage(3, card("Maria Gonzalez", right, phone))},
			want:    stage.Fields{stage.FieldAddress: right}, flags: 1},
		{name: "the page is the majority", text: page,
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", misread, phone)), ocrPage(3, card("Maria Gonzalez", right, phone))}},
		{name: "one against one, OCR less sure here: theirs, uncertain", text: page, unsure: []stage.Word{{Text: "40666", Confidence: 83}},
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", right, phone))},
			want:    stage.Fields{stage.FieldAddress: right}, conf: map[string]float64{stage.FieldAddress: tieConfidence}, flags: 1},
		{name: "one against one, OCR less sure there: the page's, uncertain", text: page,
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", right, phone), stage.Word{Text: "10666", Confidence: 70})},
			conf:    map[string]float64{stage.FieldAddress: tieConfidence}, flags: 1},
		{name: "one against one, the page's read on a text layer too", text: page,
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", right, phone)), {Page: 3, Text: card("Maria Gonzalez", misread, phone), Source: stage.SourceTextLayer},
				ocrPage(4, card("Maria Gonzalez", right, phone))}},
		{name: "one against one, as sure: uncertain", text: page,
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", right, phone))},
			conf:    map[string]float64{stage.FieldAddress: undecidedConfidence}, flags: 1},
		{name: "one against one, a few points apart", text: page, unsure: []stage.Word{{Text: "40666", Confidence: 90}},
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", right, phone), stage.Word{Text: "10666,", Confidence: 93})},
			want:    stage.Fields{stage.FieldAddress: right}, conf: map[string]float64{stage.FieldAddress: tieConfidence}, flags: 1},
		{name: "one against one, as unsure: uncertain", text: page, unsure: []stage.Word{{Text: "40666", Confidence: 90}},
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", right, phone), stage.Word{Text: "10666,", Confidence: 90})},
			conf:    map[string]float64{stage.FieldAddress: undecidedConfidence}, flags: 1},
		{name: "one against a text layer", text: page,
			related: []stage.PageText{{Page: 2, Text: card("Maria Gonzalez", right, phone), Source: stage.SourceTextLayer}},
			want:    stage.Fields{stage.FieldAddress: right}, flags: 1},
		{name: "a text layer is not checked", text: page, source: stage.SourceTextLayer,
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", right, phone)), ocrPage(3, card("Maria Gonzalez", right, phone))}},
		{name: "the street line printed on a page that reads no address, OCR surer there", text: card("Maria Gonzalez", streetMisread+", Savannah, GA 31401", phone),
			unsure:  []stage.Word{{Text: "43495", Confidence: 72}},
			related: []stage.PageText{ocrPage(5, layout([]string{"Checking", streetRight, "$2,785.05"}), stage.Word{Text: "13495", Confidence: 77})},
			want:    stage.Fields{stage.FieldAddress: streetRight + ", Savannah, GA 31401"}, conf: map[string]float64{stage.FieldAddress: tieConfidence}, flags: 1},
		{name: "the street line printed twice more on the page itself", text: card("Maria Gonzalez", streetMisread+", Savannah, GA 31401", phone) + "\n" +
			layout([]string{"Co-applicant", streetRight}) + "\n" + layout([]string{"Mailing", streetRight}),
			related: []stage.PageText{ocrPage(5, layout([]string{"Checking", "$2,785.05"}))},
			want:    stage.Fields{stage.FieldAddress: streetRight + ", Savannah, GA 31401"}, flags: 1},
		{name: "another house number on the street is another address", text: card("Maria Gonzalez", streetMisread+", Savannah, GA 31401", phone),
			unsure:  []stage.Word{{Text: "43495", Confidence: 72}},
			related: []stage.PageText{ocrPage(5, layout([]string{"Checking", "13858 Harbor View Ter Apt 4B", "$2,785.05"}))}},
		{name: "a house two digits down the street is another address", text: card("Maria Gonzalez", streetMisread+", Savannah, GA 31401", phone),
			unsure:  []stage.Word{{Text: "43495", Confidence: 72}},
			related: []stage.PageText{ocrPage(5, layout([]string{"Checking", "41415 Harbor View Ter Apt 4B", "$2,785.05"}))}},
		{name: "a street the rules mended is not outvoted by its own printing", text: card("Maria Gonzalez", "14616 Mission PI, Bowling Green, KY 42101", phone),
			related: []stage.PageText{ocrPage(5, layout([]string{"Checking", "$2,785.05"}))}},
		{name: "a phone a digit off", text: page,
			related: []stage.PageText{ocrPage(2, card("Maria Gonzalez", misread, phone2)), ocrPage(3, card("Maria Gonzalez", misread, phone2))},
			want:    stage.Fields{stage.FieldPhoneNumber: phone2}, flags: 1},
		{name: "a last name a letter off", text: card("Maria Gonzalez", other, phone),
			related: []stage.PageText{ocrPage(2, card("Maria Gonzales", other, phone)), ocrPage(3, card("MARIA GONZALES", other, phone))},
			want:    stage.Fields{stage.FieldAccountHolders: []string{"Maria Gonzales"}}, flags: 1},
		{name: "a name OCR spaced otherwise", text: card("CORMAC B GALLAGH ER", other, phone),
			related: []stage.PageText{ocrPage(2, card("Cormac B. Gallagher", other, phone)), ocrPage(3, card("Cormac B. Gallagher", other, phone))},
			want:    stage.Fields{stage.FieldAccountHolders: []string{"CORMAC B. GALLAGHER"}}, flags: 1},
		{name: "a first name a letter off is another person", text: card("Mario Rossi", other, phone),
			related: []stage.PageText{ocrPage(2, card("Maria Rossi", other, phone)), ocrPage(3, card("Maria Rossi", other, phone))}},
		{name: "Jr and Sr are two people", text: card("Paul Hart Jr", other, phone),
			related: []stage.PageText{ocrPage(2, card("Paul Hart Sr", other, phone)), ocrPage(3, card("Paul Hart Sr", other, phone))}},
		{name: "two names a page gives both of are two people", text: card("Ann Hansen", other, phone),
			related: []stage.PageText{ocrPage(2, card("Ann Hanson", other, phone)), ocrPage(3, card("Ann Hanson and Ann Hansen", other, phone)), ocrPage(4, card("Ann Hanson", other, phone))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source := tt.source
			if source == "" {
				source = stage.SourceOCR
			}
			alone, aloneEv := Read(tt.text)
			got, err := Extractor{}.Extract(context.Background(), stage.ExtractInput{Text: tt.text, Source: source, Unsure: tt.unsure, Related: tt.related})
			if err != nil {
				t.Fatal(err)
			}
			want := stage.Fields{}
			for k, v := range alone {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			if !reflect.DeepEqual(got.Fields, want) {
				t.Errorf("fields = %v, want %v", got.Fields, want)
			}
			for field, es := range got.Evidence {
				for i, e := range es {
					if vs := stage.Values(got.Fields[field]); e.Value != vs[i] {
						t.Errorf("%s evidence is for %q, the value is %q", field, e.Value, vs[i])
					}
					wantConf := aloneEv[field][i].Confidence
					if c, ok := tt.conf[field]; ok {
						wantConf = c
					}
					if _, named := tt.conf[field]; (named || len(tt.unsure) == 0) && e.Confidence != wantConf {
						t.Errorf("%s confidence = %v, want %v", field, e.Confidence, wantConf)
					}
				}
			}
			if len(got.Flags) != tt.flags {
				t.Errorf("flags = %q, want %d", got.Flags, tt.flags)
			}
			for _, f := range got.Flags {
				// A flag says what the page read and where it was read otherwise.
				if !strings.Contains(f, "page") || !strings.Contains(f, `"`) {
					t.Errorf("flag %q does not say what was read where", f)
				}
			}
		})
	}
}

func TestSameValue(t *testing.T) {
	tests := []struct {
		field, a, b string
		want        bool
	}{
		{stage.FieldAddress, "10666timberridgeunit12batonrougela70801", "40666timberridgeunit12batonrougela70801", true},
		{stage.FieldAddress, "10666timberridgeunit12batonrougela70801", "10666timberridgeunit12batonrougela708019069", false}, // ZIP+4
		{stage.FieldAddress, "10666timberridgeunit12batonrougela70801", "10666timberridgebatonrougela70801", false},           // no unit
		{stage.FieldAddress, "12oakstla70801", "13oakstla70801", false},                                                       // too short to tell
		{stage.FieldAddress, "5749oakhollowbillingsmt59101", "5781oakhollowbillingsmt59101", false},                           // a house down the street
		{stage.FieldAddress, "5749oakhollowbillingsmt59101", "5749oakho11owbillingsmt59101", false},                           // two digits for letters
		{stage.FieldAddress, "18391missionplrenonv89501", "18391missionpirenonv89501", true},
		{stage.FieldPhoneNumber, "6133387829", "6133387826", true},
		{stage.FieldPhoneNumber, "6133387829", "6133387811", false},
		{stage.FieldPhoneNumber, "3387829", "3387826", false}, // not a whole number
		{stage.FieldAccountHolders, "cormac b gallagh er", "cormac b gallagher", true},
		{stage.FieldAccountHolders, "maria gonzalez", "maria gonzales", true},
		{stage.FieldAccountHolders, "maria rossi", "mario rossi", false},
		{stage.FieldAccountHolders, "paul hart jr", "paul hart sr", false},
		{stage.FieldAccountHolders, "paul hart", "paul hart ii", false},
		{stage.FieldAccountHolders, "samuel g taylor", "samuel c taylor", false},  // an initial
		{stage.FieldAccountHolders, "jamal rasmussen", "jamal rasrnussen", false}, // two edits
		{stage.FieldAccountHolders, "ann lee", "ann lea", false},                  // a last name too short to tell
	}
	for _, tt := range tests {
		if got := sameValue(tt.field, tt.a, tt.b); got != tt.want {
			t.Errorf("sameValue(%s, %q, %q) = %v, want %v", tt.field, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMend(t *testing.T) {
	tests := []struct{ mine, theirs, want string }{
		{"40666 Timber Ridge Unit 12, Baton Rouge, LA", "10666 TIMBER RIDGE UNIT 12, BATON ROUGE, LA", "10666 Timber Ridge Unit 12, Baton Rouge, LA"},
		{"4643 W ELM ST APT 4B", "4643 W Elm St Apt 48", "4643 W ELM ST APT 48"},
		{"14616 Mission Pi", "14616 Mission PL", "14616 Mission Pl"},
		{"Maria Gonzalez", "MARIA GONZALES", "Maria Gonzales"},
		{"CORMAC B GALLAGH ER", "Cormac B. Gallagher", "CORMAC B. GALLAGHER"}, // other words: theirs, in the page's case
		{"(613) 338-7829", "613-338-7826", "(613) 338-7826"},
	}
	for _, tt := range tests {
		if got := mend(tt.mine, tt.theirs); got != tt.want {
			t.Errorf("mend(%q, %q) = %q, want %q", tt.mine, tt.theirs, got, tt.want)
		}
	}
}

func TestCleanNameSuffix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Jamal Rasmussen ||", "Jamal Rasmussen II"},
		{"Jamal Rasmussen Il", "Jamal Rasmussen II"},
		{"Jamal Rasmussen |", "Jamal Rasmussen"},
		{"Jamal Rasmussen", "Jamal Rasmussen"},
		{"Mei Louise Whitfield I", "Mei Louise Whitfield II"},
		{"WHITFIELD MEI I", "WHITFIELD MEI I"}, // last name first in capitals: an initial
		{"Mei I Whitfield", "Mei I Whitfield"},
	}
	for _, tt := range tests {
		if got := CleanName(tt.in); got != tt.want {
			t.Errorf("CleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSuffixWithL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"PI", "Pl"},
		{"BIvd", "Blvd"},
		{"BIVD", "BLVD"},
		{"AIy", "Aly"},
		{"Pl", "Pl"},
		{"Blvd", "Blvd"},
		{"Isle", "Isle"}, // a suffix with an I of its own
		{"IS", "IS"},     // Is(land), not ls
		{"Ironwood", "Ironwood"},
		{"II", "II"},
	}
	for _, tt := range tests {
		if got := suffixWithL(tt.in); got != tt.want {
			t.Errorf("suffixWithL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
