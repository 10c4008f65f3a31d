package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idp/idp/store"
)

// Retention: a document that finished (completed or failed) longer ago than Config.Retain is
// deleted with everything it owns (its record, progress, cached results, original PDF, page
// images and, with S3, its objects), by a sweep that runs in the background and by hand
// (`idp cache gc`). A document that is queued or being processed, or that someone read through
// the API in the last OpenedGrace, is never swept.

// OpenedGrace is how recently a read through the API keeps a document from being swept.
const OpenedGrace = time.Hour

// openedFlushEvery is how often the reads kept in memory are written to the database: a read
// never becomes a write of its own, one transaction a minute records them all. A crash loses
// at most this much, which the sweep allows for.
const openedFlushEvery = time.Minute

// ErrNoRetention is returned by a sweep without a retention period.
var ErrNoRetention = errors.New("no retention period: give one, e.g. 90d")

// retention is the processor's state for retention: reads not yet recorded, and totals.
type retention struct {
	mu     sync.Mutex
	opened map[string]time.Time // doc id -> last read through the API since the last flush
	stats  RetentionStats
}

// RetentionStats are the sweeps' totals since start.
type RetentionStats struct {
	// Retain is the configured period ("90d"), "off" without one.
	Retain string `json:"retain"`
	// Sweeps and Deleted count the sweeps that ran (not dry runs) and the documents they
	// deleted.
	Sweeps    int64      `json:"sweeps"`
	Deleted   int64      `json:"deleted"`
	LastSweep *time.Time `json:"last_sweep,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// RetentionStats returns a copy of the retention totals.
func (p *Processor) RetentionStats() RetentionStats {
	p.ret.mu.Lock()
	defer p.ret.mu.Unlock()
	st := p.ret.stats
	st.Retain = FormatRetention(p.cfg.Retain)
	return st
}

// Touch records that someone read document id through the API now. It costs a map write: the
// database learns it at the next flush.
func (p *Processor) Touch(id string) {
	now := p.now()
	p.ret.mu.Lock()
	defer p.ret.mu.Unlock()
	if p.ret.opened == nil {
		p.ret.opened = map[string]time.Time{}
	}
	p.ret.opened[id] = now
}

// flushOpened writes the reads kept in memory to the database in one transaction.
func (p *Processor) flushOpened(ctx context.Context) error {
	p.ret.mu.Lock()
	pending := p.ret.opened
	p.ret.opened = nil
	p.ret.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	err := p.db.Update(ctx, func(tx *store.Tx) error {
		for id, at := range pending {
			if err := tx.SetOpened(id, at); err != nil && !errors.Is(err, store.ErrInvalidID) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Keep them for the next flush, unless newer reads came meanwhile.
		p.ret.mu.Lock()
		if p.ret.opened == nil {
			p.ret.opened = map[string]time.Time{}
		}
		for id, at := range pending {
			if at.After(p.ret.opened[id]) {
				p.ret.opened[id] = at
			}
		}
		p.ret.mu.Unlock()
		return fmt.Errorf("record document reads: %w", err)
	}
	return nil
}

// lastOpened is the latest read of id: in memory, or in the database plus what a crash may
// have lost of it.
func (p *Processor) lastOpened(tx *store.Tx, id string) time.Time {
	p.ret.mu.Lock()
	last := p.ret.opened[id]
	p.ret.mu.Unlock()
	if at, ok := tx.Opened(id); ok && at.Add(openedFlushEvery).After(last) {
		last = at.Add(openedFlushEvery)
	}
	return last
}

// SweepOptions configure one sweep.
type SweepOptions struct {
	// Retain is how long after it finished a document is kept.
	Retain time.Duration
	// DryRun lists what would be deleted and deletes nothing.
	DryRun bool
}

// Swept is a document a sweep deleted (or, dry, would delete).
type Swept struct {
	DocID      string    `json:"doc_id"`
	FileName   string    `json:"file_name"`
	Status     string    `json:"status"`
	FinishedAt time.Time `json:"finished_at"`
	// Age is the time since it finished: "93d4h".
	Age        string `json:"age"`
	AgeSeconds int64  `json:"age_seconds"`
}

// errKept stops the deletion of a document that stopped being due between the listing and
// its transaction (queued again, opened).
var errKept = errors.New("no longer due for deletion")

// Sweep deletes every document that finished longer ago than opts.Retain and is neither
// queued, nor being processed, nor read in the last OpenedGrace. Each is checked again in the
// transaction that deletes it. It returns what it deleted (with DryRun, what it would
// delete), oldest first; deletions that failed are in the error.
func (p *Processor) Sweep(ctx context.Context, opts SweepOptions) ([]Swept, error) {
	if opts.Retain <= 0 {
		return nil, ErrNoRetention
	}
	var due []Swept
	err := p.db.View(ctx, func(tx *store.Tx) error {
		docs, err := tx.Documents()
		now := p.now()
		for i := len(docs) - 1; i >= 0; i-- { // oldest first
			if s, ok := p.expired(tx, docs[i], now, opts.Retain); ok {
				due = append(due, s)
			}
		}
		return err
	})
	if err != nil || opts.DryRun {
		return due, err
	}
	var deleted []Swept
	var errs []error
	for _, s := range due {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		gone, err := p.remove(ctx, s.DocID, func(tx *store.Tx, d store.Document) error {
			if _, ok := p.expired(tx, d, p.now(), opts.Retain); !ok {
				return errKept
			}
			return nil
		})
		if gone {
			p.ret.mu.Lock()
			p.ret.stats.Deleted++ // before the log line, so that whoever reads that sees it counted
			p.ret.mu.Unlock()
			p.log.Info("Retention: deleted "+s.DocID, "doc_id", s.DocID, "file", s.FileName, "status", s.Status,
				"age", s.Age, "finished_at", s.FinishedAt, "retain", FormatRetention(opts.Retain))
			deleted = append(deleted, s)
		}
		if err != nil && !errors.Is(err, errKept) && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("retention: delete %s: %w", s.DocID, err))
		}
	}
	err = errors.Join(errs...)
	now := p.now()
	p.ret.mu.Lock()
	p.ret.stats.Sweeps++
	p.ret.stats.LastSweep = &now
	p.ret.stats.LastError = ""
	if err != nil {
		p.ret.stats.LastError = err.Error()
	}
	p.ret.mu.Unlock()
	return deleted, err
}

// expired reports whether d is due for deletion at now.
func (p *Processor) expired(tx *store.Tx, d store.Document, now time.Time, retain time.Duration) (Swept, bool) {
	if d.Status != store.StatusCompleted && d.Status != store.StatusFailed || d.FinishedAt == nil {
		return Swept{}, false
	}
	age := now.Sub(*d.FinishedAt)
	if age < retain {
		return Swept{}, false
	}
	if _, _, queued := p.queue.Position(tx, d.ID); queued || p.queue.InFlight(tx, d.ID) {
		return Swept{}, false
	}
	if now.Sub(p.lastOpened(tx, d.ID)) < OpenedGrace {
		return Swept{}, false
	}
	return Swept{DocID: d.ID, FileName: d.FileName, Status: string(d.Status), FinishedAt: *d.FinishedAt,
		Age: FormatRetention(age.Truncate(time.Hour)), AgeSeconds: int64(age.Seconds())}, true
}

// housekeep runs beside the workers: it records reads every openedFlushEvery and, with a
// retention period, sweeps at start and every Config.RetainEvery. It ends with ctx, after a
// last flush.
func (p *Processor) housekeep(ctx context.Context) {
	flush := time.NewTicker(openedFlushEvery)
	defer flush.Stop()
	var sweep <-chan time.Time
	if p.cfg.Retain > 0 {
		t := time.NewTicker(p.cfg.RetainEvery)
		defer t.Stop()
		sweep = t.C
		p.sweepNow(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := p.flushOpened(fctx); err != nil {
				p.log.Warn("Cannot record document reads at stop", "err", err)
			}
			cancel()
			return
		case <-flush.C:
			if err := p.flushOpened(ctx); err != nil {
				p.log.Warn("Cannot record document reads", "err", err)
			}
		case <-sweep:
			p.sweepNow(ctx)
		}
	}
}

func (p *Processor) sweepNow(ctx context.Context) {
	deleted, err := p.Sweep(ctx, SweepOptions{Retain: p.cfg.Retain})
	switch {
	case err != nil && ctx.Err() == nil:
		p.log.Error("Retention sweep failed", "deleted", len(deleted), "err", err)
	case len(deleted) > 0:
		p.log.Info("Retention sweep", "deleted", len(deleted), "retain", FormatRetention(p.cfg.Retain))
	default:
		p.log.Debug("Retention sweep: nothing to delete", "retain", FormatRetention(p.cfg.Retain))
	}
}

var retentionPattern = regexp.MustCompile(`^(\d+)d(.*)$`)

// ParseRetention reads a retention period: "90d", "36h", "1d12h", or "0", "off" or "" for
// none. A number without a unit is an error, not days: "90" could mean anything.
func ParseRetention(s string) (time.Duration, error) {
	switch s {
	case "", "0", "off":
		return 0, nil
	}
	var d time.Duration
	rest := s
	if m := retentionPattern.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100*365 {
			return 0, fmt.Errorf("retention %q: too many days", s)
		}
		d, rest = time.Duration(days)*24*time.Hour, m[2]
	}
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("retention %q: want days and/or a Go duration, e.g. 90d, 36h, 1d12h, or off", s)
		}
		d += r
	}
	if d <= 0 {
		return 0, fmt.Errorf("retention %q: must be positive (or off)", s)
	}
	return d, nil
}

// FormatRetention writes a period as ParseRetention reads it: "90d", "1d12h", "36m", "off".
func FormatRetention(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d <= 0:
		return "off"
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d > day:
		return fmt.Sprintf("%dd%s", d/day, shortDuration(d%day))
	}
	return shortDuration(d)
}

// shortDuration is d.String() without its zero tail: "4h", "1h30m", "36m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
