package pipeline

import (
	"context"
	"sync"

	"github.com/idp/idp/store"
)

// pageCommits commits a stage's per-page results without holding the page's worker: the
// page's write goes to a group commit (store.DB.Batch) in the background while the worker
// takes the next page, so the commits of pages made meanwhile share one transaction and one
// sync. A page is reported (its progress event, its log line, its counters) only once its
// commit is done: what is reported cached survives a kill -9. A page whose commit never
// happened (the process died first) is simply computed again.
type pageCommits struct {
	db  *store.DB
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
	// later, when not nil, takes the page's write instead of a commit of its own.
	later *carried
}

// newPageCommits returns the commits of a stage with todo pages to make. A stage with one
// page (every stage of a one-page document) does not commit that page on its own: its
// write is carried in c to the stage's end, which follows at once (what carried says). Its
// checkpoint is then written and deleted in one transaction, and it is reported after that
// commit.
func newPageCommits(db *store.DB, todo int, c *carried) *pageCommits {
	if todo == 1 {
		return &pageCommits{db: db, later: c}
	}
	return &pageCommits{db: db}
}

// add commits write (which must be re-runnable, as Batch says), then calls reported.
func (c *pageCommits) add(ctx context.Context, write func(tx *store.Tx) error, reported func()) {
	if c.later != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.later.add(write, reported)
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// A page that was made is committed even when its document's try is being cancelled.
		if err := c.db.Batch(context.WithoutCancel(ctx), write); err != nil {
			c.mu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.mu.Unlock()
			return
		}
		reported()
	}()
}

// failed is the first commit that failed so far, if any: the stage stops taking pages.
func (c *pageCommits) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// wait returns when every added commit is done, with the first failure.
func (c *pageCommits) wait() error {
	c.wg.Wait()
	return c.failed()
}

// carried holds a running document's writes that need not be durable on their own: a quick
// stage's end (stages 1 to 3 finish within milliseconds of each other on a born-digital
// document) is not committed at once but with the document's next commit, which follows
// without anything slow in between. A small document then commits four times fewer and
// waits for four syncs fewer. What a carried write records is announced (its event, its log
// line, its counters) only once the commit that carries it is done, so nothing is reported
// that a kill -9 could lose; a crash before that commit loses only work that is redone in
// milliseconds (stage 1's page checkpoints stay until stage 1's end is committed). A
// document's carried writes are its own: one worker runs it, so no locking.
type carried struct {
	writes   []func(tx *store.Tx) error
	announce []func()
}

// add carries write to the next commit; announce runs once that commit is done.
func (c *carried) add(write func(tx *store.Tx) error, announce func()) {
	c.writes = append(c.writes, write)
	if announce != nil {
		c.announce = append(c.announce, announce)
	}
}

// take returns write preceded by the carried writes, and reported preceded by the carried
// announcements, and empties c. Either argument may be nil. The returned write re-runs
// every carried write each time it runs, as store.DB.Batch may ask.
func (c *carried) take(write func(tx *store.Tx) error, reported func()) (func(tx *store.Tx) error, func()) {
	writes, announce := c.writes, c.announce
	c.writes, c.announce = nil, nil
	all := func(tx *store.Tx) error {
		for _, w := range writes {
			if err := w(tx); err != nil {
				return err
			}
		}
		if write != nil {
			return write(tx)
		}
		return nil
	}
	done := func() {
		for _, a := range announce {
			a()
		}
		if reported != nil {
			reported()
		}
	}
	return all, done
}

// empty reports whether nothing is carried.
func (c *carried) empty() bool { return len(c.writes) == 0 }

// commit commits the carried writes with write (either may be nil) in one group commit and
// then runs the announcements and reported. When the commit fails the carried writes stay
// carried, for the commit that records the try's end.
func (c *carried) commit(ctx context.Context, db *store.DB, write func(tx *store.Tx) error, reported func()) error {
	writes, announce := c.writes, c.announce
	all, done := c.take(write, reported)
	if err := db.Batch(ctx, all); err != nil {
		c.writes, c.announce = writes, announce
		return err
	}
	done()
	return nil
}
