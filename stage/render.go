package stage

import "image"

// Renderer opens PDFs for text-layer extraction and rendering: MuPDF, C code that runs in
// the worker processes (package worker), never in the server.
type Renderer interface {
	// Open opens the PDF at path, with password when it is encrypted ("" for none). Errors
	// wrap ErrPasswordNeeded, ErrPasswordWrong or ErrCorruptPDF when the file itself is the
	// problem.
	Open(path, password string) (PDF, error)
	// Version names the engine for cache versions ("mupdf-1.24.9").
	Version() string
}

// PDF is one open document. It is not safe for concurrent use: open one per goroutine.
type PDF interface {
	NumPages() int
	// PageSize is the page's width and height in points (1/72 inch), rotation applied.
	PageSize(n int) (w, h float64, err error)
	// TextLayer is the page's embedded text as positioned spans (in points), and the area
	// its images cover.
	TextLayer(n int) (TextLayer, error)
	// RenderGray renders the page at dpi in 8-bit gray.
	RenderGray(n int, dpi int) (*image.Gray, error)
	// LargestImage is the declared size in pixels of the largest image the page draws (in
	// its resources and the forms it draws), read without decoding any image.
	LargestImage(n int) (w, h float64, err error)
	// Repaired reports whether the file was damaged and had to be rebuilt to be opened:
	// pages may be missing.
	Repaired() bool
	Close() error
}

// TextLayer is what a PDF says is printed on a page.
type TextLayer struct {
	Spans []Span
	// ImageArea is the area the page's images cover, in square points; +Inf when the size of
	// an image cannot be read (the page is then OCR'd rather than trusted).
	ImageArea float64
}
