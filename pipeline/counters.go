package pipeline

import (
	"sync"
	"time"
)

// Counters are the processor's running totals since start, for status pages and metrics.
type Counters struct {
	mu             sync.Mutex
	DocsCompleted  int64
	DocsFailed     int64
	DocSeconds     float64
	Pages          map[string]map[string]int64 // stage -> outcome (done, cached, failed) -> pages
	StageSeconds   map[string]float64
	StageRuns      map[string]int64
	StageHist      map[string][]uint64 // stage -> count per DurationBuckets bound (+Inf last)
	CacheHits      int64
	CacheMisses    int64
	OCRPages       int64
	TextLayerPages int64

	// Tokens spent by a model extractor on the pages extracted since start.
	PromptTokens, CompletionTokens int64
}

func newCounters() *Counters {
	return &Counters{Pages: map[string]map[string]int64{}, StageSeconds: map[string]float64{}, StageRuns: map[string]int64{},
		StageHist: map[string][]uint64{}}
}

func (c *Counters) page(stage, outcome string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Pages[stage] == nil {
		c.Pages[stage] = map[string]int64{}
	}
	c.Pages[stage][outcome] += n
}

func (c *Counters) stage(stage string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.StageSeconds[stage] += d.Seconds()
	c.StageRuns[stage]++
	h := c.StageHist[stage]
	if h == nil {
		h = make([]uint64, len(DurationBuckets)+1)
		c.StageHist[stage] = h
	}
	i := 0
	for i < len(DurationBuckets) && d.Seconds() > DurationBuckets[i] {
		i++
	}
	h[i]++
}

// DurationBuckets are the upper bounds, in seconds, of the stage duration histogram.
var DurationBuckets = []float64{0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

func (c *Counters) cache(hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hit {
		c.CacheHits++
	} else {
		c.CacheMisses++
	}
}

func (c *Counters) source(src string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if src == SourceOCR {
		c.OCRPages++
	} else {
		c.TextLayerPages++
	}
}

func (c *Counters) tokens(prompt, completion int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.PromptTokens += int64(prompt)
	c.CompletionTokens += int64(completion)
}

func (c *Counters) observeDocument(err error, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.DocSeconds += d.Seconds()
	if err == nil {
		c.DocsCompleted++
	} else if IsPermanent(err) {
		c.DocsFailed++
	}
}

// CountersSnapshot is a copy of the counters.
type CountersSnapshot struct {
	DocsCompleted  int64                       `json:"documents_completed"`
	DocsFailed     int64                       `json:"documents_failed"`
	Pages          map[string]map[string]int64 `json:"pages"`
	StageSeconds   map[string]float64          `json:"stage_seconds"`
	StageRuns      map[string]int64            `json:"stage_runs"`
	StageHist      map[string][]uint64         `json:"-"`
	CacheHits      int64                       `json:"cache_hits"`
	CacheMisses    int64                       `json:"cache_misses"`
	OCRPages       int64                       `json:"ocr_pages"`
	TextLayerPages int64                       `json:"text_layer_pages"`

	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// Snapshot copies the counters.
func (c *Counters) Snapshot() CountersSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CountersSnapshot{
		DocsCompleted: c.DocsCompleted, DocsFailed: c.DocsFailed,
		Pages: map[string]map[string]int64{}, StageSeconds: map[string]float64{}, StageRuns: map[string]int64{},
		StageHist: map[string][]uint64{},
		CacheHits: c.CacheHits, CacheMisses: c.CacheMisses, OCRPages: c.OCRPages, TextLayerPages: c.TextLayerPages,
		PromptTokens: c.PromptTokens, CompletionTokens: c.CompletionTokens,
	}
	for k, v := range c.Pages {
		s.Pages[k] = map[string]int64{}
		for o, n := range v {
			s.Pages[k][o] = n
		}
	}
	for k, v := range c.StageSeconds {
		s.StageSeconds[k] = v
	}
	for k, v := range c.StageRuns {
		s.StageRuns[k] = v
	}
	for k, v := range c.StageHist {
		s.StageHist[k] = append([]uint64(nil), v...)
	}
	return s
}

// Counters returns a snapshot of the running totals.
func (p *Processor) Counters() CountersSnapshot { return p.counters.Snapshot() }
