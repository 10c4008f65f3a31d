package pipeline

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/idp/idp/stage"
)

// CountersSnapshot is a copy of the processor's running totals since start, for status pages
// and metrics.
type CountersSnapshot struct {
	DocsCompleted  int64                       `json:"documents_completed"`
	DocsFailed     int64                       `json:"documents_failed"`
	DocSeconds     float64                     `json:"document_seconds"`
	Pages          map[string]map[string]int64 `json:"pages"` // stage -> outcome (done, cached, failed) -> pages
	StageSeconds   map[string]float64          `json:"stage_seconds"`
	StageRuns      map[string]int64            `json:"stage_runs"`
	StageHist      map[string][]uint64         `json:"-"` // stage -> count per DurationBuckets bound (+Inf last)
	CacheHits      int64                       `json:"cache_hits"`
	CacheMisses    int64                       `json:"cache_misses"`
	OCRPages       int64                       `json:"ocr_pages"`
	TextLayerPages int64                       `json:"text_layer_pages"`
	// BlankPages were rendered, found blank and not OCR'd.
	BlankPages int64 `json:"blank_pages"`

	// Tokens spent by a model extractor on the pages extracted since start.
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// DurationBuckets are the upper bounds, in seconds, of the stage duration histogram.
var DurationBuckets = []float64{0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// counters are the running totals, safe for concurrent use.
type counters struct {
	mu sync.Mutex
	c  CountersSnapshot
}

func newCounters() *counters {
	return &counters{c: CountersSnapshot{Pages: map[string]map[string]int64{}, StageSeconds: map[string]float64{},
		StageRuns: map[string]int64{}, StageHist: map[string][]uint64{}}}
}

func (c *counters) update(fn func(s *CountersSnapshot)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(&c.c)
}

func (c *counters) page(name, outcome string, n int64) {
	c.update(func(s *CountersSnapshot) {
		if s.Pages[name] == nil {
			s.Pages[name] = map[string]int64{}
		}
		s.Pages[name][outcome] += n
	})
}

func (c *counters) stage(name string, d time.Duration) {
	c.update(func(s *CountersSnapshot) {
		s.StageSeconds[name] += d.Seconds()
		s.StageRuns[name]++
		h := s.StageHist[name]
		if h == nil {
			h = make([]uint64, len(DurationBuckets)+1)
			s.StageHist[name] = h
		}
		i := 0
		for i < len(DurationBuckets) && d.Seconds() > DurationBuckets[i] {
			i++
		}
		h[i]++
	})
}

func (c *counters) cache(hit bool) {
	c.update(func(s *CountersSnapshot) {
		if hit {
			s.CacheHits++
		} else {
			s.CacheMisses++
		}
	})
}

// source counts a page read in stage 1 by where its text came from; blank is a page found
// blank.
func (c *counters) source(src string, blank bool) {
	c.update(func(s *CountersSnapshot) {
		switch {
		case blank:
			s.BlankPages++
		case src == stage.SourceOCR:
			s.OCRPages++
		default:
			s.TextLayerPages++
		}
	})
}

func (c *counters) tokens(prompt, completion int) {
	c.update(func(s *CountersSnapshot) {
		s.PromptTokens += int64(prompt)
		s.CompletionTokens += int64(completion)
	})
}

func (c *counters) observeDocument(err error, d time.Duration) {
	c.update(func(s *CountersSnapshot) {
		s.DocSeconds += d.Seconds()
		if err == nil {
			s.DocsCompleted++
		} else if stage.IsPermanent(err) {
			s.DocsFailed++
		}
	})
}

// snapshot copies the totals.
func (c *counters) snapshot() CountersSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.c
	s.Pages = make(map[string]map[string]int64, len(c.c.Pages))
	for k, v := range c.c.Pages {
		s.Pages[k] = maps.Clone(v)
	}
	s.StageSeconds = maps.Clone(c.c.StageSeconds)
	s.StageRuns = maps.Clone(c.c.StageRuns)
	s.StageHist = make(map[string][]uint64, len(c.c.StageHist))
	for k, v := range c.c.StageHist {
		s.StageHist[k] = slices.Clone(v)
	}
	return s
}

// Counters returns a copy of the running totals.
func (p *Processor) Counters() CountersSnapshot { return p.counters.snapshot() }
