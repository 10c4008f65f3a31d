package stage

import (
	"reflect"
	"testing"
)

func TestOCRPageUnsure(t *testing.T) {
	word := func(x float64, text string, conf float64) OCRWord {
		return OCRWord{Span: Span{X0: x, Y0: 0, X1: x + 40, Y1: 10, Text: text}, Confidence: conf}
	}
	tests := []struct {
		name  string
		words []OCRWord
		want  []Word
	}{
		{"all sure", []OCRWord{word(0, "Account", 96), word(50, "4401", 99)}, nil},
		{"one unsure word", []OCRWord{word(0, "Account", 96), word(50, "44O1", 61.27)}, []Word{{Text: "44O1", Confidence: 61.3}}},
		{"stray marks trimmed as in the text", []OCRWord{word(0, "‘Jones°", 40)}, []Word{{Text: "Jones", Confidence: 40}}},
		{"marks without letters or digits are not words", []OCRWord{word(0, ":", 30), word(50, "-", 80)}, nil},
		{"just under the cut", []OCRWord{word(0, "Mary", UnsureWord-0.5)}, []Word{{Text: "Mary", Confidence: UnsureWord - 0.5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (OCRPage{Words: tt.words}).Unsure(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Unsure() = %v, want %v", got, tt.want)
			}
		})
	}
}
