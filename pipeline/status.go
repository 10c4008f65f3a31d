package pipeline

import (
	"context"
	"sort"
	"time"

	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// DocStatus is where a document stands: the shape of the background-status answer.
type DocStatus struct {
	DocID          string                 `json:"doc_id"`
	Status         string                 `json:"status"`
	Stage          string                 `json:"stage"`
	Progress       int                    `json:"progress"`
	PagesProcessed int                    `json:"pages_processed"`
	TotalPages     int                    `json:"total_pages"`
	Accounts       []stage.Account        `json:"accounts"`
	Stages         map[string]StageReport `json:"stages"`
	Error          string                 `json:"error,omitempty"`
	Attempts       int                    `json:"attempts"`
	Priority       int                    `json:"priority"`
	QueuePosition  *int                   `json:"queue_position,omitempty"`
	// Warnings and FailedPages: what stage 1 found wrong with the file without stopping it,
	// and the pages it could not read (quarantined), with why.
	Warnings    []string           `json:"warnings,omitempty"`
	FailedPages []stage.FailedPage `json:"failed_pages,omitempty"`
	// Node is the node that holds the document (several nodes only).
	Node string `json:"node,omitempty"`
}

// StageReport is one stage's part of DocStatus.
type StageReport struct {
	Status         string `json:"status"`
	Progress       int    `json:"progress"`
	PagesProcessed int    `json:"pages_processed"`
	TotalPages     int    `json:"total_pages"`
	Error          string `json:"error,omitempty"`
}

// stageWeight is each stage's share of a document's overall progress, by the time it takes.
var stageWeight = map[string]int{stage.OCRExtraction: 70, stage.AccountSplitting: 5, stage.PageAnalysis: 5, stage.LLMExtraction: 20}

// Status reports where a document stands.
func (p *Processor) Status(ctx context.Context, id string) (DocStatus, error) {
	var st DocStatus
	holder := p.adopt(ctx, id)
	err := p.db.View(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err != nil {
			return err
		}
		if st, err = p.statusOf(tx, d); err != nil {
			return err
		}
		if pos, _, ok := p.queue.Position(tx, id); ok {
			st.QueuePosition = &pos
		}
		return nil
	})
	st.Node = holder
	if err == nil && st.Status == string(store.StatusCompleted) && len(st.Accounts) == 0 {
		st.Accounts = p.remoteAccounts(ctx, id)
	}
	return st, err
}

// statusOf is where d stands, from its stages' progress and its accounts in bbolt: a few
// reads, inside tx.
func (p *Processor) statusOf(tx *store.Tx, d store.Document) (DocStatus, error) {
	id := d.ID
	st := DocStatus{DocID: id, Status: string(d.Status), TotalPages: d.Pages, Accounts: []stage.Account{},
		Stages: map[string]StageReport{}, Error: d.Error, Attempts: d.Attempts, Priority: int(d.Priority)}
	st.Warnings = d.Warnings
	for _, f := range d.FailedPages {
		st.FailedPages = append(st.FailedPages, stage.FailedPage{Page: f.Page, Reason: f.Reason})
	}
	total := 0
	for _, s := range stage.All {
		sp, err := tx.Progress(id, s)
		if err != nil {
			return st, err
		}
		st.Stages[s] = StageReport{Status: string(sp.Status), Progress: sp.Percent, PagesProcessed: sp.Done, TotalPages: sp.Total, Error: sp.Error}
		total += stageWeight[s] * sp.Percent
		if st.Stage == "" && sp.Status != store.StageCompleted {
			st.Stage = s
			st.PagesProcessed = sp.Done
		}
	}
	st.Progress = total / 100
	switch d.Status {
	case store.StatusCompleted:
		st.Stage, st.Progress, st.PagesProcessed = stage.Completed, 100, d.Pages
	case store.StatusFailed:
		st.Stage = stage.Failed
	}
	var split AccountSplit
	if r, err := tx.Cache(store.AccountsKey(id)); err == nil && r.Decode(p.versions.split, &split) == nil {
		st.Accounts = split.Accounts
	}
	return st, nil
}

// Listed is one document of a listing and where it stands.
type Listed struct {
	Document store.Document
	Status   DocStatus
}

// List pages through the documents, newest first, of one status or all (status empty), with
// where each stands (its stage bars): one read transaction, whose work is that of the page,
// not of the number of documents. total is the number of documents listed from.
func (p *Processor) List(ctx context.Context, status store.Status, offset, limit int) (docs []Listed, total int, err error) {
	err = p.db.View(ctx, func(tx *store.Tx) error {
		page, n, err := tx.DocumentsPage(status, offset, limit)
		if err != nil {
			return err
		}
		docs, total = make([]Listed, 0, len(page)), n
		for _, d := range page {
			st, err := p.statusOf(tx, d)
			if err != nil {
				return err
			}
			docs = append(docs, Listed{Document: d, Status: st})
		}
		return nil
	})
	return docs, total, err
}

// ProcessorStatus is the state of the processor as a whole.
type ProcessorStatus struct {
	Running       bool              `json:"running"`
	Workers       int               `json:"workers"`
	BusyWorkers   int               `json:"busy_workers"`
	PageWorkers   int               `json:"page_workers"`
	Queue         QueueStatus       `json:"queue"`
	Active        []Active          `json:"active_documents"`
	Documents     map[string]int    `json:"documents"`
	Totals        CountersSnapshot  `json:"totals"`
	StartedAt     *time.Time        `json:"started_at,omitempty"`
	UptimeSeconds float64           `json:"uptime_seconds"`
	Versions      map[string]string `json:"versions"`
	Retention     RetentionStats    `json:"retention"`
}

// QueueStatus is the queue part of ProcessorStatus.
type QueueStatus struct {
	Length     int            `json:"length"`
	ByPriority map[string]int `json:"by_priority"`
	Delayed    int            `json:"delayed"`
	InFlight   int            `json:"in_flight"`
}

// PriorityNames name the priorities in status answers.
var PriorityNames = [...]string{"high", "normal", "low"}

// ProcessorStatus reports workers, queue, active documents and totals. Its cost does not
// grow with the number of documents: the queue and the store keep counts.
func (p *Processor) ProcessorStatus(ctx context.Context) (ProcessorStatus, error) {
	qs, err := p.queue.Stats(ctx)
	if err != nil {
		return ProcessorStatus{}, err
	}
	st := ProcessorStatus{
		Workers: p.cfg.Workers, PageWorkers: p.cfg.PageWorkers,
		Queue:     QueueStatus{Length: qs.Queued(), ByPriority: map[string]int{}, Delayed: qs.Delayed, InFlight: qs.InFlight},
		Documents: map[string]int{},
		Totals:    p.counters.snapshot(),
		Versions:  p.Versions(),
		Active:    p.ActiveDocuments(),
		Retention: p.RetentionStats(),
	}
	for i, n := range qs.ByPriority {
		st.Queue.ByPriority[PriorityNames[i]] = n
	}
	sort.Slice(st.Active, func(i, j int) bool { return st.Active[i].Since.Before(st.Active[j].Since) })
	st.BusyWorkers = len(st.Active)
	p.mu.Lock()
	st.Running = p.running
	if p.running {
		started := p.started
		st.StartedAt = &started
		st.UptimeSeconds = p.now().Sub(started).Seconds()
	}
	p.mu.Unlock()
	err = p.db.View(ctx, func(tx *store.Tx) error {
		counts, err := tx.DocumentCounts()
		for s := range counts {
			st.Documents[string(s)] = counts.Status(s)
		}
		return err
	})
	return st, err
}
