package stage

import (
	"math"
	"strings"
	"testing"
)

func TestLayoutText(t *testing.T) {
	tests := []struct {
		name  string
		spans []Span
		want  string
	}{
		{"empty", nil, ""},
		{"label and value far apart share a row", []Span{
			{X0: 200, Y0: 100, X1: 260, Y1: 110, Text: "0080557986"},
			{X0: 54, Y0: 100.5, X1: 94, Y1: 110.5, Text: "Loan No."},
		}, "Loan No." + CellSep + "0080557986"},
		{"near words join with a space", []Span{
			{X0: 10, Y0: 0, X1: 40, Y1: 10, Text: "Account"},
			{X0: 43, Y0: 0, X1: 80, Y1: 10, Text: "Number:"},
		}, "Account Number:"},
		{"rows in reading order, a gap leaves a blank line", []Span{
			{X0: 10, Y0: 40, X1: 50, Y1: 50, Text: "third"},
			{X0: 10, Y0: 0, X1: 50, Y1: 10, Text: "first"},
			{X0: 10, Y0: 12, X1: 50, Y1: 22, Text: "second"},
		}, "first\nsecond\n\nthird"},
		{"blank text is dropped", []Span{{X0: 1, Y0: 1, X1: 2, Y1: 9, Text: "  "}, {X0: 1, Y0: 1, X1: 9, Y1: 9, Text: "x"}}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LayoutText(tt.spans); got != tt.want {
				t.Errorf("layout = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDeskewKeepsRowsOfATiltedScan(t *testing.T) {
	// A page turned by 1.2 degrees: words of one printed row drift downwards to the right by
	// more than half their height, so without deskewing the label and its value far to the
	// right fall into different rows.
	slope := math.Tan(1.2 * math.Pi / 180)
	var spans []Span
	var lines []int
	word := func(x, y float64, text string, line int) {
		dy := slope * x
		spans = append(spans, Span{X0: x, Y0: y + dy, X1: x + 100, Y1: y + dy + 30, Text: text})
		lines = append(lines, line)
	}
	for i := range 5 {
		y := 200 + float64(i)*60
		word(100, y, "Label", i)
		word(210, y, "words", i)
		word(1500, y, "value", i)
	}
	if got := LayoutText(spans); got == LayoutText(deskew(spans, lines)) {
		t.Fatalf("the tilt did not matter; the test needs a stronger one:\n%s", got)
	}
	want := "Label words" + CellSep + "value"
	got := LayoutText(deskew(spans, lines))
	for _, line := range strings.Split(got, "\n") {
		if line != "" && line != want {
			t.Errorf("row %q, want %q\n%s", line, want, got)
		}
	}
}

func TestJudgeTextLayer(t *testing.T) {
	long := "Account Number: 4401-2231-0097 Statement Period 01/01/2024 - 01/31/2024 MARIA GONZALEZ"
	tests := []struct {
		name     string
		text     string
		coverage float64
		want     bool
	}{
		{"born-digital page", long, 0, true},
		{"no text", "", 0, false},
		{"a page number only", "Page 3 of 10", 0, false},
		{"garbled font", "\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd" + long[:30] + "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd", 0, false},
		{"a stamp over a scan", long, 0.98, false},
		{"an OCR'd scan's dense layer", long + long + long + long + long, 0.98, true},
		{"a logo beside real text", long, 0.1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := JudgeTextLayer(tt.text, tt.coverage)
			if got != tt.want {
				t.Errorf("usable = %v (%s), want %v", got, why, tt.want)
			}
		})
	}
}
