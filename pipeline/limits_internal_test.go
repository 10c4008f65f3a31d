package pipeline

import "testing"

func TestFitDPI(t *testing.T) {
	const maxPixels = 60_000_000
	tests := []struct {
		name    string
		w, h    float64 // inches
		dpi     int
		want    int
		wantFit bool
	}{
		{"Letter at 300 dpi fits", 8.5, 11, 300, 300, true},
		{"30 x 30 in: the highest dpi under 60 million pixels", 30, 30, 300, 258, true},
		{"40 x 40 in: 193 dpi", 40, 40, 300, 193, true},
		{"52 x 52 in: 148 dpi, under the floor", 52, 52, 300, 0, false},
		{"200 x 200 in", 200, 200, 300, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := fitDPI(tt.w, tt.h, tt.dpi, 150, maxPixels)
			if got != tt.want || ok != tt.wantFit {
				t.Errorf("fitDPI = %d, %v; want %d, %v", got, ok, tt.want, tt.wantFit)
			}
			if ok && tt.w*tt.h*float64(got*got) > maxPixels {
				t.Errorf("%d dpi makes %.0f pixels", got, tt.w*tt.h*float64(got*got))
			}
		})
	}
}
