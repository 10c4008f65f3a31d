package stage

import (
	"context"
	"image"
	"math"
	"strings"
)

// OCREngine reads the text of a rendered page. It is C code (Tesseract), run in the worker
// processes (package worker) behind this small interface.
type OCREngine interface {
	// Recognize reads img, rendered at dpi. The words come back with boxes in pixels.
	Recognize(ctx context.Context, img *image.Gray, dpi int) (OCRPage, error)
	// Version names the engine and its language for cache versions ("tesseract-5.3.0/eng").
	Version() string
	Close() error
}

// OCRPage is what the engine read on a page.
type OCRPage struct {
	Words []OCRWord
}

// OCRWord is one recognised word; Line groups the words Tesseract put on one text line.
type OCRWord struct {
	Span
	Line       int
	Confidence float64
}

// Text lays the words out as layout text, straightening a slightly rotated scan first. Specks
// of dust come back from Tesseract as stray marks ("‘", "°", ":"), alone or stuck to a word:
// marks that are not words are dropped, and stray quote and degree marks are trimmed off
// the ends of words.
func (p OCRPage) Text() string {
	spans := make([]Span, 0, len(p.Words))
	lines := make([]int, 0, len(p.Words))
	for _, w := range p.printed() {
		spans = append(spans, w.Span)
		lines = append(lines, w.Line)
	}
	return LayoutText(deskew(spans, lines))
}

// printed is the words that are print, not specks, trimmed of stray marks, as Text lays them
// out.
func (p OCRPage) printed() []OCRWord {
	out := make([]OCRWord, 0, len(p.Words))
	for _, w := range p.Words {
		w.Text = strings.Trim(w.Text, strayMarks)
		if AlnumCount(w.Text) == 0 && (w.Confidence < 60 || strings.Trim(w.Text, ".,:;'-_~") == "") {
			continue
		}
		out = append(out, w)
	}
	return out
}

// UnsureWord is the word confidence (0-100) under which a word of an OCR'd page is listed in
// PageText.Unsure. It is generous: the extractor decides what is too unsure to keep.
const UnsureWord = 95

// Unsure lists the words of Text that have letters or digits and a confidence under
// UnsureWord, in reading order of Tesseract.
func (p OCRPage) Unsure() []Word {
	var out []Word
	for _, w := range p.printed() {
		if w.Confidence < UnsureWord && AlnumCount(w.Text) > 0 {
			out = append(out, Word{Text: w.Text, Confidence: math.Round(w.Confidence*10) / 10})
		}
	}
	return out
}

// strayMarks are characters that at the edge of an OCR'd word are noise, not print.
const strayMarks = "‘’`´°~^*«»“”„_"

// Confidence is the mean word confidence (0-100) weighted by word length; 0 with no words.
func (p OCRPage) Confidence() float64 {
	var sum, n float64
	for _, w := range p.Words {
		l := float64(len([]rune(w.Text)))
		sum += w.Confidence * l
		n += l
	}
	if n == 0 {
		return 0
	}
	return sum / n
}
