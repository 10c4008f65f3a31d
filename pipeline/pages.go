package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// Work a person is waiting for: a page opened now (its data, its text, its image), ahead of
// the background work and shared with it.

// ErrPageRange is returned for a page number the document does not have.
var ErrPageRange = errors.New("no such page")

// pageCount is the number of pages of a document, opening it when no stage has yet.
func (p *Processor) pageCount(ctx context.Context, d store.Document) (int, error) {
	if d.Pages > 0 {
		return d.Pages, nil
	}
	_, pl, err := p.plan(ctx, d.ID)
	if err != nil {
		return 0, err
	}
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.UpdateDocument(d.ID, func(d *store.Document) error { d.Pages = pl.pages; return nil })
		return err
	})
	return pl.pages, err
}

func (p *Processor) document(ctx context.Context, id string) (store.Document, error) {
	var d store.Document
	err := p.db.View(ctx, func(tx *store.Tx) error {
		var err error
		d, err = tx.Document(id)
		return err
	})
	return d, err
}

// PageNow is a page's data produced on demand.
type PageNow struct {
	PageData
	// Cached is true when the data came from the cache.
	Cached bool `json:"cached"`
	// Provisional is true when the document's pages were not yet mapped to accounts: the
	// data is right but not cached, and account_index is -1 until page analysis ran.
	Provisional bool `json:"provisional"`
}

// ExtractPage returns a page's data: from the cache, or computed now, ahead of all
// background work (its text read first if stage 1 has not reached it). Concurrent requests
// for the same page, and the background worker reaching it, share one computation. The
// document itself moves to the front of the queue, so the rest follows.
func (p *Processor) ExtractPage(ctx context.Context, id string, page int) (PageNow, error) {
	p.adopt(ctx, id)
	d, err := p.document(ctx, id)
	if err != nil {
		return PageNow{}, err
	}
	n, err := p.pageCount(ctx, d)
	if err != nil {
		return PageNow{}, err
	}
	if page < 0 || page >= n {
		return PageNow{}, fmt.Errorf("page %d of a %d-page document: %w", page, n, ErrPageRange)
	}
	if pd, err := p.PageData(ctx, id, page); err == nil {
		return PageNow{PageData: pd, Cached: true}, nil
	}
	if d.Status != store.StatusCompleted {
		if _, err := p.Force(ctx, id); err != nil {
			p.log.Warn("Cannot move opened document ahead", "doc_id", id, "err", err)
		}
	}
	pt, doc, err := p.pageText(ctx, id, page)
	if err != nil {
		return PageNow{}, err
	}
	var mapping PageMapping
	mapped := p.db.GetCached(ctx, store.MappingKey(id), p.versions.analysis, &mapping) == nil && page < len(mapping.Pages)
	if mapped {
		// Mapped means stage 1 is done: the page is read beside the others, as the
		// background stage reads it, so that what is cached does not depend on who asked.
		if doc == nil {
			var ft FullText
			if err := p.db.GetCached(ctx, store.OCRKey(id), p.versions.ocr, &ft); err != nil {
				return PageNow{}, fmt.Errorf("the pages beside page %d: %w", page, err)
			}
			doc = ft.Pages
		}
		pd, err := p.extractPage(ctx, id, n, page, pt, mapping.Pages[page], stage.RelatedPages(doc, page))
		return PageNow{PageData: pd}, err
	}
	// Not analysed yet: read the page alone; the account is the number it prints, if any.
	m := stage.PageMap{Page: page, AccountIndex: -1, AccountNumber: p.splitter.PageAccount(pt)}
	res := stage.Extraction{Fields: stage.Fields{}, Extractor: "none"}
	if !pt.Blank && pt.Error == "" {
		if res, err = p.extractShared(ctx, id, page, pt, m, nil); err != nil {
			return PageNow{}, err
		}
	}
	return PageNow{Provisional: true, PageData: PageData{
		Page: page, AccountIndex: -1, AccountNumber: m.AccountNumber, Source: pt.Source, Data: res.Fields, Evidence: res.Evidence,
		ExtractionTime: p.now().Unix(), Extractor: res.Extractor, PromptTokens: res.PromptTokens,
		CompletionTokens: res.CompletionTokens, Flags: res.Flags, Blank: pt.Blank, Error: pt.Error,
	}}, nil
}

// pageText is stage 1's answer for one page: cached, checkpointed, or read now and
// checkpointed so that the background stage does not read it again. doc is every page's,
// when stage 1's cached answer was read (nil otherwise): the related pages come from it.
func (p *Processor) pageText(ctx context.Context, id string, page int) (pt stage.PageText, doc []stage.PageText, err error) {
	var ft FullText
	if err := p.db.GetCached(ctx, store.OCRKey(id), p.versions.ocr, &ft); err == nil && page < len(ft.Pages) {
		return ft.Pages[page], ft.Pages, nil
	}
	err = p.db.View(ctx, func(tx *store.Tx) error {
		r, err := tx.Checkpoint(store.CheckpointKey(id, stage.OCRExtraction, page))
		if err != nil {
			return err
		}
		return r.Decode(p.versions.ocr, &pt)
	})
	if err == nil {
		return pt, nil, nil
	}
	_, plan, err := p.plan(ctx, id)
	if err != nil {
		return pt, nil, err
	}
	pt, err = p.readPage(ctx, id, page, plan)
	if err != nil {
		return pt, nil, err
	}
	err = p.db.Batch(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.PutCheckpoint(store.CheckpointKey(id, stage.OCRExtraction, page), p.versions.ocr, pt)
	})
	return pt, nil, err
}

// readPage reads one page's text (in a worker: render and OCR when needed), once for every
// concurrent caller: the background stage and people opening the page. A page that fails
// alone (refused by the plan, or a *stage.PageError from the worker: MuPDF cannot draw it,
// it stopped two workers) comes back quarantined: with its Error, and no error.
func (p *Processor) readPage(ctx context.Context, id string, page int, plan docPlan) (stage.PageText, error) {
	pt, err := p.readShared(ctx, id, page, plan)
	var pe *stage.PageError
	if errors.As(err, &pe) {
		return stage.PageText{Page: page, Error: pe.Reason}, nil
	}
	return pt, err
}

func (p *Processor) readShared(ctx context.Context, id string, page int, plan docPlan) (stage.PageText, error) {
	if page < 0 || page >= plan.pages {
		return stage.PageText{}, fmt.Errorf("page %d of a %d-page document: %w", page, plan.pages, ErrPageRange)
	}
	if why, ok := plan.refused[page]; ok {
		return stage.PageText{Page: page}, &stage.PageError{Page: page, Reason: why}
	}
	path, err := p.OriginalPath(ctx, id) // fetched from S3 when only there
	if err != nil {
		return stage.PageText{}, err
	}
	req := stage.PageRequest{Page: page, DPI: plan.dpi[page], MaxImagePixels: p.cfg.MaxImagePixels}
	return shared(ctx, p, "ocr/"+id+"/"+strconv.Itoa(page), func(ctx context.Context) (stage.PageText, error) {
		// The worker pool holds the time limit: a page past it has its worker killed.
		return p.reader.ReadPage(ctx, p.docRef(id, path), req)
	})
}

// shared runs fn once for all concurrent callers of key. The computation is not cancelled
// when one caller gives up (another may still want it); a caller whose ctx ends stops
// waiting.
func shared[T any](ctx context.Context, p *Processor, key string, fn func(ctx context.Context) (T, error)) (T, error) {
	ch := p.flight.DoChan(key, func() (any, error) { return fn(context.WithoutCancel(ctx)) })
	var zero T
	select {
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-ctx.Done():
		return zero, context.Cause(ctx)
	}
}

// extractShared runs the extractor on one page (with the pages related to it,
// stage.RelatedPages) once for every concurrent caller.
func (p *Processor) extractShared(ctx context.Context, id string, page int, pt stage.PageText, m stage.PageMap, related []stage.PageText) (stage.Extraction, error) {
	key := fmt.Sprintf("extract/%s/%d/%d", id, page, m.AccountIndex)
	return shared(ctx, p, key, func(ctx context.Context) (stage.Extraction, error) {
		return runPage(ctx, p.cfg.PageTimeout, page, func() (stage.Extraction, error) {
			return p.extract.Extract(ctx, stage.ExtractInput{
				DocID: id, Page: page, Text: pt.Text, Source: pt.Source, Unsure: pt.Unsure,
				AccountIndex: m.AccountIndex, AccountNumber: m.AccountNumber, Related: related,
			})
		})
	})
}

// PageImage is page n rendered as a PNG at dpi (gray), cached in the data directory. A page
// too large for --max-page-pixels at dpi is drawn at the highest resolution that fits.
func (p *Processor) PageImage(ctx context.Context, id string, page, dpi int) ([]byte, error) {
	d, err := p.document(ctx, id)
	if err != nil {
		return nil, err
	}
	n, err := p.pageCount(ctx, d)
	if err != nil {
		return nil, err
	}
	if page < 0 || page >= n {
		return nil, fmt.Errorf("page %d of a %d-page document: %w", page, n, ErrPageRange)
	}
	key := fmt.Sprintf("images/%s/page_%d_%d.png", id, page, dpi)
	if rc, err := p.files.Get(ctx, key); err == nil {
		defer rc.Close()
		return io.ReadAll(rc)
	}
	path, plan, err := p.plan(ctx, id)
	if err != nil {
		return nil, err
	}
	if why, ok := plan.refused[page]; ok {
		return nil, &stage.PageError{Page: page, Reason: why}
	}
	sz := plan.sizes[page]
	draw, ok := fitDPI(sz.W/72, sz.H/72, dpi, 1, p.cfg.MaxPagePixels)
	if !ok {
		return nil, &stage.PageError{Page: page, Reason: "it is too large to draw under --max-page-pixels"}
	}
	b, err := shared(ctx, p, key, func(ctx context.Context) ([]byte, error) {
		return p.reader.RenderPNG(ctx, p.docRef(id, path), stage.PageRequest{Page: page, DPI: draw, MaxImagePixels: p.cfg.MaxImagePixels})
	})
	if err != nil {
		return nil, err
	}
	if err := p.files.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
		p.log.Warn("Cannot cache page image", "doc_id", id, "page", page, "err", err)
	}
	return b, nil
}
