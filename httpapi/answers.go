package httpapi

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// answers keeps the encoded cached-data answers of cached pages in memory, so that reading a
// cached page again costs a map lookup and a write: no bbolt transaction, no JSON decoding or
// encoding. An answer is kept with the store's CacheGeneration of its document, read before
// the record was: when the document's records change (a page extracted again, a reprocess, a
// delete), the generation moves and the answer is made again. The answers are bounded in
// bytes; past the bound the oldest go first.
type answers struct {
	max int64

	mu    sync.RWMutex
	m     map[pageKey]*answer
	order []pageKey // insertion order, oldest first from head
	head  int
	size  int64
}

type pageKey struct {
	id   string
	page int
}

// answer is one encoded answer, with its headers ready to set.
type answer struct {
	gen    uint64
	body   []byte
	etag   string
	hEtag  []string
	length []string
}

func newAnswers(maxBytes int64) *answers {
	return &answers{max: maxBytes, m: map[pageKey]*answer{}}
}

func newAnswer(gen uint64, body []byte) *answer {
	h := fnv.New64a()
	h.Write(body)
	etag := `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	return &answer{gen: gen, body: body, etag: etag, hEtag: []string{etag}, length: []string{strconv.Itoa(len(body))}}
}

// get is the answer kept for k if it is of generation gen.
func (a *answers) get(k pageKey, gen uint64) *answer {
	a.mu.RLock()
	ans := a.m[k]
	a.mu.RUnlock()
	if ans == nil || ans.gen != gen {
		return nil
	}
	return ans
}

func (a *answers) put(k pageKey, ans *answer) {
	cost := int64(len(ans.body) + len(k.id) + 64)
	if cost > a.max {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.m[k]; ok {
		a.size -= int64(len(old.body) + len(k.id) + 64)
	} else {
		a.order = append(a.order, k)
	}
	a.m[k] = ans
	a.size += cost
	for a.size > a.max && a.head < len(a.order) {
		old := a.order[a.head]
		a.order[a.head] = pageKey{}
		a.head++
		if v, ok := a.m[old]; ok {
			a.size -= int64(len(v.body) + len(old.id) + 64)
			delete(a.m, old)
		}
	}
	if a.head > len(a.order)/2 {
		a.order = append(a.order[:0], a.order[a.head:]...)
		a.head = 0
	}
}

// Headers of a kept answer, shared (never modified).
var (
	hJSON    = []string{"application/json"}
	hNoCache = []string{"no-cache"}
)

// write sends ans, or 304 Not Modified when the client already has it (If-None-Match).
func (ans *answer) write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = hJSON
	// The client may keep it but must ask again: an ETag answers the question cheaply.
	h["Cache-Control"] = hNoCache
	h["Etag"] = ans.hEtag
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && etagMatch(inm, ans.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = ans.length
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ans.body)
}

// etagMatch reports whether an If-None-Match header lists etag (or is "*"); weak tags
// compare by their value (RFC 9110 13.1.2).
func etagMatch(header []string, etag string) bool {
	for _, line := range header {
		for _, tag := range strings.Split(line, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == etag || tag == "*" {
				return true
			}
		}
	}
	return false
}
