package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"strconv"
	"strings"
	"sync"

	"github.com/otiai10/gosseract/v2"
)

// OCREngine reads the text of a rendered page. It is C code (Tesseract) behind a small
// interface so that it can move into a supervised worker process without touching the stages.
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
	for _, w := range p.Words {
		w.Text = strings.Trim(w.Text, strayMarks)
		if alnumCount(w.Text) == 0 && (w.Confidence < 60 || strings.Trim(w.Text, ".,:;'-_~") == "") {
			continue
		}
		spans = append(spans, w.Span)
		lines = append(lines, w.Line)
		spans[len(spans)-1].Text = w.Text
	}
	return layoutText(deskew(spans, lines))
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

// Tesseract is the OCR engine through gosseract. It keeps a pool of clients, one per page
// being read at a time: a Tesseract client is never used by two goroutines at once. Its size
// is the page parallelism; Tesseract's own OpenMP threading must be off
// (OMP_THREAD_LIMIT=1, set before the process starts) because we parallelise by page.
type Tesseract struct {
	lang    string
	version string
	free    chan *gosseract.Client
	mu      sync.Mutex // serialises client creation: gosseract's Init swaps the process's stderr
	made    int
	max     int
}

// NewTesseract returns an engine for lang ("eng", "eng+spa") with up to size clients. It
// fails at once when Tesseract or the language data is missing.
func NewTesseract(lang string, size int) (*Tesseract, error) {
	if size < 1 {
		size = 1
	}
	t := &Tesseract{lang: lang, max: size, free: make(chan *gosseract.Client, size)}
	c, err := t.newClient()
	if err != nil {
		return nil, err
	}
	t.version = TesseractVersion(lang)
	t.free <- c
	return t, nil
}

// Version implements OCREngine.
func (t *Tesseract) Version() string { return t.version }

// TesseractVersion is the OCR engine's part of the cache versions for lang, without
// starting an engine.
func TesseractVersion(lang string) string { return "tesseract-" + gosseract.Version() + "/" + lang }

// blankPGM is a tiny white image used to initialise a client before real work.
var blankPGM = []byte("P5\n8 8\n255\n" + string(bytes.Repeat([]byte{255}, 64)))

func (t *Tesseract) newClient() (*gosseract.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := gosseract.NewClient()
	if err := c.SetLanguage(t.lang); err != nil {
		c.Close()
		return nil, fmt.Errorf("tesseract: %w", err)
	}
	// Tesseract's chatter ("Estimating resolution as ...") is not ours to print.
	if err := c.SetVariable("debug_file", "/dev/null"); err != nil {
		c.Close()
		return nil, fmt.Errorf("tesseract: %w", err)
	}
	if err := c.SetImageFromBytes(blankPGM); err != nil {
		c.Close()
		return nil, fmt.Errorf("tesseract: %w", err)
	}
	if _, err := c.Text(); err != nil {
		c.Close()
		return nil, fmt.Errorf("tesseract: cannot start (is the %q language data installed?): %w", t.lang, err)
	}
	// The library's default is one uniform block of text (PSM 6); pages have layout, which
	// is what the tesseract command's default (PSM 3) finds. Init resets it, so set it after.
	if err := c.SetPageSegMode(gosseract.PSM_AUTO); err != nil {
		c.Close()
		return nil, fmt.Errorf("tesseract: %w", err)
	}
	t.made++
	return c, nil
}

func (t *Tesseract) acquire(ctx context.Context) (*gosseract.Client, error) {
	select {
	case c := <-t.free:
		return c, nil
	default:
	}
	t.mu.Lock()
	canMake := t.made < t.max
	t.mu.Unlock()
	if canMake {
		return t.newClient()
	}
	select {
	case c := <-t.free:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Recognize implements OCREngine.
func (t *Tesseract) Recognize(ctx context.Context, img *image.Gray, dpi int) (OCRPage, error) {
	var page OCRPage
	c, err := t.acquire(ctx)
	if err != nil {
		return page, err
	}
	defer func() { t.free <- c }()
	if err := c.SetVariable("user_defined_dpi", strconv.Itoa(dpi)); err != nil {
		return page, fmt.Errorf("tesseract: %w", err)
	}
	if err := c.SetImageFromBytes(encodePGM(img)); err != nil {
		return page, fmt.Errorf("tesseract: %w", err)
	}
	// One recognition pass gives words, boxes, line ids and confidences; asking gosseract
	// for the text as well would run the recognition a second time.
	boxes, err := c.GetBoundingBoxesVerbose()
	if err != nil {
		return page, fmt.Errorf("tesseract: %w", err)
	}
	for _, b := range boxes {
		line := b.BlockNum<<20 | b.ParNum<<10 | b.LineNum
		page.Words = append(page.Words, OCRWord{
			Span: Span{
				X0: float64(b.Box.Min.X), Y0: float64(b.Box.Min.Y),
				X1: float64(b.Box.Max.X), Y1: float64(b.Box.Max.Y), Text: b.Word,
			},
			Line:       line,
			Confidence: b.Confidence,
		})
	}
	return page, nil
}

// Close implements OCREngine. Clients in use are closed when they come back.
func (t *Tesseract) Close() error {
	for {
		select {
		case c := <-t.free:
			c.Close()
		default:
			return nil
		}
	}
}

// encodePGM writes img as a binary PGM, the cheapest format Leptonica reads from memory.
func encodePGM(img *image.Gray) []byte {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	header := fmt.Sprintf("P5\n%d %d\n255\n", w, h)
	out := make([]byte, 0, len(header)+w*h)
	out = append(out, header...)
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+w]
		out = append(out, row...)
	}
	return out
}
