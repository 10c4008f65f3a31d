package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// Control of documents and workers: force to the front, reprocess, retry, delete, restart.

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
	if err := p.ready(ctx); err != nil {
		return res, err
	}
	p.adopt(ctx, id)
	err := p.db.Update(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err != nil {
			return err
		}
		switch {
		case p.queue.InFlight(tx, id):
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
		if err := p.queue.Push(tx, id, store.PriorityHigh, store.PushOptions{Front: true}); err != nil {
			return err
		}
		pos, _, _ := p.queue.Position(tx, id)
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

// SetPassword gives the password of an encrypted document, for its next run (a reprocess
// after "encrypted: a password is needed"). It is kept in memory only, while the process
// runs: never in the database, the bucket or a log.
func (p *Processor) SetPassword(id, password string) {
	p.keys.set(id, password)
	p.plans.forget(id)
}

// Delete removes a document: its running try, its queue entry, its records and cache, its
// original file and rendered page images.
func (p *Processor) Delete(ctx context.Context, id string) error {
	if !store.ValidID(id) {
		return fmt.Errorf("%q: %w", id, store.ErrInvalidID)
	}
	p.adopt(ctx, id)
	p.cancelActive(id)
	gone, err := p.remove(ctx, id, nil)
	if gone {
		p.log.Info("Deleted "+id, "doc_id", id)
	}
	return err
}

// remove deletes a document's records, and its place in the queue, in one transaction (when
// check, if given, lets the document go), then its original file and page images. gone
// reports whether the records were deleted; err may then still name a file left behind.
func (p *Processor) remove(ctx context.Context, id string, check func(tx *store.Tx, d store.Document) error) (gone bool, err error) {
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(tx, d); err != nil {
				return err
			}
		}
		if err := p.queue.Remove(tx, id); err != nil {
			return err
		}
		return tx.DeleteDocument(id)
	})
	if err != nil {
		return false, err
	}
	p.keys.forget(id)
	p.plans.forget(id)
	p.publish(Event{Type: EventDeleted, DocID: id})
	var errs []error
	if err := p.files.Delete(ctx, store.OriginalKey(id)); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(p.files.Path("images/" + id)); err != nil {
		errs = append(errs, err)
	}
	return true, errors.Join(errs...)
}

// Reprocess drops a document's cached results from stage from (all stages when from is
// empty) onwards, resets their progress, and queues the document at the front of high
// priority.
func (p *Processor) Reprocess(ctx context.Context, id, from string) error {
	if err := p.ready(ctx); err != nil {
		return err
	}
	p.adopt(ctx, id)
	p.cancelActive(id)
	p.plans.forget(id)
	err := ResetDocument(ctx, p.db, p.queue, id, from)
	if err != nil {
		return err
	}
	p.log.Info("Reprocessing "+id, "doc_id", id, "from_stage", from)
	p.publish(Event{Type: EventQueued, DocID: id, Status: string(store.StatusQueued)})
	p.Wake()
	return nil
}

// ErrUnknownStage is returned for a stage name that is not one of Stages.
var ErrUnknownStage = errors.New("unknown stage")

// ResetDocument is Reprocess on a database without a running processor (`idp reprocess`
// when no server holds the database).
func ResetDocument(ctx context.Context, db *store.DB, q store.Queue, id, from string) error {
	first := 0
	if from != "" {
		first = -1
		for i, s := range stage.All {
			if s == from {
				first = i
			}
		}
		if first < 0 {
			return fmt.Errorf("%w %q: one of %v", ErrUnknownStage, from, stage.All)
		}
	}
	return db.Update(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err != nil {
			return err
		}
		prefixes := store.DocCachePrefixes(id)
		for i := first; i < len(stage.All); i++ {
			if _, err := tx.DeleteCache(prefixes[i]); err != nil {
				return err
			}
			if err := tx.DeleteProgress(id, stage.All[i]); err != nil {
				return err
			}
			if _, err := tx.DeleteCheckpoints(store.CheckpointPrefix(id) + stage.All[i] + "/"); err != nil {
				return err
			}
		}
		d.Status = store.StatusQueued
		d.Attempts = 0
		d.Error = ""
		d.Stage = ""
		if first == 0 {
			d.Warnings, d.FailedPages = nil, nil
		}
		d.FinishedAt = nil
		d.Priority = store.PriorityHigh
		if err := tx.PutDocument(&d); err != nil {
			return err
		}
		return q.Push(tx, id, store.PriorityHigh, store.PushOptions{Front: true})
	})
}

// Retry gives a failed document a fresh set of tries and queues it again; its cached pages
// are kept.
func (p *Processor) Retry(ctx context.Context, id string) error {
	if err := p.ready(ctx); err != nil {
		return err
	}
	p.adopt(ctx, id)
	err := p.db.Update(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err != nil {
			return err
		}
		d.Status, d.Attempts, d.Error, d.FinishedAt = store.StatusQueued, 0, "", nil
		if err := tx.PutDocument(&d); err != nil {
			return err
		}
		return p.queue.Push(tx, id, d.Priority, store.PushOptions{})
	})
	if err == nil {
		p.Wake()
	}
	return err
}
