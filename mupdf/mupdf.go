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
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gen2brain/go-fitz"

	"github.com/idp/idp/stage"
)

// Renderer is the MuPDF renderer through go-fitz. The zero value gives every document its
// own MuPDF context and is safe for concurrent use.
type Renderer struct {
	serial *serial
}

// NewSerial returns a renderer whose documents share one MuPDF context, for a process that
// opens one document at a time (a worker process): the fonts a context loads on its first
// page are then loaded once, not per document. Opening a second document before the first
// is closed is an error.
func NewSerial() Renderer { return Renderer{serial: &serial{}} }

var _ stage.Renderer = Renderer{}

// Version implements stage.Renderer.
func (Renderer) Version() string { return "mupdf-" + fitz.FzVersion }

// Open implements stage.Renderer. A PDF with only an owner password (permissions, no
// password to open it) opens without one.
func (r Renderer) Open(path, password string) (stage.PDF, error) {
	if r.serial != nil {
		return r.serial.open(path, password)
	}
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
	d      *fitz.Document
	h      handles
	pages  int
	serial *serial // the context's owner when it is shared; nil when d owns it
	closed bool
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

func (p *fitzPDF) TextLayer(n int) (stage.TextLayer, error) {
	if err := p.check(n); err != nil {
		return stage.TextLayer{}, err
	}
	// MuPDF's structured-text HTML is the one go-fitz output that keeps each line's
	// position; plain text loses the rows of tables and forms.
	out, err := p.d.HTML(n, false)
	if err != nil {
		return stage.TextLayer{}, fmt.Errorf("page %d text: %w", n, err)
	}
	return parseHTML(out), nil
}

// parseHTML reads the lines and the images of a page from MuPDF's structured-text HTML:
//
//	<p style="top:52.0pt;left:54.0pt;line-height:10.0pt"><b><span style="...;font-size:10.0pt">Text</span></b></p>
//	<img style="position:absolute;transform:matrix(.96,0,-0,.96,-17,-22)" src="data:image/jpeg;base64,...">
//
// It scans with string searches: it is on every page's path, and regular expressions over a
// page's HTML cost several times what MuPDF takes to make it.
func parseHTML(out string) stage.TextLayer {
	var tl stage.TextLayer
	for rest := out; ; {
		i := strings.Index(rest, `<p style="top:`)
		if i < 0 {
			break
		}
		rest = rest[i+len(`<p style="top:`):]
		top, r, ok := cutNumber(rest, "pt;left:", signed)
		if !ok {
			continue
		}
		left, r, ok := cutNumber(r, "pt;line-height:", signed)
		if !ok {
			continue
		}
		lh, r, ok := cutNumber(r, `pt">`, unsigned)
		if !ok {
			continue
		}
		end := strings.Index(r, "</p>")
		if end < 0 {
			break
		}
		inner := r[:end]
		if strings.IndexByte(inner, '\n') >= 0 {
			continue // a line is one line of HTML
		}
		rest = r[end+len("</p>"):]
		size := lh
		for s := inner; ; {
			j := strings.Index(s, "font-size:")
			if j < 0 {
				break
			}
			s = s[j+len("font-size:"):]
			if v, _, ok := cutNumber(s, "pt", unsigned); ok {
				size = v
				break
			}
		}
		text := strings.Join(strings.Fields(html.UnescapeString(stripTags(inner))), " ")
		// MuPDF does not say where a line ends; half an em per character is close enough to
		// tell a word gap from a gap between cells.
		width := 0.5 * size * float64(utf8.RuneCountInString(text))
		tl.Spans = append(tl.Spans, stage.Span{X0: left, Y0: top, X1: left + width, Y1: top + lh, Text: text})
	}
	for rest := out; ; {
		i := strings.Index(rest, `<img style="`)
		if i < 0 {
			break
		}
		rest = rest[i+len(`<img style="`):]
		q := strings.IndexByte(rest, '"')
		if q < 0 {
			break
		}
		style, after := rest[:q], rest[q:]
		var args []string
		for s := style; args == nil; {
			m := strings.Index(s, "matrix(")
			if m < 0 {
				break
			}
			s = s[m+len("matrix("):]
			if a := strings.SplitN(s, ",", 5); len(a) == 5 && numeric(a[:4], exponent) {
				args = a[:4]
			}
		}
		if args == nil {
			continue
		}
		const src = `" src="data:image/`
		if !strings.HasPrefix(after, src) {
			continue
		}
		kind := after[len(src):]
		k := 0
		for k < len(kind) && kind[k] >= 'a' && kind[k] <= 'z' {
			k++
		}
		if k == 0 || !strings.HasPrefix(kind[k:], ";base64,") {
			continue
		}
		data := kind[k+len(";base64,"):]
		if end := strings.IndexByte(data, '"'); end >= 0 {
			data = data[:end]
		}
		// The head of the image is enough for its size.
		tl.ImageArea += imageArea(args, data[:min(len(data), 64<<10)])
	}
	return tl
}

// The characters of MuPDF's numbers in its HTML, besides digits.
const (
	unsigned = "."
	signed   = ".-"
	exponent = ".-e"
)

// cutNumber reads the number at the start of s up to sep: digits and the characters of
// extra, at least one. It returns the number, what follows sep, and whether it matched.
func cutNumber(s, sep, extra string) (float64, string, bool) {
	i := strings.Index(s, sep)
	if i <= 0 || !numeric([]string{s[:i]}, extra) {
		return 0, s, false
	}
	v, _ := strconv.ParseFloat(s[:i], 64)
	return v, s[i+len(sep):], true
}

// numeric reports whether every string is a non-empty run of digits and the characters of
// extra.
func numeric(ss []string, extra string) bool {
	for _, s := range ss {
		if s == "" {
			return false
		}
		for _, c := range []byte(s) {
			if (c < '0' || c > '9') && strings.IndexByte(extra, c) < 0 {
				return false
			}
		}
	}
	return true
}

// stripTags drops every <...> of s.
func stripTags(s string) string {
	if strings.IndexByte(s, '<') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			b.WriteString(s[i:]) // an unclosed "<" is text
			return b.String()
		}
		s = s[i+j+1:]
	}
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

// Close closes the document; closing it again does nothing (go-fitz would free its
// context twice).
func (p *fitzPDF) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if p.serial != nil {
		p.serial.close(p.h)
		return nil
	}
	return p.d.Close()
}

// SetStoreLimit bounds MuPDF's cache of decoded fonts and images, per open document, at mb
// MiB (go-fitz's default is 256). A worker process calls it once, before it opens anything.
func SetStoreLimit(mb int) {
	if mb > 0 {
		fitz.MaxStore = mb << 20
	}
}
