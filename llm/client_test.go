package llm

import (
	"net/http"
	"testing"
	"time"
)

func TestLLMRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &llmClient{cfg: Config{MaxRateLimitWait: time.Minute, Clock: fixedClock{now}}}
	cases := []struct {
		h    map[string]string
		want time.Duration
	}{
		{map[string]string{"Retry-After": "7"}, 7 * time.Second},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond},
		{map[string]string{"retry-after-ms": "250", "Retry-After": "1"}, 250 * time.Millisecond},
		{map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)}, 3 * time.Second},
		{map[string]string{"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s", "x-ratelimit-remaining-requests": "0"}, time.Second},
		{map[string]string{"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "20ms", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-remaining-requests": "5"}, 20 * time.Millisecond},
		{map[string]string{"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "20ms"}, 2 * time.Second},
		{map[string]string{"Retry-After": "3600"}, time.Minute},
		{map[string]string{}, 0},
	}
	for _, c2 := range cases {
		h := http.Header{}
		for k, v := range c2.h {
			h.Set(k, v)
		}
		if got := c.retryAfter(h); got != c2.want {
			t.Errorf("%v: got %s, want %s", c2.h, got, c2.want)
		}
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func (c fixedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
