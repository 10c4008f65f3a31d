package llm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/idp/idp/retry"
)

// Breaker states.
const (
	BreakerClosed   = "closed"    // calls go through
	BreakerOpen     = "open"      // calls wait for the cooldown to end
	BreakerHalfOpen = "half_open" // one call probes the endpoint; the others wait for it
)

// gate is the one limiter all page workers share for LLM calls: at most concurrency calls
// in flight, none while a rate-limit pause (429, Retry-After, x-ratelimit-reset-*) lasts,
// and none while the circuit breaker is open. The breaker opens after threshold calls in a
// row failed (5xx, timeouts, resets); after cooldown one call probes the endpoint, and its
// success closes the breaker, its failure opens it again.
type gate struct {
	clock     retry.Clock
	slots     chan struct{}
	threshold int
	cooldown  time.Duration

	mu         sync.Mutex
	pauseUntil time.Time
	pauseWhy   string
	state      string
	failures   int // in a row
	openUntil  time.Time
	opened     int // times the breaker opened
	probing    bool
	changed    chan struct{} // closed and replaced when the state changes
}

func newGate(clock retry.Clock, concurrency, threshold int, cooldown time.Duration) *gate {
	return &gate{
		clock: clock, slots: make(chan struct{}, concurrency), threshold: threshold, cooldown: cooldown,
		state: BreakerClosed, changed: make(chan struct{}),
	}
}

// broadcast wakes every waiter; mu must be held.
func (g *gate) broadcast() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// pass is one admitted call; done must be called with its outcome.
type pass struct {
	g     *gate
	probe bool
	once  sync.Once
}

// Outcomes of a call, for the breaker.
type callOutcome int

const (
	outcomeOK        callOutcome = iota // the endpoint answered (any status but 5xx and 429)
	outcomeFailure                      // 5xx, timeout, reset: counts towards opening
	outcomeNeutral                      // rate-limited, or cancelled by us: says nothing
	outcomeRateLimit                    // 429: neutral for the breaker
)

// acquire waits until a call may go out: no pause, breaker not open (or this call is the
// probe), a free slot. A wait that would end after deadline (when set) fails at once with
// ErrLLMUnavailable or ErrCircuitOpen rather than sleeping in vain.
func (g *gate) acquire(ctx context.Context, deadline time.Time) (*pass, error) {
	for {
		g.mu.Lock()
		now := g.clock.Now()
		var wait time.Duration
		var why error
		probe := false
		switch {
		case now.Before(g.pauseUntil):
			wait, why = g.pauseUntil.Sub(now), fmt.Errorf("%w: rate limited (%s)", ErrUnavailable, g.pauseWhy)
		case g.state == BreakerOpen && now.Before(g.openUntil):
			wait, why = g.openUntil.Sub(now), fmt.Errorf("%w after %d failed calls in a row", ErrCircuitOpen, g.failures)
		case g.state == BreakerOpen:
			g.state, g.probing = BreakerHalfOpen, false
			fallthrough
		case g.state == BreakerHalfOpen:
			if g.probing {
				wait = -1 // until the probe ends
			} else {
				g.probing, probe = true, true
			}
		}
		changed := g.changed
		g.mu.Unlock()
		if wait > 0 && !deadline.IsZero() && now.Add(wait).After(deadline) {
			return nil, fmt.Errorf("%w; resumes in %s, past this page's time budget", why, wait.Round(time.Millisecond))
		}
		if wait != 0 {
			var timer <-chan time.Time
			if wait > 0 {
				timer = g.clock.After(wait)
			}
			select {
			case <-changed:
			case <-timer:
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
			continue
		}
		select {
		case g.slots <- struct{}{}:
		case <-ctx.Done():
			if probe {
				g.endProbe()
			}
			return nil, context.Cause(ctx)
		}
		// A pause may have begun while this call waited for its slot.
		g.mu.Lock()
		paused := g.clock.Now().Before(g.pauseUntil)
		g.mu.Unlock()
		if paused {
			<-g.slots
			if probe {
				g.endProbe()
			}
			continue
		}
		return &pass{g: g, probe: probe}, nil
	}
}

func (g *gate) endProbe() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.probing = false
	g.broadcast()
}

// done returns the slot and records the outcome.
func (p *pass) done(o callOutcome) {
	p.once.Do(func() {
		<-p.g.slots
		p.g.record(o, p.probe)
	})
}

func (g *gate) record(o callOutcome, probe bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch o {
	case outcomeOK:
		g.failures = 0
		if g.state != BreakerClosed {
			g.state = BreakerClosed
			g.broadcast()
		}
	case outcomeFailure:
		g.failures++
		if probe || (g.state == BreakerClosed && g.failures >= g.threshold) {
			g.state, g.openUntil = BreakerOpen, g.clock.Now().Add(g.cooldown)
			g.opened++
			g.broadcast()
		}
	}
	if probe {
		g.probing = false
		g.broadcast()
	}
}

// pause holds every call until until (a 429's Retry-After, or a rate-limit window that
// is used up).
func (g *gate) pause(until time.Time, why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.pauseUntil) {
		g.pauseUntil, g.pauseWhy = until, why
		g.broadcast()
	}
}

// GateStatus is the state of the shared LLM limiter and circuit breaker.
type GateStatus struct {
	Breaker             string     `json:"breaker"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	OpenUntil           *time.Time `json:"open_until,omitempty"`
	TimesOpened         int        `json:"times_opened"`
	PausedUntil         *time.Time `json:"paused_until,omitempty"`
	PauseReason         string     `json:"pause_reason,omitempty"`
	InFlight            int        `json:"in_flight"`
	Concurrency         int        `json:"concurrency"`
}

func (g *gate) status() GateStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	st := GateStatus{Breaker: g.state, ConsecutiveFailures: g.failures, TimesOpened: g.opened,
		InFlight: len(g.slots), Concurrency: cap(g.slots)}
	if g.state == BreakerOpen {
		if now.Before(g.openUntil) {
			t := g.openUntil
			st.OpenUntil = &t
		} else {
			st.Breaker = BreakerHalfOpen
		}
	}
	if now.Before(g.pauseUntil) {
		t := g.pauseUntil
		st.PausedUntil, st.PauseReason = &t, g.pauseWhy
	}
	return st
}
