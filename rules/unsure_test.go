package rules

import (
	"context"
	"reflect"
	"testing"

	"github.com/idp/idp/stage"
)

// unsurePage prints an account number, a holder and a phone after their labels.
var unsurePage = layout([]string{"Account Number:", "4401-2231-0097"}) + "\n" +
	layout([]string{"Account Holder:", "Mary Jones"}) + "\n" +
	layout([]string{"Home Phone:", "(613) 338-7829"})

func TestExtractWeighsUnsureWords(t *testing.T) {
	all := stage.Fields{stage.FieldAccountNumber: "4401-2231-0097", stage.FieldAccountHolders: []string{"Mary Jones"}, stage.FieldPhoneNumber: "(613) 338-7829"}
	tests := []struct {
		name   string
		source string
		unsure []stage.Word
		// conf is the confidence expected of a field's value; a field not named keeps the
		// rules' own.
		conf map[string]float64
	}{
		{"every word sure", stage.SourceOCR, nil, nil},
		{"an unsure label changes nothing", stage.SourceOCR, []stage.Word{{Text: "Holder:", Confidence: 20}}, nil},
		{"an unsure initial elsewhere changes nothing", stage.SourceOCR, []stage.Word{{Text: "M.", Confidence: 5}}, nil},
		{"a misread number OCR was not sure of is uncertain", stage.SourceOCR, []stage.Word{{Text: "4401-2231-0097", Confidence: 10}},
			map[string]float64{stage.FieldAccountNumber: 0.64}},
		{"a number repaired from OCR's letters and bracket", stage.SourceOCR, []stage.Word{{Text: "44O1-2231-OO9]", Confidence: 10}},
			map[string]float64{stage.FieldAccountNumber: 0.64}},
		{"a name on an unsure word", stage.SourceOCR, []stage.Word{{Text: "Jones", Confidence: 50}},
			map[string]float64{stage.FieldAccountHolders: 0.8}},
		{"the least sure word counts", stage.SourceOCR, []stage.Word{{Text: "(613)", Confidence: 80}, {Text: "338-7829", Confidence: 0}},
			map[string]float64{stage.FieldPhoneNumber: 0.6}},
		{"a word nearly sure leaves the rules' confidence", stage.SourceOCR, []stage.Word{{Text: "4401-2231-0097", Confidence: 94}}, nil},
		{"a text layer is never unsure", stage.SourceTextLayer, []stage.Word{{Text: "4401-2231-0097", Confidence: 1}}, nil},
	}
	_, sure := Read(unsurePage)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extractor{}.Extract(context.Background(), stage.ExtractInput{Text: unsurePage, Source: tt.source, Unsure: tt.unsure})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Fields, all) {
				t.Errorf("fields = %v, want %v", got.Fields, all)
			}
			for field, es := range got.Evidence {
				want := sure[field][0].Confidence
				if c, ok := tt.conf[field]; ok {
					want = c
				}
				if es[0].Confidence != want {
					t.Errorf("%s confidence = %v, want %v", field, es[0].Confidence, want)
				}
				if es[0].Confidence < stage.LowConfidence && tt.conf[field] == 0 {
					t.Errorf("%s is uncertain (%v)", field, es[0].Confidence)
				}
			}
		})
	}
}

func TestWeighUnsureDrops(t *testing.T) {
	tests := []struct {
		name   string
		unsure []stage.Word
		want   stage.Fields
		flags  int
	}{
		{"above the floor: kept", []stage.Word{{Text: "4401-2231-0097", Confidence: 60}},
			stage.Fields{stage.FieldAccountNumber: "4401-2231-0097", stage.FieldAccountHolders: []string{"Mary Jones"}, stage.FieldPhoneNumber: "(613) 338-7829"}, 0},
		{"a misread number under the floor is dropped", []stage.Word{{Text: "4401-2231-0097", Confidence: 40}},
			stage.Fields{stage.FieldAccountHolders: []string{"Mary Jones"}, stage.FieldPhoneNumber: "(613) 338-7829"}, 1},
		{"one holder of a list", []stage.Word{{Text: "Jones", Confidence: 40}},
			stage.Fields{stage.FieldAccountNumber: "4401-2231-0097", stage.FieldPhoneNumber: "(613) 338-7829"}, 1},
		{"half a phone", []stage.Word{{Text: "338-7829", Confidence: 10}},
			stage.Fields{stage.FieldAccountNumber: "4401-2231-0097", stage.FieldAccountHolders: []string{"Mary Jones"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ev := Read(unsurePage + "\n" + layout([]string{"Joint Owner:", "Paul Smith"}))
			flags := weighUnsure(f, ev, tt.unsure, 50)
			want := stage.Fields{}
			for k, v := range tt.want {
				want[k] = v
			}
			if h, ok := want[stage.FieldAccountHolders].([]string); ok {
				want[stage.FieldAccountHolders] = append(h, "Paul Smith")
			} else {
				want[stage.FieldAccountHolders] = []string{"Paul Smith"}
			}
			if !reflect.DeepEqual(f, want) {
				t.Errorf("fields = %v, want %v", f, want)
			}
			if len(flags) != tt.flags {
				t.Errorf("flags = %q, want %d", flags, tt.flags)
			}
			for field, es := range ev {
				if len(es) != len(stage.Values(f[field])) {
					t.Errorf("%s: %d values, %d evidence", field, len(stage.Values(f[field])), len(es))
				}
			}
		})
	}
}
