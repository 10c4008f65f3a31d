package rules

import "sync"

// Parsed keeps the pages the rules have read, so that the split (stage 2), the page mapping
// (stage 3) and the extraction (stage 4) of a document read each page's layout once: the
// reading is most of what the rules cost. A page is known by its text, the only thing its
// reading depends on. It holds the pages of the last few documents (two generations of at
// most max pages) and is safe for concurrent use; a nil *Parsed reads every time.
type Parsed struct {
	mu       sync.Mutex
	max      int
	cur, old map[string]*page
}

// newParsed returns a cache that holds at least max pages.
func newParsed(max int) *Parsed {
	return &Parsed{max: max, cur: map[string]*page{}}
}

// New returns the rule-based splitter and extractor, sharing the pages they read.
func New() (Splitter, Extractor) {
	p := newParsed(1024)
	return Splitter{parsed: p}, Extractor{parsed: p}
}

func (c *Parsed) page(text string) *page {
	if c == nil {
		return newPage(text)
	}
	c.mu.Lock()
	p, ok := c.cur[text]
	if !ok {
		if p, ok = c.old[text]; ok {
			c.put(text, p)
		}
	}
	c.mu.Unlock()
	if ok {
		return p
	}
	p = newPage(text) // outside the lock: concurrent documents read their pages in parallel
	c.mu.Lock()
	c.put(text, p)
	c.mu.Unlock()
	return p
}

func (c *Parsed) put(text string, p *page) {
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, map[string]*page{}
	}
	c.cur[text] = p
}
