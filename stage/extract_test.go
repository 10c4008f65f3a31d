package stage

import (
	"slices"
	"testing"
)

func TestRelatedPages(t *testing.T) {
	doc := func(n int, blank []int, failed ...int) []PageText {
		out := make([]PageText, n)
		for i := range out {
			out[i] = PageText{Page: i, Text: "text"}
		}
		for _, i := range blank {
			out[i] = PageText{Page: i, Blank: true}
		}
		for _, i := range failed {
			out[i] = PageText{Page: i, Error: "cannot draw it"}
		}
		return out
	}
	upTo := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out
	}
	tests := []struct {
		name string
		doc  []PageText
		page int
		want []int
	}{
		{"one page", doc(1, nil), 0, nil},
		{"nearest first, the one before first", doc(5, nil), 2, []int{1, 3, 0, 4}},
		{"the first page", doc(4, nil), 0, []int{1, 2, 3}},
		{"the last page", doc(4, nil), 3, []int{2, 1, 0}},
		{"no blank or quarantined page", doc(6, []int{1}, 3), 2, []int{0, 4, 5}},
		{"at most MaxRelated", doc(40, nil), 0, upTo(MaxRelated)},
		{"at most MaxRelated, on both sides", doc(40, nil), 20, []int{19, 21, 18, 22, 17, 23, 16, 24, 15, 25, 14, 26}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, pt := range RelatedPages(tt.doc, tt.page) {
				got = append(got, pt.Page)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("RelatedPages(page %d) = %v, want %v", tt.page, got, tt.want)
			}
		})
	}
}
