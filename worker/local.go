package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strings"
	"sync"

	"github.com/idp/idp/stage"
)

// Engines are the C engines a worker reads with; cmd and idptest pass MuPDF and Tesseract.
type Engines struct {
	Renderer stage.Renderer
	// NewOCR starts an OCR engine for lang with one client (a worker reads one page at a
	// time).
	NewOCR func(lang string) (stage.OCREngine, error)
	// OCRVersion names the OCR engine and lang for cache versions without starting it.
	OCRVersion func(lang string) string
	// Trim, when set, gives the C heap's free memory back to the system; a worker calls it
	// after each page it rendered.
	Trim func()
}

// Version is the engines' part of stage 1's cache version ("mupdf-1.24.9;tesseract-5.3.0/eng").
func (e Engines) Version(lang string) string {
	return e.Renderer.Version() + ";" + e.OCRVersion(lang)
}

// Local is a stage.Reader over engines in this process: what a worker process runs. It keeps
// the last document it opened open, so that the pages of one document read in a row open it
// once, and starts the OCR engine on the first page that needs it. Calls are served one at a
// time.
type Local struct {
	eng  Engines
	lang string

	mu   sync.Mutex
	ocr  stage.OCREngine
	open *openDoc
}

type openDoc struct {
	path, password string
	pdf            stage.PDF
}

var _ stage.Reader = (*Local)(nil)

// NewLocal returns a Local reading with eng, OCR in lang.
func NewLocal(eng Engines, lang string) *Local { return &Local{eng: eng, lang: lang} }

// Version implements stage.Reader.
func (l *Local) Version() string { return l.eng.Version(l.lang) }

// startError is an OCR engine that could not start: the worker's trouble, not the page's.
type startError struct{ err error }

func (e *startError) Error() string { return "start OCR engine: " + e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// startOCR starts the OCR engine unless it runs. Call with mu held.
func (l *Local) startOCR() error {
	if l.ocr != nil {
		return nil
	}
	o, err := l.eng.NewOCR(l.lang)
	if err != nil {
		return &startError{err}
	}
	l.ocr = o
	return nil
}

// StartOCR starts the OCR engine now (a missing language then fails at once).
func (l *Local) StartOCR() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.startOCR()
}

// pdf opens doc, or returns it when it is the one open. Call with mu held.
func (l *Local) pdf(doc stage.Doc) (stage.PDF, error) {
	if o := l.open; o != nil && o.path == doc.Path && o.password == doc.Password {
		return o.pdf, nil
	}
	l.closeDoc()
	pdf, err := l.eng.Renderer.Open(doc.Path, doc.Password)
	if err != nil {
		return nil, err
	}
	l.open = &openDoc{path: doc.Path, password: doc.Password, pdf: pdf}
	return pdf, nil
}

func (l *Local) closeDoc() {
	if l.open != nil {
		l.open.pdf.Close()
		l.open = nil
	}
}

// Inspect implements stage.Reader. A page whose size cannot be read has a Size with its
// Error; the rest of the document is still inspected.
func (l *Local) Inspect(ctx context.Context, doc stage.Doc, opts stage.InspectOptions) (stage.DocInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pdf, err := l.pdf(doc)
	if err != nil {
		return stage.DocInfo{}, err
	}
	info := stage.DocInfo{Pages: pdf.NumPages(), Repaired: pdf.Repaired()}
	if info.Pages <= opts.MaxPages {
		info.Sizes = make([]stage.Size, info.Pages)
		for i := range info.Pages {
			if err := ctx.Err(); err != nil {
				return info, err
			}
			w, h, err := pdf.PageSize(i)
			info.Sizes[i] = stage.Size{W: w, H: h}
			if err != nil {
				info.Sizes[i].Error = err.Error()
			}
		}
	}
	var text strings.Builder
	for i := range min(opts.TextPages, info.Pages) {
		tl, err := pdf.TextLayer(i)
		if err != nil {
			break
		}
		for _, s := range tl.Spans {
			text.WriteString(s.Text)
			text.WriteByte('\n')
		}
	}
	info.Text = text.String()
	return info, nil
}

// ReadPage implements stage.Reader.
func (l *Local) ReadPage(ctx context.Context, doc stage.Doc, req stage.PageRequest) (stage.PageText, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pdf, err := l.pdf(doc)
	if err != nil {
		return stage.PageText{Page: req.Page}, err
	}
	if req.Page < 0 || req.Page >= pdf.NumPages() {
		return stage.PageText{Page: req.Page}, fmt.Errorf("page %d of a %d-page document", req.Page, pdf.NumPages())
	}
	pt, err := stage.ReadPage(ctx, pdf, lazyOCR{l}, req)
	var se *startError
	if errors.As(err, &se) {
		return pt, se
	}
	return pt, err
}

// RenderPNG implements stage.Reader.
func (l *Local) RenderPNG(ctx context.Context, doc stage.Doc, req stage.PageRequest) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pdf, err := l.pdf(doc)
	if err != nil {
		return nil, err
	}
	page := req.Page
	if page < 0 || page >= pdf.NumPages() {
		return nil, fmt.Errorf("page %d of a %d-page document", page, pdf.NumPages())
	}
	if err := stage.CheckImages(pdf, page, req.MaxImagePixels); err != nil {
		return nil, err
	}
	img, err := pdf.RenderGray(page, req.DPI)
	if err != nil {
		return nil, &stage.PageError{Page: page, Reason: err.Error(), Err: err}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Close closes the open document and the OCR engine.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeDoc()
	if l.ocr != nil {
		err := l.ocr.Close()
		l.ocr = nil
		return err
	}
	return nil
}

// lazyOCR starts the OCR engine on the first page that needs it: a worker that reads only
// text layers never loads Tesseract. Local's mu is held while it runs.
type lazyOCR struct{ l *Local }

func (o lazyOCR) Recognize(ctx context.Context, img *image.Gray, dpi int) (stage.OCRPage, error) {
	if err := o.l.startOCR(); err != nil {
		return stage.OCRPage{}, err
	}
	return o.l.ocr.Recognize(ctx, img, dpi)
}

func (o lazyOCR) Version() string { return o.l.eng.OCRVersion(o.l.lang) }
func (o lazyOCR) Close() error    { return nil }
