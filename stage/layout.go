package stage

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// Both sources of page text (a PDF's text layer and Tesseract) are turned into the same
// layout text: one line per visual row of the page, read left to right, with cells that stand
// apart on the page separated by CellSep. Labels and their values ("Loan No." ... "0080557986")
// then stay on one line whatever order the PDF drew them in, and a table row stays a row.

// CellSep separates cells of one row in layout text.
const CellSep = "   "

// Span is a run of text with its box on the page, in any unit (points or pixels) as long as
// one page uses one.
type Span struct {
	X0, Y0, X1, Y1 float64
	Text           string
}

func (s Span) h() float64  { return s.Y1 - s.Y0 }
func (s Span) cy() float64 { return (s.Y0 + s.Y1) / 2 }

// LayoutText arranges spans into rows. Two spans share a row when their vertical
// extents overlap by at least half of the smaller one; within a row a gap wider than twice
// the row's typical height starts a new cell; a vertical gap wider than that height leaves a
// blank line.
func LayoutText(segs []Span) string {
	segs = nonEmpty(segs)
	if len(segs) == 0 {
		return ""
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].cy() < segs[j].cy() })
	var rows [][]Span
	var top, bottom float64
	for _, s := range segs {
		if n := len(rows); n > 0 {
			overlap := math.Min(bottom, s.Y1) - math.Max(top, s.Y0)
			if overlap >= 0.5*math.Min(bottom-top, s.h()) {
				rows[n-1] = append(rows[n-1], s)
				// The row's extent stays that of its tallest member, so a row cannot creep
				// downwards one small Span at a time.
				if s.h() > bottom-top {
					top, bottom = s.Y0, s.Y1
				}
				continue
			}
		}
		rows = append(rows, []Span{s})
		top, bottom = s.Y0, s.Y1
	}

	var b strings.Builder
	prevBottom := math.NaN()
	for _, row := range rows {
		sort.SliceStable(row, func(i, j int) bool { return row[i].X0 < row[j].X0 })
		h := medianHeight(row)
		rowTop := row[0].Y0
		for _, s := range row {
			rowTop = math.Min(rowTop, s.Y0)
		}
		if !math.IsNaN(prevBottom) {
			b.WriteByte('\n')
			if rowTop-prevBottom > 1.0*h {
				b.WriteByte('\n')
			}
		}
		for i, s := range row {
			if i > 0 {
				if s.X0-row[i-1].X1 > 2*h {
					b.WriteString(CellSep)
				} else {
					b.WriteByte(' ')
				}
			}
			b.WriteString(s.Text)
		}
		prevBottom = row[0].Y1
		for _, s := range row {
			prevBottom = math.Max(prevBottom, s.Y1)
		}
	}
	return b.String()
}

func nonEmpty(segs []Span) []Span {
	out := segs[:0:0]
	for _, s := range segs {
		s.Text = strings.TrimSpace(s.Text)
		if s.Text != "" && s.Y1 > s.Y0 {
			out = append(out, s)
		}
	}
	return out
}

// medianHeight is the typical text height of a row, from its spans of two or more letters or
// digits: a lone "-" or "|" or an OCR'd speck says nothing about the size of the text.
func medianHeight(row []Span) float64 {
	var hs []float64
	for _, s := range row {
		if AlnumCount(s.Text) >= 2 {
			hs = append(hs, s.h())
		}
	}
	if len(hs) == 0 {
		for _, s := range row {
			hs = append(hs, s.h())
		}
	}
	sort.Float64s(hs)
	return hs[len(hs)/2]
}

// AlnumCount counts the letters and digits of s.
func AlnumCount(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

// deskew straightens word boxes of a page scanned at a slight angle, so that words of one
// printed row land in one layout row: it measures the slope of every long OCR line (words
// grouped by line id) and shears the boxes back by the median slope.
func deskew(segs []Span, lineOf []int) []Span {
	type span struct{ first, last Span }
	lines := map[int]*span{}
	for i, s := range segs {
		l := lineOf[i]
		sp, ok := lines[l]
		if !ok {
			lines[l] = &span{s, s}
			continue
		}
		if s.X0 < sp.first.X0 {
			sp.first = s
		}
		if s.X0 > sp.last.X0 {
			sp.last = s
		}
	}
	var slopes []float64
	for _, sp := range lines {
		dx := (sp.last.X0 + sp.last.X1 - sp.first.X0 - sp.first.X1) / 2
		if dx < 20*sp.first.h() {
			continue
		}
		// Baselines are steadier than centres (descenders, capitals): use bottoms.
		slopes = append(slopes, (sp.last.Y1-sp.first.Y1)/dx)
	}
	if len(slopes) < 3 {
		return segs
	}
	sort.Float64s(slopes)
	m := slopes[len(slopes)/2]
	if math.Abs(m) < 1e-4 {
		return segs
	}
	out := make([]Span, len(segs))
	for i, s := range segs {
		shift := m * (s.X0 + s.X1) / 2
		s.Y0 -= shift
		s.Y1 -= shift
		out[i] = s
	}
	return out
}
