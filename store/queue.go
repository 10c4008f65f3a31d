package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Queue is the durable work queue of documents. The bbolt implementation (BoltQueue) is the
// single-machine default; a distributed queue can take its place behind this interface.
//
// Push, Remove, Position and InFlight work inside the caller's transaction, so that a
// document's record and its place in the queue change together: BoltQueue writes in tx
// itself; a queue kept elsewhere acts when tx commits (Tx.OnCommit). The processor pushes
// only through this interface.
//
// An id is in at most one place: queued, in flight, or neither.
type Queue interface {
	// Push queues id at prio as part of tx. An id already queued is moved, never
	// duplicated; an id in flight is taken out of flight (it goes back to waiting).
	Push(tx *Tx, id string, prio Priority, opts PushOptions) error
	// Remove drops id wherever it is, as part of tx. Removing an unknown id is not an error.
	Remove(tx *Tx, id string) error
	// Position is id's 0-based place among the queued items and its priority; ok is false
	// when id is not queued.
	Position(tx *Tx, id string) (pos int, prio Priority, ok bool)
	// InFlight reports whether a worker holds id.
	InFlight(tx *Tx, id string) bool
	// Pop takes the first due item (priority, then first in first out) and marks it in
	// flight. With nothing due it returns ErrQueueEmpty and, in the item's NotBefore, the
	// time the next delayed item comes due (zero when there is none).
	Pop(ctx context.Context) (QueueItem, error)
	// Ack forgets an in-flight id: its work is finished (done or failed for good).
	Ack(ctx context.Context, id string) error
	// Recover puts every in-flight id back at the front of its priority. Called once at
	// start, it is the resume after a crash: what a worker held when the process died.
	Recover(ctx context.Context) ([]string, error)
	// Stats counts what is queued and in flight.
	Stats(ctx context.Context) (QueueStats, error)
}

// PushOptions modify Push.
type PushOptions struct {
	// Front puts the item ahead of everything of its priority (a forced or resumed document).
	Front bool
	// NotBefore delays the item (a retry waiting out its backoff).
	NotBefore time.Time
}

// QueueItem is one popped (or delayed) entry.
type QueueItem struct {
	ID        string
	Priority  Priority
	NotBefore time.Time
}

// QueueStats is a snapshot of the queue.
type QueueStats struct {
	ByPriority [MaxPriority + 1]int `json:"by_priority"`
	Delayed    int                  `json:"delayed"`
	InFlight   int                  `json:"in_flight"`
}

// Queued is the number of queued items (delayed ones included).
func (s QueueStats) Queued() int {
	n := 0
	for _, c := range s.ByPriority {
		n += c
	}
	return n
}

type queueEntry struct {
	ID        string    `json:"id"`
	NotBefore time.Time `json:"not_before,omitempty"`
}

type inflightEntry struct {
	Priority Priority  `json:"priority"`
	Since    time.Time `json:"since"`
}

// Queue keys are a priority byte then a big-endian uint64, so a cursor walks them in priority
// then sequence order. Ordinary pushes count up from 2^63; front pushes count down from it, so
// the latest front push runs first.
//
// An item waiting out a delay is not in bucketQueue but in bucketQueueDelayed, under its
// due time (big-endian Unix nanoseconds) followed by its queue key: Pop moves the items that
// have come due back to their queue key (their place in line is kept) and then takes the
// first, so neither Pop nor Stats walks past delayed items. queue_ids maps an id to its
// 9-byte queue key, or to its 17-byte delayed key.
const seqMiddle = uint64(1) << 63

var (
	metaFrontSeq = []byte("queue_front_seq")
	// bucketQueueDelayed: due time + queue key -> queueEntry JSON.
	bucketQueueDelayed = []byte("queue_delayed")
)

const queueKeyLen = 9

func queueKey(prio Priority, seq uint64) []byte {
	k := make([]byte, queueKeyLen)
	k[0] = byte(prio)
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func delayedKey(due time.Time, qkey []byte) []byte {
	k := make([]byte, 8, 8+len(qkey))
	binary.BigEndian.PutUint64(k, uint64(due.UnixNano()))
	return append(k, qkey...)
}

func delayedDue(k []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))) }

// pushQueue is BoltQueue's Push.
func (tx *Tx) pushQueue(id string, prio Priority, opts PushOptions) error {
	if err := checkID(id); err != nil {
		return err
	}
	if prio > MaxPriority {
		return fmt.Errorf("priority %d: must be 0 (high), 1 (normal) or 2 (low)", prio)
	}
	if err := tx.dequeue(id); err != nil {
		return err
	}
	if err := tx.dropInflight(id); err != nil {
		return err
	}
	q := tx.bucket(bucketQueue)
	var seq uint64
	if opts.Front {
		meta := tx.bucket(bucketMeta)
		n := uint64(0)
		if v := meta.Get(metaFrontSeq); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		buf := make([]byte, 8)
		binary.BigEndian.PutUint64(buf, n)
		if err := meta.Put(metaFrontSeq, buf); err != nil {
			return err
		}
		seq = seqMiddle - n
	} else {
		n, err := q.NextSequence()
		if err != nil {
			return err
		}
		seq = seqMiddle + n
	}
	key := queueKey(prio, seq)
	v, err := json.Marshal(queueEntry{ID: id, NotBefore: opts.NotBefore})
	if err != nil {
		return err
	}
	if err := tx.addCount(queueCountKey(prio), 1); err != nil {
		return err
	}
	if opts.NotBefore.After(tx.now) {
		dkey := delayedKey(opts.NotBefore, key)
		if err := tx.bucket(bucketQueueDelayed).Put(dkey, v); err != nil {
			return err
		}
		if err := tx.addCount(countDelayed, 1); err != nil {
			return err
		}
		return tx.bucket(bucketQueueIDs).Put([]byte(id), dkey)
	}
	if err := q.Put(key, v); err != nil {
		return err
	}
	return tx.bucket(bucketQueueIDs).Put([]byte(id), key)
}

// dequeue removes id's queue entry, if any.
func (tx *Tx) dequeue(id string) error {
	ids := tx.bucket(bucketQueueIDs)
	key := clone(ids.Get([]byte(id)))
	if key == nil {
		return nil
	}
	from, qkey := bucketQueue, key
	if len(key) > queueKeyLen {
		from, qkey = bucketQueueDelayed, key[8:]
		if err := tx.addCount(countDelayed, -1); err != nil {
			return err
		}
	}
	if err := tx.addCount(queueCountKey(Priority(qkey[0])), -1); err != nil {
		return err
	}
	if err := tx.bucket(from).Delete(key); err != nil {
		return err
	}
	return ids.Delete([]byte(id))
}

// dropInflight forgets that a worker holds id, if one does.
func (tx *Tx) dropInflight(id string) error {
	b := tx.bucket(bucketInflight)
	if b.Get([]byte(id)) == nil {
		return nil
	}
	if err := tx.addCount(countInflight, -1); err != nil {
		return err
	}
	return b.Delete([]byte(id))
}

// promoteDue moves the delayed items due by now back to their place in the queue.
func (tx *Tx) promoteDue() error {
	delayed, q, ids := tx.bucket(bucketQueueDelayed), tx.bucket(bucketQueue), tx.bucket(bucketQueueIDs)
	c := delayed.Cursor()
	for k, v := c.First(); k != nil && !delayedDue(k).After(tx.now); k, v = c.First() {
		var e queueEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode delayed queue entry: %w", err)
		}
		qkey := clone(k[8:])
		if err := q.Put(qkey, clone(v)); err != nil {
			return err
		}
		if err := ids.Put([]byte(e.ID), qkey); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
		if err := tx.addCount(countDelayed, -1); err != nil {
			return err
		}
	}
	return nil
}

// queuePosition is BoltQueue's Position: the queued items ahead of id in priority order (a
// delayed item counts those ahead of its place in line). It walks the keys ahead of id.
func (tx *Tx) queuePosition(id string) (pos int, prio Priority, ok bool) {
	ids := tx.bucket(bucketQueueIDs)
	if ids == nil {
		return 0, 0, false
	}
	key := ids.Get([]byte(id))
	if key == nil {
		return 0, 0, false
	}
	if len(key) > queueKeyLen {
		key = key[8:]
	}
	c := tx.bucket(bucketQueue).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, key) < 0; k, _ = c.Next() {
		pos++
	}
	return pos, Priority(key[0]), true
}

// inFlight is BoltQueue's InFlight.
func (tx *Tx) inFlight(id string) bool {
	b := tx.bucket(bucketInflight)
	return b != nil && b.Get([]byte(id)) != nil
}

// BoltQueue is the Queue kept in the bbolt file.
type BoltQueue struct{ db *DB }

var _ Queue = (*BoltQueue)(nil)

// NewBoltQueue returns the queue of db.
func NewBoltQueue(db *DB) *BoltQueue { return &BoltQueue{db: db} }

// Push implements Queue.
func (q *BoltQueue) Push(tx *Tx, id string, prio Priority, opts PushOptions) error {
	return tx.pushQueue(id, prio, opts)
}

// Remove implements Queue.
func (q *BoltQueue) Remove(tx *Tx, id string) error {
	if err := tx.dequeue(id); err != nil {
		return err
	}
	return tx.dropInflight(id)
}

// Position implements Queue.
func (q *BoltQueue) Position(tx *Tx, id string) (int, Priority, bool) { return tx.queuePosition(id) }

// InFlight implements Queue.
func (q *BoltQueue) InFlight(tx *Tx, id string) bool { return tx.inFlight(id) }

// Pop implements Queue. Its cost does not grow with the queue: the delayed items that came
// due are moved back (each once), then the first item is taken.
func (q *BoltQueue) Pop(ctx context.Context) (QueueItem, error) {
	var item QueueItem
	empty := false
	// Batched: the workers' pops share commits with each other and with the pipeline's
	// writes. An empty queue is not an error inside the transaction, which would roll back
	// the calls it shares.
	err := q.db.Batch(ctx, func(tx *Tx) error {
		item, empty = QueueItem{}, false
		if err := tx.promoteDue(); err != nil {
			return err
		}
		c := tx.bucket(bucketQueue).Cursor()
		k, v := c.First()
		if k == nil {
			if dk, _ := tx.bucket(bucketQueueDelayed).Cursor().First(); dk != nil {
				item.NotBefore = delayedDue(dk)
			}
			empty = true
			return nil
		}
		var e queueEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode queue entry: %w", err)
		}
		item = QueueItem{ID: e.ID, Priority: Priority(k[0])}
		if err := c.Delete(); err != nil {
			return err
		}
		if err := tx.bucket(bucketQueueIDs).Delete([]byte(e.ID)); err != nil {
			return err
		}
		if err := tx.addCount(queueCountKey(item.Priority), -1); err != nil {
			return err
		}
		if err := tx.dropInflight(e.ID); err != nil {
			return err
		}
		v, err := json.Marshal(inflightEntry{Priority: item.Priority, Since: tx.now})
		if err != nil {
			return err
		}
		if err := tx.addCount(countInflight, 1); err != nil {
			return err
		}
		return tx.bucket(bucketInflight).Put([]byte(e.ID), v)
	})
	if err == nil && empty {
		err = ErrQueueEmpty
	}
	return item, err
}

// Ack implements Queue.
func (q *BoltQueue) Ack(ctx context.Context, id string) error {
	return q.db.Batch(ctx, func(tx *Tx) error { return tx.dropInflight(id) })
}

// Recover implements Queue.
func (q *BoltQueue) Recover(ctx context.Context) ([]string, error) {
	var ids []string
	err := q.db.Update(ctx, func(tx *Tx) error {
		ids = ids[:0]
		type held struct {
			id string
			e  inflightEntry
		}
		var all []held
		err := tx.bucket(bucketInflight).ForEach(func(k, v []byte) error {
			var e inflightEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode in-flight entry %s: %w", k, err)
			}
			all = append(all, held{string(k), e})
			return nil
		})
		if err != nil {
			return err
		}
		sort.Slice(all, func(i, j int) bool { return all[i].e.Since.Before(all[j].e.Since) })
		// Oldest last: front pushes run latest-first, so the oldest in-flight item resumes first.
		for i := len(all) - 1; i >= 0; i-- {
			h := all[i]
			if err := tx.pushQueue(h.id, h.e.Priority, PushOptions{Front: true}); err != nil {
				return err
			}
			ids = append(ids, h.id)
		}
		return nil
	})
	return ids, err
}

// Stats implements Queue: counters kept by every write, so its cost does not grow with the
// queue. Delayed items that came due and wait for the next Pop to move them are counted as
// queued, not delayed; finding them reads only those.
func (q *BoltQueue) Stats(ctx context.Context) (QueueStats, error) {
	var s QueueStats
	err := q.db.View(ctx, func(tx *Tx) error {
		if !tx.migrated() {
			var err error
			s, err = tx.recountQueue()
			return err
		}
		s = QueueStats{}
		for p := range s.ByPriority {
			s.ByPriority[p] = int(tx.count(queueCountKey(Priority(p))))
		}
		s.Delayed = int(tx.count(countDelayed))
		c := tx.bucket(bucketQueueDelayed).Cursor()
		for k, _ := c.First(); k != nil && !delayedDue(k).After(tx.now); k, _ = c.Next() {
			s.Delayed--
		}
		s.InFlight = int(tx.count(countInflight))
		return nil
	})
	return s, err
}

// recountQueue counts the queue from its records: Stats of a file that keeps no counts, and
// CheckCounts. Delayed counts every item in the delayed bucket (and, in a file of the older
// layout, every item of the queue whose time has not come).
func (tx *Tx) recountQueue() (QueueStats, error) {
	var s QueueStats
	c := tx.bucket(bucketQueue).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if int(k[0]) < len(s.ByPriority) {
			s.ByPriority[k[0]]++
		}
		var e queueEntry
		if err := json.Unmarshal(v, &e); err == nil && e.NotBefore.After(tx.now) {
			s.Delayed++
		}
	}
	if b := tx.bucket(bucketQueueDelayed); b != nil {
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if p := k[8]; int(p) < len(s.ByPriority) {
				s.ByPriority[p]++
			}
			s.Delayed++
		}
	}
	s.InFlight = tx.bucket(bucketInflight).Stats().KeyN
	return s, nil
}

// migrateQueue moves the delayed items of an older file to bucketQueueDelayed and sets the
// queue's counters.
func (tx *Tx) migrateQueue() error {
	q, delayed, ids := tx.bucket(bucketQueue), tx.bucket(bucketQueueDelayed), tx.bucket(bucketQueueIDs)
	type move struct {
		key, value []byte
		e          queueEntry
	}
	var moves []move
	var byPrio [MaxPriority + 1]int64
	err := q.ForEach(func(k, v []byte) error {
		var e queueEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode queue entry: %w", err)
		}
		if int(k[0]) < len(byPrio) {
			byPrio[k[0]]++
		}
		if e.NotBefore.After(tx.now) {
			moves = append(moves, move{clone(k), clone(v), e})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range moves {
		dkey := delayedKey(m.e.NotBefore, m.key)
		if err := q.Delete(m.key); err != nil {
			return err
		}
		if err := delayed.Put(dkey, m.value); err != nil {
			return err
		}
		if err := ids.Put([]byte(m.e.ID), dkey); err != nil {
			return err
		}
	}
	for p, n := range byPrio {
		if err := tx.addCount(queueCountKey(Priority(p)), n); err != nil {
			return err
		}
	}
	if err := tx.addCount(countDelayed, int64(len(moves))); err != nil {
		return err
	}
	return tx.addCount(countInflight, int64(tx.bucket(bucketInflight).Stats().KeyN))
}
