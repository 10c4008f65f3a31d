package store

import (
	"context"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Group commit. A bbolt commit syncs the file (two fdatasyncs), and only one runs at a time:
// with many small writes from many workers (a page's result, a document's state) the syncs,
// not the work, set the pace. Batch lets concurrent callers share one transaction and one
// sync: the first caller commits at once whatever has gathered; callers that come while it
// commits wait, and the first of them commits all of them next. A lone caller waits for
// nobody, so nothing is delayed to make a batch.

// batcher gathers the calls waiting for a commit.
type batcher struct {
	mu      sync.Mutex
	pending []*batchCall
	busy    bool // a caller is committing
}

type batchCall struct {
	fn   func(tx *Tx) error
	err  error
	wake chan bool // true: commit what is pending; false: done, err is set
}

// Batch runs fn in a read-write transaction that it may share with other callers of Batch,
// and returns once that transaction is committed (or fn's error): what fn wrote is then as
// durable as after Update. fn may run more than once (when another call in the same
// transaction fails, the others run again without it), so it must only write through tx and
// set variables it fully sets again on every run.
func (db *DB) Batch(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &batchCall{fn: fn, wake: make(chan bool, 1)}
	b := &db.batch
	b.mu.Lock()
	b.pending = append(b.pending, c)
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()
	if !lead && !<-c.wake {
		return c.err
	}
	// This caller commits everything pending, its own call included, then hands on.
	b.mu.Lock()
	calls := b.pending
	b.pending = nil
	b.mu.Unlock()
	db.commit(calls)
	b.mu.Lock()
	if len(b.pending) > 0 {
		next := b.pending[0]
		b.mu.Unlock()
		next.wake <- true
	} else {
		b.busy = false
		b.mu.Unlock()
	}
	return c.err
}

// commit runs calls in one transaction. A call that fails is dropped with its error and the
// rest run again in a new transaction.
func (db *DB) commit(calls []*batchCall) {
	self := calls
	for len(calls) > 0 {
		failed := -1
		err := db.bolt.Update(func(btx *bolt.Tx) error {
			tx := &Tx{tx: btx, now: db.now(), db: db}
			for i, c := range calls {
				if err := runCall(c, tx); err != nil {
					failed, c.err = i, err
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range calls {
				c.err = err // nil, or the commit's own failure
			}
			break
		}
		calls = append(calls[:failed:failed], calls[failed+1:]...)
	}
	for _, c := range self {
		select {
		case c.wake <- false:
		default: // the committing caller itself: nobody waits on its channel
		}
	}
}

// runCall runs one call's fn; a panic fails that call, not its neighbours.
func runCall(c *batchCall, tx *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in a batched transaction: %v", v)
		}
	}()
	return c.fn(tx)
}
