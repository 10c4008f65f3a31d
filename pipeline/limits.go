package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"

	"github.com/idp/idp/stage"
)

// WarnRepaired is the warning of a document MuPDF had to repair to open.
const WarnRepaired = "the file was damaged and repaired: pages may be missing"

// docPlan is how a document's pages are read, decided when it is opened, before anything is
// rendered.
type docPlan struct {
	pages int
	// dpi is the resolution each page is rendered at for OCR: --ocr-dpi, or less for a page
	// too large for --max-page-pixels at it.
	dpi []int
	// refused are the pages not read at all, with why (they are quarantined).
	refused map[int]string
	// sizes are the pages' sizes in points.
	sizes    []stage.Size
	warnings []string
}

// minDPI is the resolution below which a page is not read: --min-ocr-dpi, or --ocr-dpi when
// that is lower.
func (p *Processor) minDPI() int { return min(p.cfg.MinOCRDPI, p.cfg.OCRDPI) }

// inspect opens the PDF (in a worker) and plans its reading. It refuses the document when it
// is encrypted without the right password, unreadable, or claims too many pages; a page too
// large even at the lowest resolution, or that cannot be loaded, is refused alone.
func (p *Processor) inspect(ctx context.Context, id, path string) (docPlan, error) {
	st, err := os.Stat(path)
	if err != nil {
		return docPlan{}, err
	}
	if st.Size() > p.cfg.MaxFileBytes {
		return docPlan{}, stage.NewPermanent(fmt.Errorf("file is %d bytes; the limit is %d (--max-file-mb)", st.Size(), p.cfg.MaxFileBytes))
	}
	info, err := p.reader.Inspect(ctx, p.docRef(id, path), stage.InspectOptions{MaxPages: p.cfg.MaxPages})
	if err != nil {
		if errors.Is(err, stage.ErrEncrypted) || errors.Is(err, stage.ErrCorruptPDF) {
			return docPlan{}, stage.NewPermanent(err)
		}
		return docPlan{}, err
	}
	n := info.Pages
	switch {
	case n <= 0:
		return docPlan{}, stage.NewPermanent(fmt.Errorf("%w: it has no pages", stage.ErrCorruptPDF))
	case n > p.cfg.MaxPages:
		return docPlan{}, stage.NewPermanent(fmt.Errorf("the PDF has %d pages; the limit is %d (--max-pages)", n, p.cfg.MaxPages))
	case len(info.Sizes) != n:
		return docPlan{}, fmt.Errorf("inspect: %d page sizes for %d pages", len(info.Sizes), n)
	}
	plan := docPlan{pages: n, dpi: make([]int, n), refused: map[int]string{}, sizes: info.Sizes}
	if info.Repaired {
		plan.warnings = append(plan.warnings, WarnRepaired)
	}
	var lowered []string
	for i, sz := range info.Sizes {
		w, h := sz.W/72, sz.H/72 // inches
		switch {
		case sz.Error != "":
			plan.refused[i] = "it cannot be loaded: " + sz.Error
			continue
		case sz.W <= 0 || sz.H <= 0:
			plan.refused[i] = fmt.Sprintf("it has an empty size (%.0f x %.0f pt)", sz.W, sz.H)
			continue
		}
		dpi, ok := fitDPI(w, h, p.cfg.OCRDPI, p.minDPI(), p.cfg.MaxPagePixels)
		if !ok {
			floor := float64(p.minDPI())
			plan.refused[i] = fmt.Sprintf("it is %.1f x %.1f in: %.0f million pixels even at %d dpi; the limit is %.0f million (--max-page-pixels)",
				w, h, w*floor*h*floor/1e6, p.minDPI(), float64(p.cfg.MaxPagePixels)/1e6)
			continue
		}
		plan.dpi[i] = dpi
		if dpi < p.cfg.OCRDPI {
			lowered = append(lowered, fmt.Sprintf("page %d (%.1f x %.1f in) at %d dpi", i, w, h, dpi))
		}
	}
	if len(lowered) > 0 {
		const show = 5
		msg := strings.Join(lowered[:min(show, len(lowered))], ", ")
		if len(lowered) > show {
			msg += fmt.Sprintf(" and %d more pages", len(lowered)-show)
		}
		plan.warnings = append(plan.warnings, fmt.Sprintf("pages too large for --max-page-pixels at %d dpi were read at a lower resolution: %s", p.cfg.OCRDPI, msg))
	}
	if len(plan.refused) == n {
		return docPlan{}, stage.NewPermanent(fmt.Errorf("no page can be read: page 0: %s", plan.refused[0]))
	}
	return plan, nil
}

// fitDPI is the highest resolution up to dpi at which a page of w x h inches has at most
// maxPixels pixels; false when even floor is too much.
func fitDPI(w, h float64, dpi, floor int, maxPixels int64) (int, bool) {
	if w*h*float64(dpi)*float64(dpi) <= float64(maxPixels) {
		return dpi, true
	}
	fit := int(math.Floor(math.Sqrt(float64(maxPixels) / (w * h))))
	if fit < floor {
		return 0, false
	}
	return fit, true
}

// docRef is how a worker opens a document: its path and, when one was given, its password
// (held in memory only).
func (p *Processor) docRef(id, path string) stage.Doc {
	return stage.Doc{ID: id, Path: path, Password: p.keys.get(id)}
}

// plans keeps the plan of each document opened while it is worked on, so that a page read
// on demand does not open the document again.
type plans struct {
	mu sync.Mutex
	m  map[string]docPlan
}

func (ps *plans) get(id string) (docPlan, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pl, ok := ps.m[id]
	return pl, ok
}

func (ps *plans) set(id string, pl docPlan) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]docPlan{}
	}
	ps.m[id] = pl
}

func (ps *plans) forget(id string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.m, id)
}

// plan is the plan of a document, kept or made now (the document is opened in a worker),
// and the local path of its file (fetched from S3 when only there).
func (p *Processor) plan(ctx context.Context, id string) (string, docPlan, error) {
	path, err := p.OriginalPath(ctx, id)
	if err != nil {
		return "", docPlan{}, err
	}
	if pl, ok := p.plans.get(id); ok {
		return path, pl, nil
	}
	pl, err := p.inspect(ctx, id, path)
	if err == nil {
		p.plans.set(id, pl)
	}
	return path, pl, err
}
