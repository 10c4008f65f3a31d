package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	berrors "go.etcd.io/bbolt/errors"
)

// Counts and indexes kept as documents move, so that the processor status, /metrics and the
// listing do the same work with a hundred documents as with a hundred thousand. Each is
// changed in the same transaction as the record it describes (PutDocument, DeleteDocument,
// the BoltQueue's writes), so they are exactly as durable as the records: a kill -9 leaves
// both as of the last commit. CheckCounts recounts everything from the records and compares.

var (
	// bucketCounts: counter name -> big-endian int64. Names: "doc/{status}/{priority}",
	// "queue/{priority}" (queued, delayed included), "queue/delayed", "queue/inflight",
	// "outbox".
	bucketCounts = []byte("counts")
	// bucketDocsByTime: inverted created-at (big-endian) + doc id -> nothing. A cursor walks
	// it newest first.
	bucketDocsByTime = []byte("docs_by_time")
	// bucketDocsByStatus: status + 0 + inverted created-at + doc id -> nothing.
	bucketDocsByStatus = []byte("docs_by_status")
	// bucketDocsByResults: results version + 0 + doc id -> nothing, for completed documents:
	// at start, the documents completed under another configuration are found without
	// reading the others.
	bucketDocsByResults = []byte("docs_by_results")
)

// schemaVersion is the layout of the file this binary writes; metaSchema holds the file's.
// Version 2 added the counts, the document indexes and the delayed queue. Open brings an
// older file up to it (migrate).
const schemaVersion = 2

var metaSchema = []byte("schema")

func statusCountKey(s Status, p Priority) []byte { return []byte(fmt.Sprintf("doc/%s/%d", s, p)) }

func queueCountKey(p Priority) []byte { return []byte(fmt.Sprintf("queue/%d", p)) }

var (
	countDelayed  = []byte("queue/delayed")
	countInflight = []byte("queue/inflight")
	countOutbox   = []byte("outbox") // pending blob-tier writes
)

// Statuses lists every document status, in the order of a document's life.
var Statuses = []Status{StatusQueued, StatusProcessing, StatusCompleted, StatusFailed}

// count reads one counter (0 when absent).
func (tx *Tx) count(name []byte) int64 {
	b := tx.bucket(bucketCounts)
	if b == nil {
		return 0
	}
	v := b.Get(name)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// addCount adds delta to one counter.
func (tx *Tx) addCount(name []byte, delta int64) error {
	if delta == 0 {
		return nil
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(tx.count(name)+delta))
	return tx.bucket(bucketCounts).Put(name, v)
}

// migrated reports whether the file keeps the counts and indexes (a read-only file written
// by an older binary does not; readers then scan).
func (tx *Tx) migrated() bool {
	m := tx.bucket(bucketMeta)
	if m == nil {
		return false
	}
	v := m.Get(metaSchema)
	return len(v) == 8 && binary.BigEndian.Uint64(v) >= schemaVersion
}

// docIndexed is what the counts and indexes of a document depend on.
type docIndexed struct {
	Status         Status    `json:"status"`
	Priority       Priority  `json:"priority"`
	CreatedAt      time.Time `json:"created_at"`
	ResultsVersion string    `json:"results_version"`
}

func indexedOf(d *Document) docIndexed {
	return docIndexed{Status: d.Status, Priority: d.Priority, CreatedAt: d.CreatedAt, ResultsVersion: d.ResultsVersion}
}

func timeKey(at time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, ^uint64(at.UnixNano()))
	return append(k, id...)
}

func statusKey(s Status, at time.Time, id string) []byte {
	return append(append([]byte(s), 0), timeKey(at, id)...)
}

func resultsKey(version, id string) []byte {
	return append(append([]byte(version), 0), id...)
}

// reindex moves a document's counts and index entries from old (nil: it is new) to cur (nil:
// it is deleted).
func (tx *Tx) reindex(id string, old, cur *docIndexed) error {
	if old != nil && cur != nil && *old == *cur {
		return nil
	}
	byTime, byStatus, byResults := tx.bucket(bucketDocsByTime), tx.bucket(bucketDocsByStatus), tx.bucket(bucketDocsByResults)
	if old != nil {
		if err := tx.addCount(statusCountKey(old.Status, old.Priority), -1); err != nil {
			return err
		}
		if err := byTime.Delete(timeKey(old.CreatedAt, id)); err != nil {
			return err
		}
		if err := byStatus.Delete(statusKey(old.Status, old.CreatedAt, id)); err != nil {
			return err
		}
		if old.Status == StatusCompleted {
			if err := byResults.Delete(resultsKey(old.ResultsVersion, id)); err != nil {
				return err
			}
		}
	}
	if cur != nil {
		if err := tx.addCount(statusCountKey(cur.Status, cur.Priority), 1); err != nil {
			return err
		}
		if err := byTime.Put(timeKey(cur.CreatedAt, id), nil); err != nil {
			return err
		}
		if err := byStatus.Put(statusKey(cur.Status, cur.CreatedAt, id), nil); err != nil {
			return err
		}
		if cur.Status == StatusCompleted {
			if err := byResults.Put(resultsKey(cur.ResultsVersion, id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// storedIndexed decodes what the counts and indexes know of the stored document id; nil when
// there is none.
func (tx *Tx) storedIndexed(id string) (*docIndexed, error) {
	v := tx.bucket(bucketDocs).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var old docIndexed
	if err := json.Unmarshal(v, &old); err != nil {
		return nil, fmt.Errorf("decode document %s: %w", id, err)
	}
	return &old, nil
}

// DocCounts counts the documents by status and priority.
type DocCounts map[Status][MaxPriority + 1]int

// Status is the number of documents in status s.
func (c DocCounts) Status(s Status) int {
	n := 0
	for _, v := range c[s] {
		n += v
	}
	return n
}

// Total is the number of documents.
func (c DocCounts) Total() int {
	n := 0
	for s := range c {
		n += c.Status(s)
	}
	return n
}

// DocumentCounts counts the documents by status and priority: a few counter reads, whatever
// the number of documents.
func (tx *Tx) DocumentCounts() (DocCounts, error) {
	if !tx.migrated() {
		return tx.recountDocuments()
	}
	c := DocCounts{}
	for _, s := range Statuses {
		var byPrio [MaxPriority + 1]int
		for p := range byPrio {
			byPrio[p] = int(tx.count(statusCountKey(s, Priority(p))))
		}
		c[s] = byPrio
	}
	return c, nil
}

func (tx *Tx) recountDocuments() (DocCounts, error) {
	c := DocCounts{}
	for _, s := range Statuses {
		c[s] = [MaxPriority + 1]int{}
	}
	b := tx.bucket(bucketDocs)
	if b == nil {
		return c, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var d docIndexed
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode document %s: %w", k, err)
		}
		byPrio := c[d.Status]
		if d.Priority <= MaxPriority {
			byPrio[d.Priority]++
		}
		c[d.Status] = byPrio
		return nil
	})
	return c, err
}

// DocumentsPage lists documents newest first (of one status, or all when status is empty),
// skipping offset and returning at most limit, with the number there are in all. It reads
// the index: the cost is that of the offset and the page, not of the number of documents.
func (tx *Tx) DocumentsPage(status Status, offset, limit int) ([]Document, int, error) {
	if !tx.migrated() {
		all, err := tx.Documents()
		var docs []Document
		for _, d := range all {
			if status == "" || d.Status == status {
				docs = append(docs, d)
			}
		}
		total := len(docs)
		return docs[min(offset, total):min(offset+limit, total)], total, err
	}
	counts, err := tx.DocumentCounts()
	if err != nil {
		return nil, 0, err
	}
	index, prefix, total := tx.bucket(bucketDocsByTime), []byte(nil), counts.Total()
	if status != "" {
		index, prefix, total = tx.bucket(bucketDocsByStatus), append([]byte(status), 0), counts.Status(status)
	}
	var out []Document
	c := index.Cursor()
	skipped := 0
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
		if skipped < offset {
			skipped++
			continue
		}
		id := string(k[len(prefix)+8:])
		d, err := tx.Document(id)
		if err != nil {
			return nil, 0, fmt.Errorf("document index names %s: %w", id, err)
		}
		out = append(out, d)
	}
	return out, total, nil
}

// CompletedOtherThan calls fn with the id and results version of every completed document
// whose ResultsVersion is not version (an empty one included). Those under version are
// skipped by a seek, not read: the cost is that of the others.
func (tx *Tx) CompletedOtherThan(version string, fn func(id, resultsVersion string) error) error {
	if !tx.migrated() {
		docs, err := tx.Documents()
		if err != nil {
			return err
		}
		for _, d := range docs {
			if d.Status == StatusCompleted && d.ResultsVersion != version {
				if err := fn(d.ID, d.ResultsVersion); err != nil {
					return err
				}
			}
		}
		return nil
	}
	skip := append([]byte(version), 0)
	c := tx.bucket(bucketDocsByResults).Cursor()
	for k, _ := c.First(); k != nil; {
		if bytes.HasPrefix(k, skip) {
			k, _ = c.Seek(append([]byte(version), 1))
			continue
		}
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			return fmt.Errorf("results index: bad key %q", k)
		}
		if err := fn(string(k[i+1:]), string(k[:i])); err != nil {
			return err
		}
		k, _ = c.Next()
	}
	return nil
}

// migrate brings a file of an older schema up to schemaVersion: it counts the documents and
// the queue, builds the indexes, and moves the queue's delayed items to their own bucket.
// It reads every document once, the only time that is needed.
func (tx *Tx) migrate() error {
	if tx.migrated() {
		return nil
	}
	for _, name := range [][]byte{bucketCounts, bucketDocsByTime, bucketDocsByStatus, bucketDocsByResults, bucketQueueDelayed} {
		if err := tx.tx.DeleteBucket(name); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return fmt.Errorf("migrate: reset bucket %s: %w", name, err)
		}
		if _, err := tx.tx.CreateBucket(name); err != nil {
			return fmt.Errorf("migrate: create bucket %s: %w", name, err)
		}
	}
	err := tx.bucket(bucketDocs).ForEach(func(k, v []byte) error {
		var d docIndexed
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode document %s: %w", k, err)
		}
		return tx.reindex(string(k), nil, &d)
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.migrateQueue(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.addCount(countOutbox, int64(tx.bucket(bucketOutbox).Stats().KeyN)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, schemaVersion)
	return tx.bucket(bucketMeta).Put(metaSchema, v)
}

// CheckCounts recounts the documents and the queue from their records, and checks the kept
// counts and indexes against them; the error lists every difference. It reads everything:
// for tests and for an operator's check, not for a hot path.
func (db *DB) CheckCounts(ctx context.Context) error {
	return db.View(ctx, func(tx *Tx) error {
		if !tx.migrated() {
			return errors.New("the file keeps no counts (written by an older idp; open it read-write once)")
		}
		var problems []string
		add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
		kept, err := tx.DocumentCounts()
		if err != nil {
			return err
		}
		real, err := tx.recountDocuments()
		if err != nil {
			return err
		}
		for _, s := range Statuses {
			if kept[s] != real[s] {
				add("documents %s by priority: kept %v, counted %v", s, kept[s], real[s])
			}
		}
		// Every document is in each index once, under its current keys, and nothing else is.
		wantByTime, wantByStatus, wantByResults := map[string]bool{}, map[string]bool{}, map[string]bool{}
		err = tx.bucket(bucketDocs).ForEach(func(k, v []byte) error {
			var d docIndexed
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			id := string(k)
			wantByTime[string(timeKey(d.CreatedAt, id))] = true
			wantByStatus[string(statusKey(d.Status, d.CreatedAt, id))] = true
			if d.Status == StatusCompleted {
				wantByResults[string(resultsKey(d.ResultsVersion, id))] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, ix := range []struct {
			name   []byte
			wanted map[string]bool
		}{{bucketDocsByTime, wantByTime}, {bucketDocsByStatus, wantByStatus}, {bucketDocsByResults, wantByResults}} {
			n := 0
			err := tx.bucket(ix.name).ForEach(func(k, _ []byte) error {
				n++
				if !ix.wanted[string(k)] {
					add("index %s holds %q, which no document has", ix.name, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if n != len(ix.wanted) {
				add("index %s holds %d keys, want %d", ix.name, n, len(ix.wanted))
			}
		}
		qs, err := tx.recountQueue()
		if err != nil {
			return err
		}
		for p := range qs.ByPriority {
			if got := int(tx.count(queueCountKey(Priority(p)))); got != qs.ByPriority[p] {
				add("queue priority %d: kept %d, counted %d", p, got, qs.ByPriority[p])
			}
		}
		if got := int(tx.count(countDelayed)); got != qs.Delayed {
			add("queue delayed: kept %d, counted %d", got, qs.Delayed)
		}
		if got := int(tx.count(countInflight)); got != qs.InFlight {
			add("queue in flight: kept %d, counted %d", got, qs.InFlight)
		}
		if got, real := int(tx.count(countOutbox)), tx.bucket(bucketOutbox).Stats().KeyN; got != real {
			add("outbox: kept %d, counted %d", got, real)
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			return fmt.Errorf("counts differ from the records: %s", strings.Join(problems, "; "))
		}
		return nil
	})
}
