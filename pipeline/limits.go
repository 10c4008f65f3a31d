package pipeline

import (
	"errors"
	"fmt"
	"os"

	"github.com/idp/idp/stage"
)

// checkLimits opens the PDF and refuses it, before anything is rendered, when it is
// encrypted, unreadable, or claims too many or too large pages.
func (p *Processor) checkLimits(id, path string) (int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if st.Size() > p.cfg.MaxFileBytes {
		return 0, stage.NewPermanent(fmt.Errorf("file is %d bytes; the limit is %d (--max-file-mb)", st.Size(), p.cfg.MaxFileBytes))
	}
	pdf, err := p.renderer.Open(path)
	if err != nil {
		if errors.Is(err, stage.ErrEncrypted) || errors.Is(err, stage.ErrCorruptPDF) {
			return 0, stage.NewPermanent(err)
		}
		return 0, err
	}
	n, err := p.checkOpened(pdf)
	// Kept for stage 1's first page when it passed: one open of the file less.
	p.pdfs.put(path, pdf, err == nil)
	return n, err
}

func (p *Processor) checkOpened(pdf stage.PDF) (int, error) {
	n := pdf.NumPages()
	switch {
	case n <= 0:
		return 0, stage.NewPermanent(fmt.Errorf("%w: it has no pages", stage.ErrCorruptPDF))
	case n > p.cfg.MaxPages:
		return 0, stage.NewPermanent(fmt.Errorf("the PDF has %d pages; the limit is %d (--max-pages)", n, p.cfg.MaxPages))
	}
	dpi := float64(p.cfg.OCRDPI)
	for i := range n {
		w, h, err := pdf.PageSize(i)
		if err != nil {
			return 0, stage.NewPermanent(fmt.Errorf("%w: page %d cannot be loaded: %v", stage.ErrCorruptPDF, i, err))
		}
		px := (w / 72 * dpi) * (h / 72 * dpi)
		if w <= 0 || h <= 0 {
			return 0, stage.NewPermanent(fmt.Errorf("%w: page %d has an empty size (%.0fx%.0f pt)", stage.ErrCorruptPDF, i, w, h))
		}
		if px > float64(p.cfg.MaxPagePixels) {
			return 0, stage.NewPermanent(fmt.Errorf("page %d is %.1f x %.1f in: %.0f million pixels at %d dpi; the limit is %.0f million (--max-page-pixels)",
				i, w/72, h/72, px/1e6, p.cfg.OCRDPI, float64(p.cfg.MaxPagePixels)/1e6))
		}
	}
	return n, nil
}
