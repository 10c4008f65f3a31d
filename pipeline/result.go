package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// Result assembles the result format of a document from its cached records. Stages that are
// not done (or were made by another configuration) leave their part empty; Status says
// where the document stands.
//
// With S3, records of a completed document that bbolt lacks are read through first.
func (p *Processor) Result(ctx context.Context, id string) (stage.Result, error) {
	p.adopt(ctx, id)
	for try := 0; ; try++ {
		res, missing, err := p.result(ctx, id)
		// Up to three rounds: the mapping names the pages whose records to read.
		if err != nil || try == 2 || !p.readThroughResult(ctx, missing) {
			return res, err
		}
	}
}

// result is Result from bbolt alone; missing lists the records (key -> version) a completed
// document lacks there.
func (p *Processor) result(ctx context.Context, id string) (stage.Result, map[string]string, error) {
	res := stage.Result{DocID: id, Accounts: []stage.Account{}, Pages: []stage.PageResult{}}
	missing := map[string]string{}
	err := p.db.View(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err != nil {
			return err
		}
		res.File, res.Status, res.Error, res.TotalPages = d.FileName, string(d.Status), d.Error, d.Pages
		res.Warnings = d.Warnings
		for _, f := range d.FailedPages {
			res.FailedPages = append(res.FailedPages, stage.FailedPage{Page: f.Page, Reason: f.Reason})
		}
		cache := func(key, version string) (store.Record, error) {
			r, err := tx.Cache(key)
			if errors.Is(err, store.ErrNotFound) && d.Status == store.StatusCompleted {
				missing[key] = version
			}
			return r, err
		}
		var split AccountSplit
		if r, err := cache(store.AccountsKey(id), p.versions.split); err == nil && r.Decode(p.versions.split, &split) == nil {
			res.Accounts = split.Accounts
		}
		var ft FullText
		read := map[int]stage.PageText{}
		if r, err := cache(store.OCRKey(id), p.versions.ocr); err == nil && r.Decode(p.versions.ocr, &ft) == nil {
			for _, pt := range ft.Pages {
				read[pt.Page] = pt
			}
			// The stage 1 record is what the result says of the file (a document imported
			// from a bucket has no such fields on its record).
			res.Warnings, res.FailedPages = ft.Warnings, nil
			for _, pt := range ft.Pages {
				if pt.Error != "" {
					res.FailedPages = append(res.FailedPages, stage.FailedPage{Page: pt.Page, Reason: pt.Error})
				}
			}
		}
		var m PageMapping
		if r, err := cache(store.MappingKey(id), p.versions.analysis); err == nil && r.Decode(p.versions.analysis, &m) == nil {
			for _, pm := range m.Pages {
				pt := read[pm.Page]
				res.Pages = append(res.Pages, stage.PageResult{Page: pm.Page, AccountIndex: pm.AccountIndex, AccountNumber: pm.AccountNumber,
					Source: pt.Source, Data: stage.Fields{}, Blank: pt.Blank, Error: pt.Error})
			}
		}
		for i := range res.Pages {
			var pd PageData
			r, err := cache(store.PageDataKey(id, res.Pages[i].Page), p.versions.extract)
			if err == nil && r.Decode(p.versions.extract, &pd) == nil {
				res.Pages[i].Data, res.Pages[i].Evidence = pd.Data, pd.Evidence
			}
		}
		return nil
	})
	return res, missing, err
}

// PageData returns the cached stage 4 record of one page; store.ErrNotFound when it is not
// (yet) cached under the running configuration.
func (p *Processor) PageData(ctx context.Context, id string, page int) (PageData, error) {
	var pd PageData
	err := p.db.GetCached(ctx, store.PageDataKey(id, page), p.versions.extract, &pd)
	if errors.Is(err, store.ErrStale) {
		err = fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return pd, err
}

// current reports whether every cached record of a completed document was made by the
// running configuration. A document done under another configuration (another DPI,
// extractor, model, schema) is stale and must run again; its still-current stages are reused.
func (p *Processor) current(tx *store.Tx, d store.Document) bool {
	check := func(key, version string) bool {
		r, err := tx.Cache(key)
		if errors.Is(err, store.ErrNotFound) && p.db.Remote() != nil {
			return true // evicted, or imported from S3: read through when needed
		}
		return err == nil && r.Version == version
	}
	if !check(store.OCRKey(d.ID), p.versions.ocr) || !check(store.AccountsKey(d.ID), p.versions.split) ||
		!check(store.MappingKey(d.ID), p.versions.analysis) {
		return false
	}
	for i := range d.Pages {
		if !check(store.PageDataKey(d.ID, i), p.versions.extract) {
			return false
		}
	}
	return true
}

// requeueStale queues again, at low priority, every completed document whose results were
// made by another configuration, so that current results are waiting before anyone asks.
// A completed document carries the version of the configuration that made its results, and
// the store indexes them by it: those of the running configuration are not read at all, so a
// start costs the stale documents, not all of them. A document completed by an older idp
// (no version) has its records checked once and is then stamped.
func (p *Processor) requeueStale(ctx context.Context) (int, error) {
	version := p.versions.extract
	// Find them in a read transaction (the unversioned ones need their records read), then
	// stamp and queue them in a short write one that checks each again.
	var stale, current []string
	err := p.db.View(ctx, func(tx *store.Tx) error {
		stale, current = stale[:0], current[:0]
		return tx.CompletedOtherThan(version, func(id, made string) error {
			if made != "" {
				stale = append(stale, id)
				return nil
			}
			d, err := tx.Document(id)
			if err != nil {
				return err
			}
			if p.current(tx, d) {
				current = append(current, id)
			} else {
				stale = append(stale, id)
			}
			return nil
		})
	})
	if err != nil || len(stale)+len(current) == 0 {
		return 0, err
	}
	n := 0
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		n = 0
		for _, id := range current {
			d, err := tx.Document(id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err != nil || d.Status != store.StatusCompleted || d.ResultsVersion != "" {
				continue
			}
			d.ResultsVersion = version
			if err := tx.PutDocument(&d); err != nil {
				return err
			}
		}
		for _, id := range stale {
			d, err := tx.Document(id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err != nil || d.Status != store.StatusCompleted {
				continue // deleted or moved on meanwhile
			}
			d.Status, d.Attempts, d.Stage = store.StatusQueued, 0, ""
			if err := tx.PutDocument(&d); err != nil {
				return err
			}
			if err := p.queue.Push(tx, d.ID, store.PriorityLow, store.PushOptions{}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if n > 0 {
		p.log.Info("Queued documents whose results were made by another configuration", "documents", n)
	}
	return n, err
}
