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
}

func newPageCommits(db *store.DB) *pageCommits { return &pageCommits{db: db} }

// add commits write (which must be re-runnable, as Batch says), then calls reported.
func (c *pageCommits) add(ctx context.Context, write func(tx *store.Tx) error, reported func()) {
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
