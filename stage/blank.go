package stage

import (
	"bytes"
	"image"
)

// The blank-page rule. A rendered page is blank when nothing on it is print: no pixel stands
// darker than the paper around it by more than inkContrast gray levels, in a stroke at least
// a hundredth of an inch long, over an area of ink of at least one square thirtieth of an inch
// (about a small letter).
//
// The numbers come from what print and paper are, not from any test set: black print is 200
// and more levels darker than paper, a light gray (25% ink) still about 60; a scanner's noise
// is a few levels per pixel and, pixel by pixel, independent, so it does not make strokes. The
// paper level is the brightest pixel near each one (a stroke is thinner than the
// neighbourhood), so uneven exposure is not ink. The outer eighth of an inch is left out: a
// dark border is the scanner lid or the sheet's edge, and nothing prints that close to it.
// A page dark all over is not blank.
const (
	inkContrast   = 40
	strokeInches  = 0.01
	inkAreaInches = 1.0 / 30
	marginInches  = 1.0 / 8
	// BlankVersion names the rule, and the contrast stretch before OCR, for stage 1's cache
	// version.
	BlankVersion = "blank/1;stretch/1"
)

// Blank reports whether img, a page rendered at dpi, has nothing printed on it.
func Blank(img *image.Gray, dpi int) bool {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return true
	}
	// The common case first, cheaply: a page drawn white all over (bytes.Equal compares
	// rows in bulk).
	white := bytes.Repeat([]byte{0xff}, w)
	allWhite := true
	for y := 0; y < h && allWhite; y++ {
		allWhite = bytes.Equal(img.Pix[y*img.Stride:y*img.Stride+w], white)
	}
	if allWhite {
		return true
	}

	margin := int(marginInches * float64(dpi))
	if 2*margin >= w || 2*margin >= h {
		margin = 0
	}
	run := max(2, int(strokeInches*float64(dpi)+0.5))
	need := max(run*run, int(inkAreaInches*float64(dpi)*inkAreaInches*float64(dpi)+0.5))

	// The paper level: the brightest pixel of each block, then of each block's neighbours.
	const bs = 16
	bw, bh := (w+bs-1)/bs, (h+bs-1)/bs
	bmax := make([]uint8, bw*bh)
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+w]
		brow := bmax[(y/bs)*bw : (y/bs+1)*bw]
		for bx := range brow {
			m := brow[bx]
			for _, v := range row[bx*bs : min(bx*bs+bs, w)] {
				m = max(m, v)
			}
			brow[bx] = m
		}
	}
	// A page dark all over (a black sheet, a photograph) is not blank, though no stroke
	// stands out on it.
	dark := 0
	for _, m := range bmax {
		if m < 128 {
			dark++
		}
	}
	if 2*dark > len(bmax) {
		return false
	}
	paper := make([]uint8, bw*bh)
	for by := range bh {
		for bx := range bw {
			m := uint8(0)
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					x, y := bx+dx, by+dy
					if x >= 0 && y >= 0 && x < bw && y < bh && bmax[y*bw+x] > m {
						m = bmax[y*bw+x]
					}
				}
			}
			paper[by*bw+bx] = m
		}
	}

	// Ink: runs of dark pixels at least `run` long, across or down (a vertical stroke one
	// pixel wide is found down its column), counted in one pass over the rows.
	ink, limit := 0, 0
	down := make([]int, w) // the dark run ending at each column on the row above
	for y := margin; y < h-margin; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+w]
		prow := paper[(y/bs)*bw:]
		across := 0
		for x := margin; x < w-margin; x++ {
			if x%bs == 0 || x == margin {
				// A pixel is ink below this level: the paper of its block, less the contrast.
				limit = int(prow[x/bs]) - inkContrast
			}
			if int(row[x]) < limit {
				across++
				down[x]++
				continue
			}
			if across >= run {
				ink += across
			}
			if down[x] >= run {
				ink += down[x]
			}
			across, down[x] = 0, 0
		}
		if across >= run {
			ink += across
		}
		if ink >= need {
			return false
		}
	}
	for _, n := range down {
		if n >= run {
			ink += n
		}
	}
	return ink < need
}

// Stretch spreads the gray levels of a page rendered at dpi so that its darkest ink is black
// and its paper white, before Tesseract reads it. Tesseract thresholds a page with one level
// for the whole page (Otsu); on a page of faint print (a light gray line on a gray scanned
// sheet) that level falls in the paper's noise and the print is lost. Stretched, with the
// paper's noise clipped at white, the print stands apart. The ink level is that of the
// darkest inkAreaInches square of pixels (a few stray dark specks do not set it); a page with
// black print and white paper is left almost as it was.
func Stretch(img *image.Gray, dpi int) {
	var hist [256]int
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	for y := range h {
		for _, v := range img.Pix[y*img.Stride : y*img.Stride+w] {
			hist[v]++
		}
	}
	need := max(4, int(inkAreaInches*float64(dpi)*inkAreaInches*float64(dpi)+0.5))
	ink, paper, n := -1, -1, 0
	for v, c := range hist {
		n += c
		if ink < 0 && n >= need {
			ink = v
		}
		if paper < 0 && 2*n >= w*h {
			paper = v
		}
	}
	if paper-ink < inkContrast || (ink == 0 && paper == 255) {
		return
	}
	var lut [256]uint8
	for v := range lut {
		lut[v] = uint8(min(255, max(0, (v-ink)*255/(paper-ink))))
	}
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+w]
		for i, v := range row {
			row[i] = lut[v]
		}
	}
}
