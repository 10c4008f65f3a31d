package store

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// generations let a reader keep something made from a document's cached records (an encoded
// HTTP answer) and know cheaply when it may be out of date: a counter per document, moved
// after every commit that writes or drops one of its cached records. The counters are hashed:
// a fixed number of them, shared, so that another document's change may move a document's
// counter too (a needless miss), while its own change always does.
type generations struct {
	seed maphash.Seed
	n    [1024]atomic.Uint64
}

func newGenerations() *generations { return &generations{seed: maphash.MakeSeed()} }

func (g *generations) of(docID string) *atomic.Uint64 {
	return &g.n[maphash.String(g.seed, docID)%uint64(len(g.n))]
}

// CacheGeneration is the counter of docID's cached records. Read it before reading the
// records: whatever was read is current as long as the counter has not moved, since it moves
// only after the change is committed.
func (db *DB) CacheGeneration(docID string) uint64 { return db.gens.of(docID).Load() }

// cacheChanged moves the counter of the document that key (or prefix) belongs to once tx has
// committed.
func (tx *Tx) cacheChanged(key string) {
	// Keys are "{stage prefix}/{doc_id}/...": the document is the second element. A prefix
	// that names no document (all of a stage, or everything) moves every counter.
	_, rest, _ := strings.Cut(key, "/")
	id, _, _ := strings.Cut(rest, "/")
	if !ValidID(id) {
		tx.tx.OnCommit(func() {
			for i := range tx.db.gens.n {
				tx.db.gens.n[i].Add(1)
			}
		})
		return
	}
	g := tx.db.gens.of(id)
	tx.tx.OnCommit(func() { g.Add(1) })
}
