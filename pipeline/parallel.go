package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idp/idp/stage"
)

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
				if err := p.holdPage(ctx); err != nil {
					fail(err)
					return
				}
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

// runPage runs one page's extraction with a time limit (stage 4: the rules, or a model
// call, which also honours ctx). A page past its limit is abandoned and fails its try for
// good: a page that slow is a hostile or broken input, and trying again would only burn the
// same time. (Stage 1's pages have their limit in the worker pool, which kills the worker.)
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
		return zero, stage.NewPermanent(fmt.Errorf("page %d took longer than the page time limit (%s)", page, limit))
	case <-ctx.Done():
		return zero, context.Cause(ctx)
	}
}
