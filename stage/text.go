package stage

import (
	"context"
	"fmt"
	"unicode"
)

// PageText is stage 1's answer for one page.
type PageText struct {
	Page       int     `json:"page"`
	Text       string  `json:"text"`
	Source     string  `json:"source"`
	Confidence float64 `json:"confidence"`
	Width      float64 `json:"width"`
	Height     float64 `json:"height"`
	// Why the source was chosen ("text layer: 1234 characters", "no text layer").
	Reason string `json:"reason,omitempty"`
	// Blank: the page was rendered for OCR and has nothing printed on it (Blank); Tesseract
	// did not run and Text is empty.
	Blank bool `json:"blank,omitempty"`
	// Error says why the page could not be read (a PageError's reason); Text is then empty
	// and the page is quarantined: the rest of its document goes on without it.
	Error string `json:"error,omitempty"`
	// Unsure lists the words of an OCR'd page that Tesseract was less than UnsureWord sure
	// of, as they appear in Text: a value built on one may be misread. A text layer has none.
	Unsure []Word `json:"unsure,omitempty"`
}

// Word is one word of a page's text with Tesseract's confidence in it (0-100).
type Word struct {
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
}

// Where a page's text came from.
const (
	SourceTextLayer = "text_layer"
	SourceOCR       = "ocr"
)

// The text-layer rule. A page keeps its embedded text when all of these hold:
//   - it has at least minTextLayerChars letters and digits (a page number or a fax header
//     alone is not a page's text);
//   - at least 90% of its visible characters are letters, digits, punctuation or symbols
//     people type (a font without a usable Unicode map comes out as U+FFFD, control or
//     private-use characters);
//   - it is not a scan: when images cover more than half of the page, the text must be
//     substantial (denseTextChars letters and digits), as an OCR'd scan's invisible layer
//     is; a few words stamped over a scanned image are not the page.
//
// Every other page is rendered and read by Tesseract.
const (
	minTextLayerChars = 24
	denseTextChars    = 300
	// TextLayerVersion names this rule and the layout text for stage 1's cache version.
	TextLayerVersion = "textrule/1;layout/2"
)

// JudgeTextLayer applies the text-layer rule to a page's layout text and the share of the page
// its images cover, and says why.
func JudgeTextLayer(text string, imageCoverage float64) (bool, string) {
	alnum, visible, bad := 0, 0, 0
	for _, r := range text {
		switch {
		case unicode.IsSpace(r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			alnum++
		case r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.Is(unicode.Co, r):
			bad++
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
		default:
			bad++
		}
		visible++
	}
	switch {
	case alnum < minTextLayerChars:
		return false, fmt.Sprintf("text layer has %d letters and digits (< %d)", alnum, minTextLayerChars)
	case bad*10 > visible:
		return false, fmt.Sprintf("text layer is garbled (%d of %d characters unreadable)", bad, visible)
	case imageCoverage > 0.5 && alnum < denseTextChars:
		return false, fmt.Sprintf("images cover %.0f%% of the page and the text layer is sparse (%d letters and digits)", 100*imageCoverage, alnum)
	}
	return true, fmt.Sprintf("text layer with %d letters and digits", alnum)
}

// ReadPage is stage 1 for one page: its text layer when usable, else Tesseract's reading of
// the page rendered at req.DPI, unless the rendered page is blank. A page that draws an image
// declared larger than req.MaxImagePixels is refused before anything is decoded. Errors of
// the page itself (MuPDF cannot load or draw it, Tesseract fails on it) are *PageError.
func ReadPage(ctx context.Context, pdf PDF, ocr OCREngine, req PageRequest) (PageText, error) {
	n := req.Page
	pt := PageText{Page: n}
	pageErr := func(err error) error { return &PageError{Page: n, Reason: err.Error(), Err: err} }
	w, h, err := pdf.PageSize(n)
	if err != nil {
		return pt, pageErr(err)
	}
	pt.Width, pt.Height = w, h
	if err := CheckImages(pdf, n, req.MaxImagePixels); err != nil {
		return pt, err
	}
	tl, err := pdf.TextLayer(n)
	if err != nil {
		return pt, pageErr(err)
	}
	text := LayoutText(tl.Spans)
	var coverage float64
	if w > 0 && h > 0 {
		coverage = min(1, tl.ImageArea/(w*h))
	}
	ok, reason := JudgeTextLayer(text, coverage)
	if ok {
		pt.Text, pt.Source, pt.Reason = text, SourceTextLayer, reason
		return pt, nil
	}
	if err := ctx.Err(); err != nil {
		return pt, err
	}
	img, err := pdf.RenderGray(n, req.DPI)
	if err != nil {
		return pt, pageErr(err)
	}
	if Blank(img, req.DPI) {
		pt.Source, pt.Blank, pt.Reason = SourceOCR, true, reason+"; blank: nothing printed, not OCR'd"
		return pt, nil
	}
	if err := ctx.Err(); err != nil {
		return pt, err
	}
	Stretch(img, req.DPI)
	res, err := ocr.Recognize(ctx, img, req.DPI)
	if err != nil {
		if ctx.Err() != nil {
			return pt, ctx.Err()
		}
		return pt, pageErr(fmt.Errorf("OCR: %w", err))
	}
	pt.Text, pt.Source, pt.Confidence, pt.Reason = res.Text(), SourceOCR, res.Confidence(), reason+"; OCR"
	pt.Unsure = res.Unsure()
	return pt, nil
}

// CheckImages refuses page n (a *PageError) when it draws an image declared larger than
// maxPixels (0: no limit), before any image is decoded: a few hundred bytes of PDF can declare
// an image of ten billion pixels, which MuPDF would try to decode.
func CheckImages(pdf PDF, n int, maxPixels int64) error {
	if maxPixels <= 0 {
		return nil
	}
	w, h, err := pdf.LargestImage(n)
	if err != nil {
		return &PageError{Page: n, Reason: err.Error(), Err: err}
	}
	if w*h > float64(maxPixels) {
		return &PageError{Page: n, Reason: fmt.Sprintf("it draws an image of %.0f x %.0f pixels (%.0f million); the limit is %.0f million (--max-image-pixels)",
			w, h, w*h/1e6, float64(maxPixels)/1e6)}
	}
	return nil
}
