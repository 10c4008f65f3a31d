package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idp/idp/store"
)

// FullText is stage 1's record (ocr_cache/{doc_id}/full_text.json).
type FullText struct {
	DocID      string     `json:"doc_id"`
	TotalPages int        `json:"total_pages"`
	Pages      []PageText `json:"pages"`
}

// AccountSplit is stage 2's record (account_cache/{doc_id}/accounts.json).
type AccountSplit struct {
	DocID    string    `json:"doc_id"`
	Accounts []Account `json:"accounts"`
}

// PageMapping is stage 3's record (page_mapping/{doc_id}/mapping.json).
type PageMapping struct {
	DocID string    `json:"doc_id"`
	Pages []PageMap `json:"pages"`
}

// PageData is stage 4's record for one page (page_data/{doc_id}/page_{n}.json).
type PageData struct {
	Page             int      `json:"page"`
	AccountIndex     int      `json:"account_index"`
	AccountNumber    string   `json:"account_number"`
	Source           string   `json:"source"`
	Data             Fields   `json:"data"`
	ExtractionTime   int64    `json:"extraction_time"`
	Extractor        string   `json:"extractor"`
	PromptTokens     int      `json:"prompt_tokens,omitempty"`
	CompletionTokens int      `json:"completion_tokens,omitempty"`
	Flags            []string `json:"flags,omitempty"`
}

// runPipeline runs the four stages of one document; each stage serves its cached result
// when the running configuration made it, and resumes from its page checkpoints otherwise.
func (p *Processor) runPipeline(ctx, soft context.Context, doc store.Document) error {
	path, err := p.OriginalPath(ctx, doc.ID)
	if errors.Is(err, fs.ErrNotExist) {
		return permanent(fmt.Errorf("the uploaded file is missing: %w", err))
	}
	if err != nil {
		return err // S3 unreachable: try again later
	}
	n, err := p.checkLimits(doc.ID, path)
	if err != nil {
		return err
	}
	if doc.Pages != n {
		err := p.db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.UpdateDocument(doc.ID, func(d *store.Document) error { d.Pages = n; return nil })
			return err
		})
		if err != nil {
			return err
		}
		doc.Pages = n
	}
	pages, err := p.stageOCR(ctx, soft, doc, path)
	if err != nil {
		return err
	}
	p.raiseLoanPriority(ctx, doc, pages)
	accounts, err := p.stageSplit(ctx, doc, pages)
	if err != nil {
		return err
	}
	mapping, err := p.stageAnalysis(ctx, doc, pages, accounts)
	if err != nil {
		return err
	}
	return p.stageExtract(ctx, soft, doc, pages, mapping)
}

// checkLimits opens the PDF and refuses it, before anything is rendered, when it is
// encrypted, unreadable, or claims too many or too large pages.
func (p *Processor) checkLimits(id, path string) (int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if st.Size() > p.cfg.MaxFileBytes {
		return 0, permanent(fmt.Errorf("file is %d bytes; the limit is %d (--max-file-mb)", st.Size(), p.cfg.MaxFileBytes))
	}
	pdf, err := p.renderer.Open(path)
	if err != nil {
		if errors.Is(err, ErrEncrypted) || errors.Is(err, ErrCorruptPDF) {
			return 0, permanent(err)
		}
		return 0, err
	}
	defer pdf.Close()
	n := pdf.NumPages()
	switch {
	case n <= 0:
		return 0, permanent(fmt.Errorf("%w: it has no pages", ErrCorruptPDF))
	case n > p.cfg.MaxPages:
		return 0, permanent(fmt.Errorf("the PDF has %d pages; the limit is %d (--max-pages)", n, p.cfg.MaxPages))
	}
	dpi := float64(p.cfg.OCRDPI)
	for i := range n {
		w, h, err := pdf.PageSize(i)
		if err != nil {
			return 0, permanent(fmt.Errorf("%w: page %d cannot be loaded: %v", ErrCorruptPDF, i, err))
		}
		px := (w / 72 * dpi) * (h / 72 * dpi)
		if w <= 0 || h <= 0 {
			return 0, permanent(fmt.Errorf("%w: page %d has an empty size (%.0fx%.0f pt)", ErrCorruptPDF, i, w, h))
		}
		if px > float64(p.cfg.MaxPagePixels) {
			return 0, permanent(fmt.Errorf("page %d is %.1f x %.1f in: %.0f million pixels at %d dpi; the limit is %.0f million (--max-page-pixels)",
				i, w/72, h/72, px/1e6, p.cfg.OCRDPI, float64(p.cfg.MaxPagePixels)/1e6))
		}
	}
	return n, nil
}

func (p *Processor) stageStart(ctx context.Context, id, stage string, done, total int) error {
	now := p.now()
	var sp store.StageProgress
	err := p.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		sp, err = tx.UpdateProgress(id, stage, func(sp *store.StageProgress) {
			sp.Status = store.StageRunning
			sp.Error = ""
			sp.SetDone(done, total)
			sp.StartedAt = &now
			sp.FinishedAt = nil
		})
		if err != nil {
			return err
		}
		_, err = tx.UpdateDocument(id, func(d *store.Document) error { d.Stage = stage; return nil })
		return err
	})
	if err != nil {
		return err
	}
	p.updateActive(id, stage, sp)
	p.publish(Event{Type: EventStage, DocID: id, Stage: stage, Status: string(store.StageRunning), Progress: sp.Percent, Done: done, Total: total})
	return nil
}

// completeStage marks stage completed inside tx.
func completeStage(tx *store.Tx, id, stage string, total int) (store.StageProgress, error) {
	now := tx.Now()
	return tx.UpdateProgress(id, stage, func(sp *store.StageProgress) {
		sp.Status = store.StageCompleted
		sp.Error = ""
		sp.SetDone(total, total)
		if sp.StartedAt == nil {
			sp.StartedAt = &now
		}
		sp.FinishedAt = &now
	})
}

func (p *Processor) stageDone(id, stage string, sp store.StageProgress) {
	p.updateActive(id, stage, sp)
	p.publish(Event{Type: EventStage, DocID: id, Stage: stage, Status: string(store.StageCompleted), Progress: 100, Done: sp.Done, Total: sp.Total})
}

// cached serves a stage's whole result from the cache when the running configuration made
// it, and marks the stage completed.
func (p *Processor) cached(ctx context.Context, id, stage, key, version string, total int, v any) (bool, error) {
	err := p.db.GetCached(ctx, key, version, v)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrStale):
		p.counters.cache(false)
		return false, nil
	default:
		return false, err
	}
	p.counters.cache(true)
	var sp store.StageProgress
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		sp, err = completeStage(tx, id, stage, total)
		return err
	})
	if err != nil {
		return false, err
	}
	p.stageDone(id, stage, sp)
	return true, nil
}

// --- stage 1 ---

func (p *Processor) stageOCR(ctx, soft context.Context, doc store.Document, path string) ([]PageText, error) {
	id, n, version := doc.ID, doc.Pages, p.versions.ocr
	var ft FullText
	if ok, err := p.cached(ctx, id, StageOCR, store.OCRKey(id), version, n, &ft); err != nil || ok {
		if ok {
			p.log.Info("OCR result for "+id+" served from cache", "doc_id", id)
		}
		return ft.Pages, err
	}
	started := p.now()
	pages := make([]PageText, n)
	have := make([]bool, n)
	err := p.db.View(ctx, func(tx *store.Tx) error {
		return tx.Checkpoints(store.CheckpointPrefix(id)+StageOCR+"/", func(key string, r store.Record) error {
			var pt PageText
			if r.Decode(version, &pt) != nil || pt.Page < 0 || pt.Page >= n {
				return nil // another version's checkpoint: recompute that page
			}
			pages[pt.Page], have[pt.Page] = pt, true
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	var todo []int
	for i := range n {
		if !have[i] {
			todo = append(todo, i)
		}
	}
	done := n - len(todo)
	p.log.Info("Stage 1: OCR extraction for "+id, "doc_id", id, "pages", n, "cached_pages", done)
	if err := p.stageStart(ctx, id, StageOCR, done, n); err != nil {
		return nil, err
	}
	p.counters.page(StageOCR, "cached", int64(done))
	var mu sync.Mutex
	err = p.forPages(ctx, soft, todo, func(ctx context.Context, page int) error {
		pt, err := p.readShared(ctx, id, page)
		if err != nil {
			p.counters.page(StageOCR, "failed", 1)
			return err
		}
		var sp store.StageProgress
		err = p.db.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			if err := tx.PutCheckpoint(store.CheckpointKey(id, StageOCR, page), version, pt); err != nil {
				return err
			}
			var err error
			sp, err = tx.UpdateProgress(id, StageOCR, func(sp *store.StageProgress) { sp.SetDone(sp.Done+1, n) })
			return err
		})
		if err != nil {
			return err
		}
		mu.Lock()
		pages[page] = pt
		mu.Unlock()
		p.counters.page(StageOCR, "done", 1)
		p.counters.source(pt.Source)
		p.log.Info(fmt.Sprintf("OCR'd page %d for %s", page, id), "doc_id", id, "page", page, "source", pt.Source, "confidence", round1(pt.Confidence))
		p.pageDone(id, StageOCR, page, sp)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ft = FullText{DocID: id, TotalPages: n, Pages: pages}
	var sp store.StageProgress
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.PutCache(store.OCRKey(id), version, ft); err != nil {
			return err
		}
		if _, err := tx.DeleteCheckpoints(store.CheckpointPrefix(id) + StageOCR + "/"); err != nil {
			return err
		}
		var err error
		sp, err = completeStage(tx, id, StageOCR, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.counters.stage(StageOCR, p.now().Sub(started))
	p.log.Info("Cached OCR result for "+id, "doc_id", id, "pages", n, "seconds", round1(p.now().Sub(started).Seconds()))
	p.stageDone(id, StageOCR, sp)
	return pages, nil
}

func (p *Processor) pageDone(id, stage string, page int, sp store.StageProgress) {
	p.updateActive(id, stage, sp)
	pg := page
	p.publish(Event{Type: EventPage, DocID: id, Stage: stage, Page: &pg, Progress: sp.Percent, Done: sp.Done, Total: sp.Total})
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

// --- stages 2 and 3 ---

func (p *Processor) stageSplit(ctx context.Context, doc store.Document, pages []PageText) ([]Account, error) {
	id, version := doc.ID, p.versions.split
	var split AccountSplit
	if ok, err := p.cached(ctx, id, StageSplit, store.AccountsKey(id), version, 1, &split); err != nil || ok {
		return split.Accounts, err
	}
	started := p.now()
	p.log.Info("Stage 2: Account splitting for "+id, "doc_id", id)
	if err := p.stageStart(ctx, id, StageSplit, 0, 1); err != nil {
		return nil, err
	}
	accounts, err := p.splitter.Split(ctx, pages)
	if err != nil {
		return nil, fmt.Errorf("account splitting: %w", err)
	}
	if accounts == nil {
		accounts = []Account{}
	}
	split = AccountSplit{DocID: id, Accounts: accounts}
	var sp store.StageProgress
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.PutCache(store.AccountsKey(id), version, split); err != nil {
			return err
		}
		var err error
		sp, err = completeStage(tx, id, StageSplit, 1)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.counters.stage(StageSplit, p.now().Sub(started))
	p.log.Info(fmt.Sprintf("Cached account split for %s (%d accounts)", id, len(accounts)), "doc_id", id, "accounts", len(accounts))
	p.stageDone(id, StageSplit, sp)
	return accounts, nil
}

func (p *Processor) stageAnalysis(ctx context.Context, doc store.Document, pages []PageText, accounts []Account) ([]PageMap, error) {
	id, n, version := doc.ID, doc.Pages, p.versions.analysis
	var m PageMapping
	if ok, err := p.cached(ctx, id, StageAnalysis, store.MappingKey(id), version, n, &m); err != nil || ok {
		return m.Pages, err
	}
	started := p.now()
	p.log.Info(fmt.Sprintf("Stage 3: Page analysis for %s (%d pages)", id, n), "doc_id", id, "pages", n)
	if err := p.stageStart(ctx, id, StageAnalysis, 0, n); err != nil {
		return nil, err
	}
	maps, err := p.splitter.MapPages(ctx, pages, accounts)
	if err != nil {
		return nil, fmt.Errorf("page analysis: %w", err)
	}
	m = PageMapping{DocID: id, Pages: maps}
	var sp store.StageProgress
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.PutCache(store.MappingKey(id), version, m); err != nil {
			return err
		}
		var err error
		sp, err = completeStage(tx, id, StageAnalysis, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.counters.stage(StageAnalysis, p.now().Sub(started))
	p.log.Info("Cached page mapping for "+id, "doc_id", id)
	p.stageDone(id, StageAnalysis, sp)
	return maps, nil
}

// --- stage 4 ---

func (p *Processor) stageExtract(ctx, soft context.Context, doc store.Document, pages []PageText, maps []PageMap) error {
	id, n, version := doc.ID, doc.Pages, p.versions.extract
	started := p.now()
	p.readThroughPages(ctx, id, n, version)
	have := make([]bool, n)
	err := p.db.View(ctx, func(tx *store.Tx) error {
		return tx.CacheEntries(store.PageDataPrefix(id), func(e store.CacheEntry) error {
			if e.Record.Version != version {
				return nil
			}
			if page, ok := pageOfKey(e.Key); ok && page < n {
				have[page] = true
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	var todo []int
	for i := range n {
		if !have[i] {
			todo = append(todo, i)
		}
	}
	done := n - len(todo)
	if len(todo) == 0 {
		var sp store.StageProgress
		err := p.db.Update(ctx, func(tx *store.Tx) error {
			var err error
			sp, err = completeStage(tx, id, StageExtraction, n)
			return err
		})
		if err == nil {
			p.counters.cache(true)
			p.stageDone(id, StageExtraction, sp)
		}
		return err
	}
	p.counters.cache(false)
	p.log.Info(fmt.Sprintf("Stage 4: LLM extraction for %s (%d pages)", id, n), "doc_id", id, "pages", n, "cached_pages", done, "extractor", p.extract.Name())
	if err := p.stageStart(ctx, id, StageExtraction, done, n); err != nil {
		return err
	}
	p.counters.page(StageExtraction, "cached", int64(done))
	err = p.forPagesIn(p.extSlots, ctx, soft, todo, func(ctx context.Context, page int) error {
		_, err := p.extractPage(ctx, id, n, page, pages[page], maps[page])
		return err
	})
	if err != nil {
		return err
	}
	var sp store.StageProgress
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		sp, err = completeStage(tx, id, StageExtraction, n)
		return err
	})
	if err != nil {
		return err
	}
	p.counters.stage(StageExtraction, p.now().Sub(started))
	p.stageDone(id, StageExtraction, sp)
	return nil
}

// extractPage runs the extractor on one page and caches the result together with the
// stage's progress.
func (p *Processor) extractPage(ctx context.Context, id string, n, page int, pt PageText, m PageMap) (PageData, error) {
	res, err := p.extractShared(ctx, id, page, pt, m)
	if err != nil {
		p.counters.page(StageExtraction, "failed", 1)
		return PageData{}, fmt.Errorf("extraction of page %d: %w", page, err)
	}
	if res.Fields == nil {
		res.Fields = Fields{}
	}
	if res.Extractor == "" {
		res.Extractor = p.extract.Name()
	}
	pd := PageData{
		Page: page, AccountIndex: m.AccountIndex, AccountNumber: m.AccountNumber, Source: pt.Source,
		Data: res.Fields, ExtractionTime: p.now().Unix(), Extractor: res.Extractor,
		PromptTokens: res.PromptTokens, CompletionTokens: res.CompletionTokens, Flags: res.Flags,
	}
	var sp store.StageProgress
	err = p.db.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		if err := tx.PutCache(store.PageDataKey(id, page), p.versions.extract, pd); err != nil {
			return err
		}
		var err error
		sp, err = tx.UpdateProgress(id, StageExtraction, func(sp *store.StageProgress) {
			if sp.Status != store.StageCompleted {
				sp.SetDone(sp.Done+1, n)
			}
		})
		return err
	})
	if err != nil {
		return PageData{}, err
	}
	p.counters.page(StageExtraction, "done", 1)
	p.counters.tokens(pd.PromptTokens, pd.CompletionTokens)
	p.log.Info(fmt.Sprintf("Processed and cached page %d for %s", page, id), "doc_id", id, "page", page, "extractor", pd.Extractor)
	p.pageDone(id, StageExtraction, page, sp)
	return pd, nil
}

func pageOfKey(key string) (int, bool) {
	i := strings.LastIndex(key, "/page_")
	if i < 0 || !strings.HasSuffix(key, ".json") {
		return 0, false
	}
	n, err := strconv.Atoi(key[i+len("/page_") : len(key)-len(".json")])
	return n, err == nil && n >= 0
}

// --- page parallelism ---

// forPages runs fn for every page, at most PageWorkers pages at once across the whole
// processor. At the first error no new page starts; pages already running finish (and are
// cached, so a retry does not pay for them again) and the first error is returned. When soft
// ends, likewise no new page starts and forPages returns errStopping.
func (p *Processor) forPages(ctx, soft context.Context, pages []int, fn func(ctx context.Context, page int) error) error {
	return p.forPagesIn(p.pages, ctx, soft, pages, fn)
}

// forPagesIn is forPages with the page slots of slots: stage 4 has its own
// (ExtractWorkers), since a model's pages wait on the network, not on the CPUs.
func (p *Processor) forPagesIn(slots chan struct{}, ctx, soft context.Context, pages []int, fn func(ctx context.Context, page int) error) error {
	if len(pages) == 0 {
		return nil
	}
	var (
		stopped  atomic.Bool
		failOnce sync.Once
		firstErr error
	)
	failed := make(chan struct{})
	fail := func(err error) {
		failOnce.Do(func() { firstErr = err; close(failed) })
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for _, pg := range pages {
			select {
			case next <- pg:
			case <-ctx.Done():
				return
			case <-failed:
				return
			case <-soft.Done():
				stopped.Store(true)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range min(len(pages), cap(slots)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pg := range next {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				if soft.Err() != nil {
					<-slots
					stopped.Store(true)
					return
				}
				err := fn(ctx, pg)
				<-slots
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	switch {
	case firstErr != nil:
		return firstErr
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case stopped.Load():
		return errStopping
	}
	return nil
}

// runPage runs one page's work with a time limit. MuPDF and Tesseract cannot be interrupted
// from Go, so a page past its limit is abandoned: its goroutine finishes in the background
// and its result is dropped, and the page fails for good (a page that slow is a hostile or
// broken input, and trying again would only burn the same time).
func runPage[T any](ctx context.Context, limit time.Duration, page int, work func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if v := recover(); v != nil {
				r.err = fmt.Errorf("page %d: panic: %v", page, v)
			}
			ch <- r
		}()
		r.v, r.err = work()
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	var zero T
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		return zero, permanent(fmt.Errorf("page %d took longer than the page time limit (%s)", page, limit))
	case <-ctx.Done():
		return zero, context.Cause(ctx)
	}
}
