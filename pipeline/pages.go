package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
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
	path, err := p.OriginalPath(ctx, d.ID) // fetched from S3 when only there
	if err != nil {
		return 0, err
	}
	n, err := p.checkLimits(d.ID, path)
	if err != nil {
		return 0, err
	}
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.UpdateDocument(d.ID, func(d *store.Document) error { d.Pages = n; return nil })
		return err
	})
	return n, err
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
	pt, err := p.pageText(ctx, id, page)
	if err != nil {
		return PageNow{}, err
	}
	var mapping PageMapping
	mapped := p.db.GetCached(ctx, store.MappingKey(id), p.versions.analysis, &mapping) == nil && page < len(mapping.Pages)
	if mapped {
		pd, err := p.extractPage(ctx, id, n, page, pt, mapping.Pages[page])
		return PageNow{PageData: pd}, err
	}
	// Not analysed yet: read the page alone; the account is the number it prints, if any.
	m := stage.PageMap{Page: page, AccountIndex: -1, AccountNumber: p.splitter.PageAccount(pt)}
	res, err := p.extractShared(ctx, id, page, pt, m)
	if err != nil {
		return PageNow{}, err
	}
	return PageNow{Provisional: true, PageData: PageData{
		Page: page, AccountIndex: -1, AccountNumber: m.AccountNumber, Source: pt.Source, Data: res.Fields,
		ExtractionTime: p.now().Unix(), Extractor: res.Extractor, PromptTokens: res.PromptTokens,
		CompletionTokens: res.CompletionTokens, Flags: res.Flags,
	}}, nil
}

// pageText is stage 1's answer for one page: cached, checkpointed, or read now and
// checkpointed so that the background stage does not read it again.
func (p *Processor) pageText(ctx context.Context, id string, page int) (stage.PageText, error) {
	var ft FullText
	if err := p.db.GetCached(ctx, store.OCRKey(id), p.versions.ocr, &ft); err == nil && page < len(ft.Pages) {
		return ft.Pages[page], nil
	}
	var pt stage.PageText
	err := p.db.View(ctx, func(tx *store.Tx) error {
		r, err := tx.Checkpoint(store.CheckpointKey(id, stage.OCRExtraction, page))
		if err != nil {
			return err
		}
		return r.Decode(p.versions.ocr, &pt)
	})
	if err == nil {
		return pt, nil
	}
	pt, err = p.readShared(ctx, id, page)
	if err != nil {
		return pt, err
	}
	err = p.db.Batch(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.PutCheckpoint(store.CheckpointKey(id, stage.OCRExtraction, page), p.versions.ocr, pt)
	})
	return pt, err
}

// readShared reads one page's text (render and OCR when needed), once for every concurrent
// caller: the background stage and people opening the page.
func (p *Processor) readShared(ctx context.Context, id string, page int) (stage.PageText, error) {
	if _, err := p.OriginalPath(ctx, id); err != nil { // fetched from S3 when only there
		return stage.PageText{}, err
	}
	return shared(ctx, p, "ocr/"+id+"/"+strconv.Itoa(page), func(ctx context.Context) (stage.PageText, error) {
		return runPage(ctx, p.cfg.PageTimeout, page, func() (stage.PageText, error) {
			path := p.files.Path(store.OriginalKey(id))
			pdf, err := p.pdfs.get(p.renderer, path)
			if err != nil {
				return stage.PageText{}, err
			}
			pt, err := stage.ReadPage(ctx, pdf, page, p.ocr, p.cfg.OCRDPI)
			p.pdfs.put(path, pdf, err == nil && pt.Source == stage.SourceTextLayer)
			return pt, err
		})
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

// extractShared runs the extractor on one page once for every concurrent caller.
func (p *Processor) extractShared(ctx context.Context, id string, page int, pt stage.PageText, m stage.PageMap) (stage.Extraction, error) {
	key := fmt.Sprintf("extract/%s/%d/%d", id, page, m.AccountIndex)
	return shared(ctx, p, key, func(ctx context.Context) (stage.Extraction, error) {
		return runPage(ctx, p.cfg.PageTimeout, page, func() (stage.Extraction, error) {
			return p.extract.Extract(ctx, stage.ExtractInput{
				DocID: id, Page: page, Text: pt.Text, Source: pt.Source,
				AccountIndex: m.AccountIndex, AccountNumber: m.AccountNumber,
			})
		})
	})
}

// PageImage is page n rendered as a PNG at dpi (gray), cached in the data directory.
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
	if _, err := p.OriginalPath(ctx, id); err != nil { // fetched from S3 when only there
		return nil, err
	}
	b, err := shared(ctx, p, key, func(ctx context.Context) ([]byte, error) {
		return runPage(ctx, p.cfg.PageTimeout, page, func() ([]byte, error) {
			pdf, err := p.renderer.Open(p.files.Path(store.OriginalKey(id)))
			if err != nil {
				return nil, err
			}
			defer pdf.Close()
			img, err := pdf.RenderGray(page, dpi)
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
				return nil, err
			}
			return buf.Bytes(), nil
		})
	})
	if err != nil {
		return nil, err
	}
	if err := p.files.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
		p.log.Warn("Cannot cache page image", "doc_id", id, "page", page, "err", err)
	}
	return b, nil
}
