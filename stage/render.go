package stage

import "image"

// Renderer opens PDFs for text-layer extraction and rendering. It is C code (MuPDF) behind a
// small interface so that it can move into a supervised worker process without touching the
// stages.
type Renderer interface {
	// Open opens the PDF at path. Errors wrap ErrEncrypted or ErrCorruptPDF when the file
	// itself is the problem.
	Open(path string) (PDF, error)
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
	Close() error
}

// TextLayer is what a PDF says is printed on a page.
type TextLayer struct {
	Spans []Span
	// ImageArea is the area the page's images cover, in square points; +Inf when the size of
	// an image cannot be read (the page is then OCR'd rather than trusted).
	ImageArea float64
}
