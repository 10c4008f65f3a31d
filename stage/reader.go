package stage

import (
	"context"
	"fmt"
	"log/slog"
)

// Reader is what the processor needs of the C engines (MuPDF and Tesseract): open a PDF and
// say what it holds, read one page's text, draw one page. The server's Reader runs the
// engines in supervised worker processes (package worker), so that no PDF can take the
// server down; the processor sees only this interface.
type Reader interface {
	// Inspect opens the PDF and says what it holds. Sizes are read only when the PDF has at
	// most opts.MaxPages pages: a PDF may claim a billion.
	Inspect(ctx context.Context, doc Doc, opts InspectOptions) (DocInfo, error)
	// ReadPage is stage 1 for one page (ReadPage over the engines). An error that is the
	// page's alone is a *PageError.
	ReadPage(ctx context.Context, doc Doc, req PageRequest) (PageText, error)
	// RenderPNG draws page req.Page in gray at req.DPI, as a PNG (refused, like ReadPage, when
	// it draws an image declared larger than req.MaxImagePixels).
	RenderPNG(ctx context.Context, doc Doc, req PageRequest) ([]byte, error)
	// Version names the engines for cache versions ("mupdf-1.24.9;tesseract-5.3.0/eng").
	Version() string
}

// Doc is a PDF to open: where it is on this machine and, when it is encrypted, its
// password. The password is kept in memory only: it never goes into a log (Doc logs and
// prints without it), a record or a file.
type Doc struct {
	// ID names the document in logs.
	ID       string
	Path     string
	Password string
}

// String is the Doc without its password.
func (d Doc) String() string {
	return fmt.Sprintf("{%s %s password:%v}", d.ID, d.Path, d.Password != "")
}

// LogValue is the Doc without its password.
func (d Doc) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", d.ID), slog.String("path", d.Path), slog.Bool("password", d.Password != ""))
}

// InspectOptions say how much Inspect reads.
type InspectOptions struct {
	// MaxPages: the page sizes are read only when the PDF has at most this many pages.
	MaxPages int `json:"max_pages"`
	// TextPages: the text layer of the first TextPages pages comes back as DocInfo.Text
	// (nothing is rendered or OCR'd).
	TextPages int `json:"text_pages,omitempty"`
}

// DocInfo is what Inspect found.
type DocInfo struct {
	Pages int `json:"pages"`
	// Sizes are the pages' sizes in points, rotation applied (empty over MaxPages).
	Sizes []Size `json:"sizes,omitempty"`
	// Repaired: the file was damaged and rebuilt to be opened; pages may be missing.
	Repaired bool `json:"repaired,omitempty"`
	// Text is the text layer of the first InspectOptions.TextPages pages.
	Text string `json:"text,omitempty"`
}

// Size is a page's width and height in points (1/72 inch), or why it cannot be read.
type Size struct {
	W     float64 `json:"w"`
	H     float64 `json:"h"`
	Error string  `json:"error,omitempty"`
}

// PageRequest is one page to read or draw.
type PageRequest struct {
	Page int `json:"page"`
	// DPI is the resolution the page is rendered at (to be OCR'd, or drawn).
	DPI int `json:"dpi"`
	// MaxImagePixels refuses a page that draws an image declared larger than this many
	// pixels, before any image is decoded (0: no limit).
	MaxImagePixels int64 `json:"max_image_pixels,omitempty"`
}

// PageError is the failure of one page that the rest of its document does not share: MuPDF
// cannot load or draw it, it draws an image over the limit, it stopped two worker
// processes. The page is quarantined with Reason and the document completes without it.
type PageError struct {
	Page   int
	Reason string
	// Err is the engine's error, when there is one.
	Err error
}

func (e *PageError) Error() string { return fmt.Sprintf("page %d: %s", e.Page, e.Reason) }
func (e *PageError) Unwrap() error { return e.Err }
