package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/idp/idp/store"
)

// Work a person is waiting for: a page opened now, a document forced to the front.

// ErrPageRange is returned for a page number the document does not have.
var ErrPageRange = errors.New("no such page")

// errSuperseded cancels a running try whose document was reprocessed or deleted meanwhile.
var errSuperseded = errors.New("document was reprocessed or deleted while it ran")

// ForceResult says where a forced document stands.
type ForceResult struct {
	Status        string `json:"status"`
	QueuePosition *int   `json:"queue_position,omitempty"`
	Message       string `json:"message"`
}

// Force queues a document at the front of high priority, so the next free worker takes it;
// a failed document gets a fresh set of tries. A document being processed or already
// completed stays as it is.
func (p *Processor) Force(ctx context.Context, id string) (ForceResult, error) {
	var res ForceResult
	err := p.db.Update(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err != nil {
			return err
		}
		switch {
		case tx.InFlight(id):
			res = ForceResult{Status: string(store.StatusProcessing), Message: "already being processed"}
			return nil
		case d.Status == store.StatusCompleted && p.current(tx, d):
			res = ForceResult{Status: string(d.Status), Message: "already completed; use reprocess to run it again"}
			return nil
		}
		d.Status, d.Priority, d.FinishedAt = store.StatusQueued, store.PriorityHigh, nil
		if d.Attempts >= p.cfg.MaxAttempts {
			d.Attempts, d.Error = 0, ""
		}
		if err := tx.PutDocument(&d); err != nil {
			return err
		}
		if err := tx.Enqueue(id, store.PriorityHigh, store.PushOptions{Front: true}); err != nil {
			return err
		}
		pos, _, _ := tx.QueuePosition(id)
		res = ForceResult{Status: string(store.StatusQueued), QueuePosition: &pos, Message: "queued at the front"}
		return nil
	})
	if err == nil && res.Status == string(store.StatusQueued) {
		p.log.Info("Forced to the front of the queue", "doc_id", id)
		p.publish(Event{Type: EventQueued, DocID: id, Status: string(store.StatusQueued)})
		p.Wake()
		if p.busyWorkers() < p.cfg.Workers {
			res.Message = "queued at the front; a worker is free and takes it now"
		}
	}
	return res, err
}

// Restart stops the workers gracefully and starts a new pool; the queue is untouched and
// interrupted documents are back at the front.
func (p *Processor) Restart(ctx context.Context) error {
	p.Stop()
	return p.Start(ctx)
}

// cancelActive cancels the running try of id, if any, and waits until its worker let go.
func (p *Processor) cancelActive(id string) {
	p.mu.Lock()
	a := p.active[id]
	p.mu.Unlock()
	if a == nil || a.cancel == nil {
		return
	}
	a.cancel(errSuperseded)
	<-a.done
}

// Delete removes a document: its running try, its queue entry, its records and cache, its
// original file and rendered page images.
func (p *Processor) Delete(ctx context.Context, id string) error {
	if !store.ValidID(id) {
		return fmt.Errorf("%q: %w", id, store.ErrInvalidID)
	}
	p.cancelActive(id)
	err := p.db.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.Document(id); err != nil {
			return err
		}
		return tx.DeleteDocument(id)
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, key := range []string{store.OriginalKey(id)} {
		if err := p.files.Delete(ctx, key); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(p.files.Path("images/" + id)); err != nil {
		errs = append(errs, err)
	}
	p.log.Info("Deleted "+id, "doc_id", id)
	p.publish(Event{Type: EventDeleted, DocID: id})
	return errors.Join(errs...)
}

// pageCount is the number of pages of a document, opening it when no stage has yet.
func (p *Processor) pageCount(ctx context.Context, d store.Document) (int, error) {
	if d.Pages > 0 {
		return d.Pages, nil
	}
	n, err := p.checkLimits(d.ID, p.files.Path(store.OriginalKey(d.ID)))
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
	m := PageMap{Page: page, AccountIndex: -1}
	for _, ref := range findAccountRefs(parseRows(pt.Text)) {
		if !ref.Suffix {
			m.AccountNumber = ref.Printed
			break
		}
	}
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
func (p *Processor) pageText(ctx context.Context, id string, page int) (PageText, error) {
	var ft FullText
	if err := p.db.GetCached(ctx, store.OCRKey(id), p.versions.ocr, &ft); err == nil && page < len(ft.Pages) {
		return ft.Pages[page], nil
	}
	var pt PageText
	err := p.db.View(ctx, func(tx *store.Tx) error {
		r, err := tx.Checkpoint(store.CheckpointKey(id, StageOCR, page))
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
	err = p.db.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.PutCheckpoint(store.CheckpointKey(id, StageOCR, page), p.versions.ocr, pt)
	})
	return pt, err
}

// readShared reads one page's text (render and OCR when needed), once for every concurrent
// caller: the background stage and people opening the page.
func (p *Processor) readShared(ctx context.Context, id string, page int) (PageText, error) {
	return shared(ctx, p, "ocr/"+id+"/"+strconv.Itoa(page), func(ctx context.Context) (PageText, error) {
		return runPage(ctx, p.cfg.PageTimeout, page, func() (PageText, error) {
			pdf, err := p.renderer.Open(p.files.Path(store.OriginalKey(id)))
			if err != nil {
				return PageText{}, err
			}
			defer pdf.Close()
			return readPage(ctx, pdf, page, p.ocr, p.cfg.OCRDPI)
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
func (p *Processor) extractShared(ctx context.Context, id string, page int, pt PageText, m PageMap) (Extraction, error) {
	key := fmt.Sprintf("extract/%s/%d/%d", id, page, m.AccountIndex)
	return shared(ctx, p, key, func(ctx context.Context) (Extraction, error) {
		return runPage(ctx, p.cfg.PageTimeout, page, func() (Extraction, error) {
			return p.extract.Extract(ctx, ExtractInput{
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

// loanWords are what a loan document says about itself.
var loanWords = regexp.MustCompile(`(?i)\b(?:loan\s+(?:number|no\.?|#|application|amount|packet|agreement)|borrower|co-borrower|mortgage|promissory\s+note|heloc|home\s+equity|line\s+of\s+credit|underwriting)\b`)

// loanName recognises a loan document by its file name.
var loanName = regexp.MustCompile(`(?i)loan|mortgage|heloc|borrower|credit[-_ ]?app|refinanc`)

// looksLikeLoan reports whether text (or a file name) shows a loan document.
func looksLikeLoan(fileName, text string) bool {
	return loanName.MatchString(fileName) || len(loanWords.FindAllStringIndex(text, 3)) >= 2
}

// sniffLoan reads the text layer of a file's first pages (no OCR: an upload must answer
// fast) to tell a loan document at upload.
func (p *Processor) sniffLoan(ctx context.Context, path, fileName string) bool {
	if loanName.MatchString(fileName) {
		return true
	}
	// The upload waits for this: a file that takes long to open is not worth the wait.
	loan, err := runPage(ctx, 5*time.Second, 0, func() (bool, error) { return p.sniffText(path, fileName), nil })
	return err == nil && loan
}

func (p *Processor) sniffText(path, fileName string) bool {
	pdf, err := p.renderer.Open(path)
	if err != nil {
		return false
	}
	defer pdf.Close()
	var text bytes.Buffer
	for i := range min(3, pdf.NumPages()) {
		tl, err := pdf.TextLayer(i)
		if err != nil {
			break
		}
		for _, s := range tl.Spans {
			text.WriteString(s.Text)
			text.WriteByte('\n')
		}
	}
	return looksLikeLoan(fileName, text.String())
}

// raiseLoanPriority gives a document high priority once its text shows a loan document.
func (p *Processor) raiseLoanPriority(ctx context.Context, d store.Document, pages []PageText) {
	if d.Priority == store.PriorityHigh {
		return
	}
	var text bytes.Buffer
	for _, pt := range pages {
		text.WriteString(pt.Text)
		text.WriteByte('\n')
	}
	if !looksLikeLoan(d.FileName, text.String()) {
		return
	}
	err := p.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.UpdateDocument(d.ID, func(d *store.Document) error { d.Priority = store.PriorityHigh; return nil })
		return err
	})
	if err == nil {
		p.log.Info("Loan document: priority raised to high", "doc_id", d.ID)
		p.publish(Event{Type: EventPriorities, DocID: d.ID, Status: "priority 0"})
	}
}
