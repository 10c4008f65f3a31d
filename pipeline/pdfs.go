package pipeline

import (
	"sync"

	"github.com/idp/idp/stage"
)

// openPDFs keeps opened PDFs for the next pages of the same document. MuPDF loads a
// document's fonts (and works out their glyphs) once per opened document: reading a text
// layer with a PDF opened anew for every page costs two to three times reading it with one
// kept open. Only PDFs whose last page was read from its text layer are kept: a rendered
// page leaves its decoded images in the opened document's store, which would then hold
// memory for nothing (rendering costs far more than opening anyway). At most max are kept,
// across documents; a document's are closed when its stage 1 ends.
type openPDFs struct {
	max int

	mu   sync.Mutex
	idle []idlePDF // oldest first
}

type idlePDF struct {
	path string
	pdf  stage.PDF
}

// get returns an opened PDF of path: a kept one, or one opened now.
func (o *openPDFs) get(r stage.Renderer, path string) (stage.PDF, error) {
	o.mu.Lock()
	for i := len(o.idle) - 1; i >= 0; i-- {
		if o.idle[i].path == path {
			pdf := o.idle[i].pdf
			o.idle = append(o.idle[:i], o.idle[i+1:]...)
			o.mu.Unlock()
			return pdf, nil
		}
	}
	o.mu.Unlock()
	return r.Open(path)
}

// put keeps pdf for the next page of path, or closes it (kept is false: it rendered, or
// failed); past max, the oldest kept one is closed.
func (o *openPDFs) put(path string, pdf stage.PDF, keep bool) {
	if !keep || o.max <= 0 {
		_ = pdf.Close()
		return
	}
	o.mu.Lock()
	o.idle = append(o.idle, idlePDF{path, pdf})
	var evicted []stage.PDF
	for len(o.idle) > o.max {
		evicted = append(evicted, o.idle[0].pdf)
		o.idle = o.idle[1:]
	}
	o.mu.Unlock()
	for _, pdf := range evicted {
		_ = pdf.Close()
	}
}

// drop closes the kept PDFs of path.
func (o *openPDFs) drop(path string) {
	o.mu.Lock()
	var closing []stage.PDF
	kept := o.idle[:0]
	for _, e := range o.idle {
		if e.path == path {
			closing = append(closing, e.pdf)
		} else {
			kept = append(kept, e)
		}
	}
	clear(o.idle[len(kept):])
	o.idle = kept
	o.mu.Unlock()
	for _, pdf := range closing {
		_ = pdf.Close()
	}
}

// closeAll closes every kept PDF.
func (o *openPDFs) closeAll() {
	o.mu.Lock()
	idle := o.idle
	o.idle = nil
	o.mu.Unlock()
	for _, e := range idle {
		_ = e.pdf.Close()
	}
}
