package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// runPipeline runs the four stages of one document; each stage serves its cached result
// when the running configuration made it, and resumes from its page checkpoints otherwise.
// What it leaves in c (the last stage's end) is for the caller to commit with the
// document's own end.
func (p *Processor) runPipeline(ctx, soft context.Context, doc store.Document, c *carried) error {
	pages, err := p.stageOCR(ctx, soft, &doc, c)
	if err != nil {
		return err
	}
	p.raiseLoanPriority(doc, pages, c)
	accounts, err := p.stageSplit(ctx, doc, pages, c)
	if err != nil {
		return err
	}
	mapping, err := p.stageAnalysis(ctx, doc, pages, accounts, c)
	if err != nil {
		return err
	}
	return p.stageExtract(ctx, soft, doc, pages, mapping, c)
}

// stageStart commits a stage's start together with what c carries, before the stage's pages
// (slow: a worker, OCR, a model) start.
func (p *Processor) stageStart(ctx context.Context, c *carried, id, name string, done, total int) error {
	write, announce := p.startStage(id, name, done, total)
	return c.commit(ctx, p.db, write, announce)
}

// startStage is a stage's start: the write that marks it running (and the document in it),
// and the announcement (the active document's stage, the event) to make once that is
// committed.
func (p *Processor) startStage(id, name string, done, total int) (write func(tx *store.Tx) error, announce func()) {
	now := p.now()
	running := func(sp *store.StageProgress) {
		sp.Status = store.StageRunning
		sp.Error = ""
		sp.SetDone(done, total)
		sp.StartedAt = &now
		sp.FinishedAt = nil
	}
	write = func(tx *store.Tx) error {
		if _, err := tx.UpdateProgress(id, name, running); err != nil {
			return err
		}
		_, err := tx.UpdateDocument(id, func(d *store.Document) error { d.Stage = name; return nil })
		return err
	}
	announce = func() {
		var sp store.StageProgress
		running(&sp)
		p.updateActive(id, name, sp)
		p.publish(Event{Type: EventStage, DocID: id, Stage: name, Status: string(store.StageRunning), Progress: sp.Percent, Done: done, Total: total})
	}
	return write, announce
}

// quickStageStart starts a stage that runs in one step (stages 2 and 3: milliseconds of
// CPU). Its start is not committed on its own but with its end (the write it returns goes to
// finishStage, carried in turn): syncs set the pace of small documents. Its running event
// goes out now; the status shows the stage pending until it is done.
func (p *Processor) quickStageStart(id, name string, total int) (write func(tx *store.Tx) error) {
	write, announce := p.startStage(id, name, 0, total)
	announce()
	return write
}

// completeStage marks stage completed inside tx.
func completeStage(tx *store.Tx, id, name string, total int) (store.StageProgress, error) {
	now := tx.Now()
	return tx.UpdateProgress(id, name, func(sp *store.StageProgress) {
		sp.Status = store.StageCompleted
		sp.Error = ""
		sp.SetDone(total, total)
		if sp.StartedAt == nil {
			sp.StartedAt = &now
		}
		sp.FinishedAt = &now
	})
}

func (p *Processor) stageDone(id, name string, sp store.StageProgress) {
	p.updateActive(id, name, sp)
	p.publish(Event{Type: EventStage, DocID: id, Stage: name, Status: string(store.StageCompleted), Progress: 100, Done: sp.Done, Total: sp.Total})
}

// cached serves a stage's whole result from the cache when the running configuration made
// it, and marks the stage completed.
func (p *Processor) cached(ctx context.Context, id, name, key, version string, total int, v any) (bool, error) {
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
	err = p.db.Batch(ctx, func(tx *store.Tx) error {
		var err error
		sp, err = completeStage(tx, id, name, total)
		return err
	})
	if err != nil {
		return false, err
	}
	p.stageDone(id, name, sp)
	return true, nil
}

// --- stage 1 ---

// stageOCR is stage 1. The document is opened (in a worker) only when a page has to be read:
// a document whose stage 1 is cached needs neither its file nor its password again. A page
// that fails alone is quarantined (checkpointed with its Error, listed in the document's
// FailedPages) and the rest goes on; a document none of whose pages can be read fails.
func (p *Processor) stageOCR(ctx, soft context.Context, doc *store.Document, c *carried) ([]stage.PageText, error) {
	id, version := doc.ID, p.versions.ocr
	var ft FullText
	if ok, err := p.cached(ctx, id, stage.OCRExtraction, store.OCRKey(id), version, doc.Pages, &ft); err != nil || ok {
		if ok {
			p.log.Info("OCR result for "+id+" served from cache", "doc_id", id)
			err = p.noteReading(ctx, doc, len(ft.Pages), ft.Warnings, failedPages(ft.Pages))
		}
		return ft.Pages, err
	}
	path, err := p.OriginalPath(ctx, id) // fetched from S3 when only there
	if errors.Is(err, fs.ErrNotExist) {
		return nil, stage.NewPermanent(fmt.Errorf("the uploaded file is missing: %w", err))
	}
	if err != nil {
		return nil, err // S3 unreachable: try again later
	}
	plan, err := p.inspect(ctx, id, path)
	if err != nil {
		return nil, err
	}
	p.plans.set(id, plan)
	for _, w := range plan.warnings {
		p.log.Warn("Warning for "+id+": "+w, "doc_id", id)
	}
	n := plan.pages
	started := p.now()
	pages := make([]stage.PageText, n)
	have := make([]bool, n)
	err = p.db.View(ctx, func(tx *store.Tx) error {
		return tx.Checkpoints(store.CheckpointPrefix(id)+stage.OCRExtraction+"/", func(key string, r store.Record) error {
			var pt stage.PageText
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
	// What the file showed goes with the stage's start: one commit.
	if write := noteReadingWrite(doc, n, plan.warnings, failedPages(pages)); write != nil {
		c.add(write, nil)
	}
	var todo []int
	for i := range n {
		if !have[i] {
			todo = append(todo, i)
		}
	}
	done := n - len(todo)
	p.log.Info("Stage 1: OCR extraction for "+id, "doc_id", id, "pages", n, "cached_pages", done)
	if err := p.stageStart(ctx, c, id, stage.OCRExtraction, done, n); err != nil {
		return nil, err
	}
	p.counters.page(stage.OCRExtraction, "cached", int64(done))
	var mu sync.Mutex
	commits := newPageCommits(p.db, len(todo), c)
	err = p.forPages(ctx, soft, todo, func(ctx context.Context, page int) error {
		pt, err := p.readPage(ctx, id, page, plan)
		if err != nil {
			p.counters.page(stage.OCRExtraction, "failed", 1)
			return err
		}
		mu.Lock()
		pages[page] = pt
		mu.Unlock()
		var sp store.StageProgress
		commits.add(ctx, func(tx *store.Tx) error {
			if err := tx.PutCheckpoint(store.CheckpointKey(id, stage.OCRExtraction, page), version, pt); err != nil {
				return err
			}
			if pt.Error != "" {
				_, err := tx.UpdateDocument(id, func(d *store.Document) error {
					d.FailedPages = append(d.FailedPages, store.PageFailure{Page: page, Reason: pt.Error})
					return nil
				})
				if err != nil {
					return err
				}
			}
			var err error
			sp, err = tx.UpdateProgress(id, stage.OCRExtraction, func(sp *store.StageProgress) { sp.SetDone(sp.Done+1, n) })
			return err
		}, func() {
			switch {
			case pt.Error != "":
				p.counters.page(stage.OCRExtraction, "quarantined", 1)
				p.log.Warn(fmt.Sprintf("OCR'd page %d for %s: quarantined", page, id), "doc_id", id, "page", page, "reason", pt.Error)
			default:
				p.counters.page(stage.OCRExtraction, "done", 1)
				p.counters.source(pt.Source, pt.Blank)
				p.log.Info(fmt.Sprintf("OCR'd page %d for %s", page, id), "doc_id", id, "page", page, "source", pt.Source,
					"blank", pt.Blank, "confidence", round1(pt.Confidence))
			}
			p.pageDone(id, stage.OCRExtraction, page, sp)
		})
		return commits.failed()
	})
	if cerr := commits.wait(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if failed := failedPages(pages); len(failed) == n {
		return nil, stage.NewPermanent(fmt.Errorf("no page could be read: page %d: %s", failed[0].Page, failed[0].Reason))
	}
	ft = FullText{DocID: id, TotalPages: n, Pages: pages, Warnings: plan.warnings}
	seconds := round1(p.now().Sub(started).Seconds())
	p.finishStage(c, id, stage.OCRExtraction, store.OCRKey(id), version, n, ft, started, func(tx *store.Tx) error {
		_, err := tx.DeleteCheckpoints(store.CheckpointPrefix(id) + stage.OCRExtraction + "/")
		return err
	}, func() {
		p.log.Info("Cached OCR result for "+id, "doc_id", id, "pages", n, "seconds", seconds)
	})
	return pages, nil
}

// failedPages are the quarantined pages of stage 1's answer.
func failedPages(pages []stage.PageText) []store.PageFailure {
	var out []store.PageFailure
	for _, pt := range pages {
		if pt.Error != "" {
			out = append(out, store.PageFailure{Page: pt.Page, Reason: pt.Error})
		}
	}
	return out
}

// noteReading records on the document what stage 1 found: its page count, the file's
// warnings, the pages quarantined so far. It writes only what changed.
func (p *Processor) noteReading(ctx context.Context, doc *store.Document, pages int, warnings []string, failed []store.PageFailure) error {
	write := noteReadingWrite(doc, pages, warnings, failed)
	if write == nil {
		return nil
	}
	return p.db.Batch(ctx, write)
}

// noteReadingWrite is noteReading's write, nil when nothing changed. It sets *doc to the
// record it writes.
func noteReadingWrite(doc *store.Document, pages int, warnings []string, failed []store.PageFailure) func(tx *store.Tx) error {
	if doc.Pages == pages && slices.Equal(doc.Warnings, warnings) && slices.Equal(doc.FailedPages, failed) {
		return nil
	}
	return func(tx *store.Tx) error {
		d, err := tx.UpdateDocument(doc.ID, func(d *store.Document) error {
			d.Pages, d.Warnings, d.FailedPages = pages, warnings, failed
			return nil
		})
		*doc = d
		return err
	}
}

// finishStage caches a stage's whole record and marks the stage completed in one write
// (with what also does there, when not nil), carried in c to the document's next commit;
// once that is done the stage is counted and announced, and logged (when not nil) runs.
func (p *Processor) finishStage(c *carried, id, name, key, version string, total int, record any, started time.Time, also func(tx *store.Tx) error, logged func()) {
	var sp store.StageProgress
	took := p.now().Sub(started) // the stage's own time, not the wait for the commit
	c.add(func(tx *store.Tx) error {
		if err := tx.PutCache(key, version, record); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		var err error
		sp, err = completeStage(tx, id, name, total)
		return err
	}, func() {
		p.counters.stage(name, took)
		p.stageDone(id, name, sp)
		if logged != nil {
			logged()
		}
	})
}

func (p *Processor) pageDone(id, name string, page int, sp store.StageProgress) {
	p.updateActive(id, name, sp)
	pg := page
	p.publish(Event{Type: EventPage, DocID: id, Stage: name, Page: &pg, Progress: sp.Percent, Done: sp.Done, Total: sp.Total})
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

// --- stages 2 and 3 ---

func (p *Processor) stageSplit(ctx context.Context, doc store.Document, pages []stage.PageText, c *carried) ([]stage.Account, error) {
	id, version := doc.ID, p.versions.split
	var split AccountSplit
	if ok, err := p.cached(ctx, id, stage.AccountSplitting, store.AccountsKey(id), version, 1, &split); err != nil || ok {
		return split.Accounts, err
	}
	started := p.now()
	p.log.Info("Stage 2: Account splitting for "+id, "doc_id", id)
	markStarted := p.quickStageStart(id, stage.AccountSplitting, 1)
	accounts, err := p.splitter.Split(ctx, pages)
	if err != nil {
		return nil, fmt.Errorf("account splitting: %w", err)
	}
	if accounts == nil {
		accounts = []stage.Account{}
	}
	split = AccountSplit{DocID: id, Accounts: accounts}
	p.finishStage(c, id, stage.AccountSplitting, store.AccountsKey(id), version, 1, split, started, markStarted, func() {
		p.log.Info(fmt.Sprintf("Cached account split for %s (%d accounts)", id, len(accounts)), "doc_id", id, "accounts", len(accounts))
	})
	return accounts, nil
}

func (p *Processor) stageAnalysis(ctx context.Context, doc store.Document, pages []stage.PageText, accounts []stage.Account, c *carried) ([]stage.PageMap, error) {
	id, n, version := doc.ID, doc.Pages, p.versions.analysis
	var m PageMapping
	if ok, err := p.cached(ctx, id, stage.PageAnalysis, store.MappingKey(id), version, n, &m); err != nil || ok {
		return m.Pages, err
	}
	started := p.now()
	p.log.Info(fmt.Sprintf("Stage 3: Page analysis for %s (%d pages)", id, n), "doc_id", id, "pages", n)
	markStarted := p.quickStageStart(id, stage.PageAnalysis, n)
	maps, err := p.splitter.MapPages(ctx, pages, accounts)
	if err != nil {
		return nil, fmt.Errorf("page analysis: %w", err)
	}
	m = PageMapping{DocID: id, Pages: maps}
	p.finishStage(c, id, stage.PageAnalysis, store.MappingKey(id), version, n, m, started, markStarted, func() {
		p.log.Info("Cached page mapping for "+id, "doc_id", id)
	})
	return maps, nil
}

// --- stage 4 ---

func (p *Processor) stageExtract(ctx, soft context.Context, doc store.Document, pages []stage.PageText, maps []stage.PageMap, c *carried) error {
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
		// Carried to the document's end, which follows at once.
		var sp store.StageProgress
		c.add(func(tx *store.Tx) error {
			var err error
			sp, err = completeStage(tx, id, stage.LLMExtraction, n)
			return err
		}, func() {
			p.counters.cache(true)
			p.stageDone(id, stage.LLMExtraction, sp)
		})
		return nil
	}
	p.counters.cache(false)
	p.log.Info(fmt.Sprintf("Stage 4: LLM extraction for %s (%d pages)", id, n), "doc_id", id, "pages", n, "cached_pages", done, "extractor", p.extract.Name())
	if err := p.stageStart(ctx, c, id, stage.LLMExtraction, done, n); err != nil {
		return err
	}
	p.counters.page(stage.LLMExtraction, "cached", int64(done))
	commits := newPageCommits(p.db, len(todo), c)
	err = p.forPagesIn(p.extSlots, ctx, soft, todo, func(ctx context.Context, page int) error {
		if _, err := p.extractPageWith(ctx, commits, id, n, page, pages[page], maps[page], stage.RelatedPages(pages, page)); err != nil {
			return err
		}
		return commits.failed()
	})
	if cerr := commits.wait(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Carried to the document's end, which follows at once.
	var sp store.StageProgress
	took := p.now().Sub(started)
	c.add(func(tx *store.Tx) error {
		var err error
		sp, err = completeStage(tx, id, stage.LLMExtraction, n)
		return err
	}, func() {
		p.counters.stage(stage.LLMExtraction, took)
		p.stageDone(id, stage.LLMExtraction, sp)
	})
	return nil
}

// extractPage runs the extractor on one page (beside its related pages) and caches the
// result together with the stage's progress; it returns once the result is committed.
func (p *Processor) extractPage(ctx context.Context, id string, n, page int, pt stage.PageText, m stage.PageMap, related []stage.PageText) (PageData, error) {
	return p.extractPageWith(ctx, nil, id, n, page, pt, m, related)
}

// extractPageWith is extractPage whose commit, with commits, goes to the background (the
// stage's own pages): the page is reported when it is committed, and the data returned is
// not yet cached.
func (p *Processor) extractPageWith(ctx context.Context, commits *pageCommits, id string, n, page int, pt stage.PageText, m stage.PageMap, related []stage.PageText) (PageData, error) {
	var res stage.Extraction
	if pt.Blank || pt.Error != "" {
		// Nothing to read: no extractor runs (a model would be paid for nothing).
		res.Extractor = "none"
	} else {
		var err error
		res, err = p.extractShared(ctx, id, page, pt, m, related)
		if err != nil {
			p.counters.page(stage.LLMExtraction, "failed", 1)
			return PageData{}, fmt.Errorf("extraction of page %d: %w", page, err)
		}
	}
	if res.Fields == nil {
		res.Fields = stage.Fields{}
	}
	if res.Extractor == "" {
		res.Extractor = p.extract.Name()
	}
	pd := PageData{
		Page: page, AccountIndex: m.AccountIndex, AccountNumber: m.AccountNumber, Source: pt.Source,
		Data: res.Fields, Evidence: res.Evidence, ExtractionTime: p.now().Unix(), Extractor: res.Extractor,
		PromptTokens: res.PromptTokens, CompletionTokens: res.CompletionTokens, Flags: res.Flags,
		Blank: pt.Blank, Error: pt.Error,
	}
	var sp store.StageProgress
	write := func(tx *store.Tx) error {
		if err := tx.PutCache(store.PageDataKey(id, page), p.versions.extract, pd); err != nil {
			return err
		}
		var err error
		sp, err = tx.UpdateProgress(id, stage.LLMExtraction, func(sp *store.StageProgress) {
			if sp.Status != store.StageCompleted {
				sp.SetDone(sp.Done+1, n)
			}
		})
		return err
	}
	reported := func() {
		p.counters.page(stage.LLMExtraction, "done", 1)
		p.counters.tokens(pd.PromptTokens, pd.CompletionTokens)
		p.log.Info(fmt.Sprintf("Processed and cached page %d for %s", page, id), "doc_id", id, "page", page, "extractor", pd.Extractor)
		p.pageDone(id, stage.LLMExtraction, page, sp)
	}
	if commits != nil {
		commits.add(ctx, write, reported)
		return pd, nil
	}
	if err := p.db.Batch(context.WithoutCancel(ctx), write); err != nil {
		return PageData{}, err
	}
	reported()
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
