// Package mupdf is the MuPDF engine through go-fitz (cgo): it opens PDFs (with a password
// when they are encrypted), reads their text layer with positions, reads the declared size of
// a page's images, and renders pages in gray. It implements stage.Renderer and imports
// nothing of idp but stage. It runs in the worker processes (package worker), never in the
// server.
package mupdf

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"image"
	_ "image/jpeg" // MuPDF's HTML embeds JPEG and PNG images; their size decides coverage
	_ "image/png"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/gen2brain/go-fitz"

	"github.com/idp/idp/stage"
)

// Renderer is the MuPDF renderer through go-fitz.
type Renderer struct{}

var _ stage.Renderer = Renderer{}

// Version implements stage.Renderer.
func (Renderer) Version() string { return "mupdf-" + fitz.FzVersion }

// Open implements stage.Renderer. A PDF with only an owner password (permissions, no
// password to open it) opens without one.
func (Renderer) Open(path, password string) (stage.PDF, error) {
	d, err := fitz.New(path)
	if errors.Is(err, fitz.ErrNeedsPassword) {
		// go-fitz hands back the open document; it waits for the password.
		err = authenticate(d, password)
	}
	if err != nil {
		if d != nil {
			// go-fitz hands back the half-made document (its MuPDF context at least) on
			// failure; free it.
			d.Close()
		}
		switch {
		case errors.Is(err, stage.ErrEncrypted):
			return nil, err
		case errors.Is(err, fitz.ErrNoSuchFile):
			return nil, fmt.Errorf("open %s: %w", path, err)
		default:
			return nil, fmt.Errorf("%w (MuPDF: %v)", stage.ErrCorruptPDF, err)
		}
	}
	h, err := handlesOf(d)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &fitzPDF{d: d, h: h, pages: d.NumPage()}, nil
}

func authenticate(d *fitz.Document, password string) error {
	if password == "" {
		return stage.ErrPasswordNeeded
	}
	h, err := handlesOf(d)
	if err != nil {
		return err
	}
	if !h.authenticate(password) {
		return stage.ErrPasswordWrong
	}
	return nil
}

type fitzPDF struct {
	d     *fitz.Document
	h     handles
	pages int
}

func (p *fitzPDF) NumPages() int { return p.pages }

func (p *fitzPDF) check(n int) error {
	if n < 0 || n >= p.pages {
		return fmt.Errorf("page %d of %d: %w", n, p.pages, fitz.ErrPageMissing)
	}
	return nil
}

func (p *fitzPDF) PageSize(n int) (float64, float64, error) {
	if err := p.check(n); err != nil {
		return 0, 0, err
	}
	r, err := p.d.Bound(n)
	if err != nil {
		return 0, 0, fmt.Errorf("page %d: %w", n, err)
	}
	return float64(r.Dx()), float64(r.Dy()), nil
}

var (
	htmlLine  = regexp.MustCompile(`<p style="top:([-\d.]+)pt;left:([-\d.]+)pt;line-height:([\d.]+)pt">(.*?)</p>`)
	htmlImage = regexp.MustCompile(`<img style="[^"]*?matrix\(([-\d.e]+),([-\d.e]+),([-\d.e]+),([-\d.e]+),[^"]*" src="data:image/[a-z]+;base64,`)
	htmlSize  = regexp.MustCompile(`font-size:([\d.]+)pt`)
	htmlTag   = regexp.MustCompile(`<[^>]*>`)
)

func (p *fitzPDF) TextLayer(n int) (stage.TextLayer, error) {
	var tl stage.TextLayer
	if err := p.check(n); err != nil {
		return tl, err
	}
	// MuPDF's structured-text HTML is the one go-fitz output that keeps each line's
	// position; plain text loses the rows of tables and forms.
	out, err := p.d.HTML(n, false)
	if err != nil {
		return tl, fmt.Errorf("page %d text: %w", n, err)
	}
	for _, m := range htmlLine.FindAllStringSubmatch(out, -1) {
		top, _ := strconv.ParseFloat(m[1], 64)
		left, _ := strconv.ParseFloat(m[2], 64)
		lh, _ := strconv.ParseFloat(m[3], 64)
		size := lh
		if s := htmlSize.FindStringSubmatch(m[4]); s != nil {
			size, _ = strconv.ParseFloat(s[1], 64)
		}
		text := html.UnescapeString(htmlTag.ReplaceAllString(m[4], ""))
		text = strings.Join(strings.Fields(text), " ")
		// MuPDF does not say where a line ends; half an em per character is close enough to
		// tell a word gap from a gap between cells.
		width := 0.5 * size * float64(len([]rune(text)))
		tl.Spans = append(tl.Spans, stage.Span{X0: left, Y0: top, X1: left + width, Y1: top + lh, Text: text})
	}
	for _, m := range htmlImage.FindAllStringSubmatchIndex(out, -1) {
		var matrix []string
		for i := 2; i < 10; i += 2 {
			matrix = append(matrix, out[m[i]:m[i+1]])
		}
		data := out[m[1]:]
		if end := strings.IndexByte(data, '"'); end >= 0 {
			data = data[:end]
		}
		// The head of the image is enough for its size.
		tl.ImageArea += imageArea(matrix, data[:min(len(data), 64<<10)])
	}
	return tl, nil
}

// imageArea is the area in square points that an image of MuPDF's HTML covers. MuPDF places
// it with a CSS matrix that scales the image's own pixels (in CSS px, 96 per inch), so the
// pixel size is read from the head of the embedded data. An image whose size cannot be read
// is +Inf.
func imageArea(matrix []string, b64 string) float64 {
	var m [4]float64
	for i, s := range matrix {
		m[i], _ = strconv.ParseFloat(s, 64)
	}
	raw, err := base64.StdEncoding.DecodeString(trimBase64(b64))
	if err != nil {
		return math.Inf(1)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return math.Inf(1)
	}
	const pxToPt = 72.0 / 96.0
	return math.Abs(m[0]*m[3]-m[1]*m[2]) * float64(cfg.Width*cfg.Height) * pxToPt * pxToPt
}

// trimBase64 drops whitespace and cuts to a whole number of 4-character groups, so a prefix
// of a long data URI decodes.
func trimBase64(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if i := strings.IndexByte(s, '='); i >= 0 {
		s = s[:i]
	}
	return s[:len(s)/4*4]
}

// RenderGray draws the page straight into 8-bit gray: a quarter of the memory of go-fitz's
// RGBA image, and no copy.
func (p *fitzPDF) RenderGray(n int, dpi int) (*image.Gray, error) {
	if err := p.check(n); err != nil {
		return nil, err
	}
	box, err := p.h.pageBox(n, float64(dpi))
	if err != nil {
		return nil, err
	}
	return p.h.renderGray(n, float64(dpi), box)
}

func (p *fitzPDF) LargestImage(n int) (float64, float64, error) {
	if err := p.check(n); err != nil {
		return 0, 0, err
	}
	return p.h.largestImage(n)
}

func (p *fitzPDF) Repaired() bool { return p.h.repaired() }

func (p *fitzPDF) Close() error { return p.d.Close() }

// SetStoreLimit bounds MuPDF's cache of decoded fonts and images, per open document, at mb
// MiB (go-fitz's default is 256). A worker process calls it once, before it opens anything.
func SetStoreLimit(mb int) {
	if mb > 0 {
		fitz.MaxStore = mb << 20
	}
}
