package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The shared tier: a hot store several nodes read and write (Redis, with --redis-url), in
// front of the blob tier. bbolt stays each node's own hot tier; what a transaction changes
// that other nodes need (a stage's record, a page's checkpoint, a stage's progress, a
// document's record, a queue operation) is appended to a journal in the same transaction,
// and the shared tier's writer drains the journal in commit order. No network call happens
// inside a transaction, and nothing is lost while the shared tier is away: the journal waits.
//
// A miss in bbolt asks the shared tier before the blob tier (ReadThrough).

// Kinds of journal entries.
const (
	SharedRecord          = "record"           // Key: a DESIGN cache key; Value: its current bytes
	SharedCheckpoint      = "checkpoint"       // Key: a checkpoint key; Value: its current bytes
	SharedProgress        = "progress"         // Key: a stage name; Value: its progress JSON
	SharedDocument        = "document"         // Value: the Document JSON
	SharedDropRecords     = "drop_records"     // Key: a cache prefix ending in "/"
	SharedDropCheckpoints = "drop_checkpoints" // Key: a checkpoint prefix
	SharedDropDocument    = "drop_document"    // everything of DocID
	SharedQueue           = "queue"            // Value: an operation of the shared queue, its own encoding
)

// SharedOp is one journal entry. For records, checkpoints, progress and documents the
// journal names what changed, not the bytes: DrainShared reads the current bytes when it
// hands the entry out (nil when the thing is gone by then), so a key rewritten while the
// shared tier was away is sent once, as it is now.
type SharedOp struct {
	Seq   uint64 `json:"-"`
	Kind  string `json:"kind"`
	DocID string `json:"doc_id"`
	Key   string `json:"key,omitempty"`
	Value []byte `json:"value,omitempty"`
}

// SharedReader reads the shared tier: what another node made.
type SharedReader interface {
	// SharedRecords returns the records of docID among keys that the shared tier holds;
	// absent keys are left out.
	SharedRecords(ctx context.Context, docID string, keys []string) (map[string][]byte, error)
	// SharedDoc returns every record and checkpoint of docID the shared tier holds, by key.
	SharedDoc(ctx context.Context, docID string) (records, checkpoints map[string][]byte, err error)
}

// shared is the attached shared tier.
type shared struct {
	reader SharedReader
	wake   func()
}

// bucketShared: big-endian sequence -> SharedOp JSON, drained in order.
var bucketShared = []byte("shared_journal")

// AttachShared makes reader the shared tier of db: from now on every change other nodes
// need is journaled (see SharedOp), wake is called after each commit that journaled
// something, and a cache miss asks reader before the blob tier. Call it once, right after
// Open (and AttachRemote) and before the database is used.
func (db *DB) AttachShared(reader SharedReader, wake func()) error {
	if db.bolt.IsReadOnly() {
		return errors.New("attach shared tier: the database is open read-only")
	}
	if db.shared != nil {
		return errors.New("attach shared tier: one is already attached")
	}
	if reader == nil || wake == nil {
		return errors.New("attach shared tier: a reader and a wake function are required")
	}
	db.shared = &shared{reader: reader, wake: wake}
	return nil
}

// Shared reports whether a shared tier is attached.
func (db *DB) Shared() bool { return db.shared != nil }

// sharing reports whether tx journals its changes for the shared tier: one is attached and tx
// is not writing what came from it.
func (tx *Tx) sharing() bool { return tx.db != nil && tx.db.shared != nil && !tx.local }

// JournalShared appends op to the shared journal as part of tx (the shared queue's
// operations). Without a shared tier it is an error.
func (tx *Tx) JournalShared(op SharedOp) error {
	if tx.db == nil || tx.db.shared == nil {
		return errors.New("journal shared: no shared tier attached")
	}
	return tx.journal(op)
}

func (tx *Tx) journal(op SharedOp) error {
	b, err := tx.tx.CreateBucketIfNotExists(bucketShared)
	if err != nil {
		return err
	}
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	v, err := json.Marshal(op)
	if err != nil {
		return err
	}
	if err := b.Put(seqKey(n), v); err != nil {
		return err
	}
	if !tx.woke {
		tx.woke = true
		wake := tx.db.shared.wake
		tx.tx.OnCommit(wake)
	}
	return nil
}

// shareKey journals a change of kind to key of docID when tx shares; a key that names no
// document is not shared.
func (tx *Tx) shareKey(kind, docID, key string) error {
	if !tx.sharing() || !ValidID(docID) {
		return nil
	}
	return tx.journal(SharedOp{Kind: kind, DocID: docID, Key: key})
}

// recordDoc is the document a DESIGN key or prefix belongs to ("{stage}/{doc_id}/...").
func recordDoc(key string) string {
	_, rest, _ := strings.Cut(key, "/")
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// checkpointDoc is the document a checkpoint key or prefix belongs to ("{doc_id}/...").
func checkpointDoc(key string) string {
	id, _, _ := strings.Cut(key, "/")
	return id
}

// DrainShared hands out up to max journal entries in order, with the current bytes of what
// they name, without removing them: the caller sends them and then calls SharedDone.
func (db *DB) DrainShared(ctx context.Context, max int) ([]SharedOp, error) {
	var ops []SharedOp
	err := db.View(ctx, func(tx *Tx) error {
		ops = ops[:0]
		b := tx.bucket(bucketShared)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(ops) < max; k, v = c.Next() {
			var op SharedOp
			if err := json.Unmarshal(v, &op); err != nil {
				return fmt.Errorf("decode shared journal entry: %w", err)
			}
			op.Seq = binary.BigEndian.Uint64(k)
			switch op.Kind {
			case SharedRecord:
				op.Value = tx.CacheBytes(op.Key)
			case SharedCheckpoint:
				op.Value = clone(tx.bucket(bucketCheckpoints).Get([]byte(op.Key)))
			case SharedProgress:
				op.Value = clone(tx.bucket(bucketProgress).Get(progressKey(op.DocID, op.Key)))
			case SharedDocument:
				op.Value = clone(tx.bucket(bucketDocs).Get([]byte(op.DocID)))
			}
			ops = append(ops, op)
		}
		return nil
	})
	return ops, err
}

// SharedDone removes the journal entries up to and including seq: they are sent.
func (db *DB) SharedDone(ctx context.Context, seq uint64) error {
	return db.Batch(ctx, func(tx *Tx) error {
		b := tx.bucket(bucketShared)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= seq; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// SharedBacklog is the number of journal entries not yet sent.
func (db *DB) SharedBacklog(ctx context.Context) (int, error) {
	n := 0
	err := db.View(ctx, func(tx *Tx) error {
		if b := tx.bucket(bucketShared); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// UpdateLocal is Update for what came from the shared tier: nothing it writes is journaled
// back.
func (db *DB) UpdateLocal(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Update(func(btx *bolt.Tx) error {
		return fn(&Tx{tx: btx, now: db.now(), db: db, local: true})
	})
}

// PutSharedRecords keeps records and checkpoints another node made (from the shared tier) in
// bbolt, without journaling them back or queuing them for the blob tier (their maker does).
// What bbolt holds already is left as it is: this node's own writes win.
func (db *DB) PutSharedRecords(ctx context.Context, records, checkpoints map[string][]byte) (int, error) {
	n := 0
	err := db.UpdateLocal(ctx, func(tx *Tx) error {
		n = 0
		c, cp := tx.bucket(bucketCache), tx.bucket(bucketCheckpoints)
		for k, v := range records {
			if c.Get([]byte(k)) != nil || (tx.writeThrough() && tx.deletePending(k)) {
				continue
			}
			if _, err := decodeRecord(k, v); err != nil {
				continue
			}
			if err := c.Put([]byte(k), v); err != nil {
				return err
			}
			tx.cacheChanged(k)
			n++
		}
		for k, v := range checkpoints {
			if cp.Get([]byte(k)) != nil {
				continue
			}
			if err := cp.Put([]byte(k), v); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// readShared brings into bbolt the records of keys (key -> version wanted) that bbolt lacks
// and the shared tier holds in that version; it reports how many.
func (db *DB) readShared(ctx context.Context, keys map[string]string) int {
	s := db.shared
	byDoc := map[string][]string{}
	_ = db.View(ctx, func(tx *Tx) error {
		c := tx.bucket(bucketCache)
		for k := range keys {
			if c.Get([]byte(k)) == nil {
				id := recordDoc(k)
				byDoc[id] = append(byDoc[id], k)
			}
		}
		return nil
	})
	got := map[string][]byte{}
	for id, ks := range byDoc {
		recs, err := s.reader.SharedRecords(ctx, id, ks)
		if err != nil {
			return 0 // the shared tier is away: the blob tier is asked next
		}
		for k, v := range recs {
			if r, err := decodeRecord(k, v); err == nil && r.Version == keys[k] {
				got[k] = v
			}
		}
	}
	if len(got) == 0 {
		return 0
	}
	n, err := db.PutSharedRecords(context.WithoutCancel(ctx), got, nil)
	if err != nil {
		return 0
	}
	return n
}

// PullShared brings into bbolt every record and checkpoint of docID that the shared tier
// holds and bbolt lacks: a node that takes a document over resumes it where its last holder
// stopped. It reports how many it brought.
func (db *DB) PullShared(ctx context.Context, docID string) (int, error) {
	if db.shared == nil {
		return 0, nil
	}
	recs, cps, err := db.shared.reader.SharedDoc(ctx, docID)
	if err != nil {
		return 0, fmt.Errorf("read shared records of %s: %w", docID, err)
	}
	return db.PutSharedRecords(ctx, recs, cps)
}

// DropShared applies here a drop another node made (kind SharedDropRecords or
// SharedDropCheckpoints with a prefix, or SharedDropDocument): the copies in this node's
// bbolt go too, so that a reprocess or a delete asked on any node holds on every node.
// Nothing is journaled back; the node that dropped has queued the blob tier's deletes.
func (db *DB) DropShared(ctx context.Context, kind, docID, prefix string) error {
	if !ValidID(docID) {
		return nil
	}
	return db.UpdateLocal(ctx, func(tx *Tx) error {
		switch kind {
		case SharedDropRecords:
			if recordDoc(prefix) != docID {
				return nil
			}
			if _, err := countDelete(tx.bucket(bucketCache), []byte(prefix)); err != nil {
				return err
			}
			tx.cacheChanged(prefix)
		case SharedDropCheckpoints:
			if checkpointDoc(prefix) != docID {
				return nil
			}
			_, err := countDelete(tx.bucket(bucketCheckpoints), []byte(prefix))
			return err
		case SharedDropDocument:
			if _, err := tx.Document(docID); errors.Is(err, ErrNotFound) {
				return nil
			}
			return tx.DeleteDocument(docID)
		}
		return nil
	})
}

// ClearProgress forgets every stage's progress of docID (before the cluster's is written in
// its place).
func (tx *Tx) ClearProgress(docID string) error {
	_, err := countDelete(tx.bucket(bucketProgress), []byte(docID+"/"))
	return err
}
