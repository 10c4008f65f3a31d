// Package tesseract is the Tesseract OCR engine through gosseract (cgo). It implements
// stage.OCREngine and imports nothing of idp but stage.
package tesseract

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"strconv"
	"sync"

	"github.com/otiai10/gosseract/v2"

	"github.com/idp/idp/stage"
)

// Engine is the OCR engine through gosseract. It keeps a pool of clients, one per page
// being read at a time: a Tesseract client is never used by two goroutines at once. Its size
// is the page parallelism; Tesseract's own OpenMP threading must be off
// (OMP_THREAD_LIMIT=1, set before the process starts) because we parallelise by page.
type Engine struct {
	lang    string
	version string
	free    chan *gosseract.Client
	mu      sync.Mutex // serialises client creation: gosseract's Init swaps the process's stderr
	made    int
	max     int
}

var _ stage.OCREngine = (*Engine)(nil)

// New returns an engine for lang ("eng", "eng+spa") with up to size clients. It fails at
// once when Tesseract or the language data is missing.
func New(lang string, size int) (*Engine, error) {
	if size < 1 {
		size = 1
	}
	t := &Engine{lang: lang, max: size, free: make(chan *gosseract.Client, size)}
	c, err := t.newClient()
	if err != nil {
		return nil, err
	}
	t.version = Version(lang)
	t.free <- c
	return t, nil
}

// Version implements stage.OCREngine.
func (t *Engine) Version() string { return t.version }

// Version is the OCR engine's part of the cache versions for lang, without starting an
// engine.
func Version(lang string) string { return "tesseract-" + gosseract.Version() + "/" + lang }

// blankPGM is a tiny white image used to initialise a client before real work.
var blankPGM = []byte("P5\n8 8\n255\n" + string(bytes.Repeat([]byte{255}, 64)))

func (t *Engine) newClient() (*gosseract.Client, error) {
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

func (t *Engine) acquire(ctx context.Context) (*gosseract.Client, error) {
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

// Recognize implements stage.OCREngine.
func (t *Engine) Recognize(ctx context.Context, img *image.Gray, dpi int) (stage.OCRPage, error) {
	var page stage.OCRPage
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
		page.Words = append(page.Words, stage.OCRWord{
			Span: stage.Span{
				X0: float64(b.Box.Min.X), Y0: float64(b.Box.Min.Y),
				X1: float64(b.Box.Max.X), Y1: float64(b.Box.Max.Y), Text: b.Word,
			},
			Line:       line,
			Confidence: b.Confidence,
		})
	}
	return page, nil
}

// Close implements stage.OCREngine. Clients in use are closed when they come back.
func (t *Engine) Close() error {
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
