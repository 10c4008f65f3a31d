// Package retry holds what waiting between tries needs, shared by the processor, the S3
// outbox and the LLM client: the Clock that tests replace, Sleep on it, and Backoff, the one
// curve of waits (attempt^4, capped, jittered).
//
// It imports nothing of idp, so that every package may use it.
package retry

import (
	"context"
	"math"
	"time"
)

// Clock is a time source. Tests replace it to make waits instant and visible.
type Clock interface {
	Now() time.Time
	// After is time.After.
	After(d time.Duration) <-chan time.Time
}

// System is the real clock.
type System struct{}

// Now is time.Now.
func (System) Now() time.Time { return time.Now() }

// After is time.After.
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits d on clock, or until ctx ends (then it returns the context's cause).
func Sleep(ctx context.Context, clock Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-clock.After(d):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Backoff is the wait before try attempt+1 after attempt failed tries (attempt >= 1): base *
// attempt^4, capped at max, then jittered by rnd (in [0, 1)) to between half and all of it.
// The jitter keeps tries that failed together (every page of an S3 outage, every worker
// behind one rate limit) from coming back together.
func Backoff(attempt int, base, max time.Duration, rnd float64) time.Duration {
	attempt = min(1e4, attempt) // base*attempt^4 stays finite
	d := float64(max)
	if attempt >= 1 {
		d = min(d, float64(base)*math.Pow(float64(attempt), 4))
	} else {
		d = min(d, float64(base))
	}
	return time.Duration(d/2 + rnd*d/2)
}
