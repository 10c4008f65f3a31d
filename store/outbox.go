package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The outbox holds the blob-tier writes that are not done yet. An entry is written in the same
// bbolt transaction as the change it carries (a cached record, a new document), so a change
// is never lost between bbolt and S3: the Uploader drains the entries in order and
// removes each once the blob tier has it. An entry names what to send, not the bytes: the
// uploader reads the current bytes when it sends, so a key rewritten ten times while S3 was
// down is sent once.
//
// Without a remote attached (DB.AttachRemote) nothing here is written.

// Outbox operations.
const (
	// opRecord puts the cached record under Key, the exact bytes of the cache bucket.
	opRecord = "record"
	// opOriginal puts the uploaded file documents/{id}/original.pdf from the data directory.
	opOriginal = "original"
	// opDocMeta puts documents/{id}/metadata.json, made from the document record.
	opDocMeta = "docmeta"
	// opDeletePrefix deletes every remote key under Key (a prefix ending in "/") that this
	// database does not hold or mean to send: the remote copies of results dropped by a
	// reprocess. It is a barrier: nothing queued after it is sent before it is done.
	opDeletePrefix = "delete_prefix"
)

// outboxEntry is one pending blob-tier write.
type outboxEntry struct {
	Key        string     `json:"key"`
	Op         string     `json:"op"`
	DocID      string     `json:"doc_id,omitempty"`
	EnqueuedAt time.Time  `json:"enqueued_at"`
	Attempts   int        `json:"attempts,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	LastTry    *time.Time `json:"last_try,omitempty"`
}

// syncedEntry records what the blob tier holds under a key: the SHA-256 and size of the
// bytes last sent (or read back). A cached record whose key is synced and not pending is
// safe in S3, and may be evicted from the hot tier.
type syncedEntry struct {
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	SyncedAt time.Time `json:"synced_at"`
}

func seqKey(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Meta keys of QueueUnsynced: the file is tracked (a full look ran once), and something was
// written without a remote since.
var (
	metaUnsyncedTracked = []byte("unsynced_tracked")
	metaUnsynced        = []byte("unsynced")
)

// markUnsynced notes a write made without a remote, which QueueUnsynced must look for
// when a remote is attached.
func (tx *Tx) markUnsynced() error {
	meta := tx.bucket(bucketMeta)
	if meta.Get(metaUnsynced) != nil {
		return nil
	}
	return meta.Put(metaUnsynced, []byte{1})
}

// writeThrough reports whether this transaction's changes go to a blob tier.
func (tx *Tx) writeThrough() bool { return tx.db != nil && tx.db.remote != nil }

// enqueue appends a blob-tier write of key, replacing one already pending for the same key
// (the later change wins; the entry moves to the end).
func (tx *Tx) enqueue(op, key, docID string) error {
	if !tx.writeThrough() {
		return tx.markUnsynced()
	}
	if err := tx.unqueue(key); err != nil {
		return err
	}
	b := tx.bucket(bucketOutbox)
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	v, err := json.Marshal(outboxEntry{Key: key, Op: op, DocID: docID, EnqueuedAt: tx.now})
	if err != nil {
		return err
	}
	if err := b.Put(seqKey(n), v); err != nil {
		return err
	}
	if err := tx.bucket(bucketOutboxKeys).Put([]byte(key), seqKey(n)); err != nil {
		return err
	}
	if err := tx.addCount(countOutbox, 1); err != nil {
		return err
	}
	r := tx.db.remote
	tx.tx.OnCommit(r.wakeUploader)
	return nil
}

// unqueue drops the pending write of key, if any.
func (tx *Tx) unqueue(key string) error {
	ids := tx.bucket(bucketOutboxKeys)
	if ids == nil {
		return nil
	}
	seq := ids.Get([]byte(key))
	if seq == nil {
		return nil
	}
	if err := tx.bucket(bucketOutbox).Delete(clone(seq)); err != nil {
		return err
	}
	if err := tx.addCount(countOutbox, -1); err != nil {
		return err
	}
	return ids.Delete([]byte(key))
}

// pendingOp is the operation pending for key ("" when none).
func (tx *Tx) pendingOp(key string) string {
	ids := tx.bucket(bucketOutboxKeys)
	if ids == nil {
		return ""
	}
	seq := ids.Get([]byte(key))
	if seq == nil {
		return ""
	}
	v := tx.bucket(bucketOutbox).Get(seq)
	var e outboxEntry
	if v == nil || json.Unmarshal(v, &e) != nil {
		return ""
	}
	return e.Op
}

// deletePending reports whether a pending prefix delete covers key: one of key itself (a
// prefix ending in "/") or of one of its parents. What it covers must not be read back from
// the blob tier.
func (tx *Tx) deletePending(key string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' && tx.pendingOp(key[:i+1]) == opDeletePrefix {
			return true
		}
	}
	return false
}

// dropRemotePrefix is DeleteCache's part in the blob tier: the remote copies under prefix go
// too (a prefix delete), nothing pending under it is sent, and nothing under it counts as
// synced any more.
func (tx *Tx) dropRemotePrefix(prefix string) error {
	if !tx.writeThrough() {
		return nil
	}
	p := []byte(prefix)
	var pending [][]byte
	c := tx.bucket(bucketOutboxKeys).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		pending = append(pending, clone(k))
	}
	for _, k := range pending {
		if err := tx.unqueue(string(k)); err != nil {
			return err
		}
	}
	if _, err := countDelete(tx.bucket(bucketSynced), p); err != nil {
		return err
	}
	return tx.enqueue(opDeletePrefix, prefix, "")
}

func (tx *Tx) synced(key string) (syncedEntry, bool) {
	var e syncedEntry
	b := tx.bucket(bucketSynced)
	if b == nil {
		return e, false
	}
	v := b.Get([]byte(key))
	if v == nil || json.Unmarshal(v, &e) != nil {
		return e, false
	}
	return e, true
}

func (tx *Tx) putSynced(key string, e syncedEntry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.bucket(bucketSynced).Put([]byte(key), v)
}

// outboxBatch reads up to max entries from the head of the outbox. A prefix delete is a
// barrier: it comes alone, and a batch stops before one.
func (tx *Tx) outboxBatch(max int) ([]uint64, []outboxEntry, error) {
	var seqs []uint64
	var out []outboxEntry
	c := tx.bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
		var e outboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, nil, fmt.Errorf("decode outbox entry: %w", err)
		}
		if e.Op == opDeletePrefix && len(out) > 0 {
			break
		}
		seqs = append(seqs, binary.BigEndian.Uint64(k))
		out = append(out, e)
		if e.Op == opDeletePrefix {
			break
		}
	}
	return seqs, out, nil
}

// OutboxBacklog counts the pending blob-tier writes and the time the oldest was queued (zero
// when none).
func (tx *Tx) OutboxBacklog() (n int, oldest time.Time, err error) {
	b := tx.bucket(bucketOutbox)
	if b == nil {
		return 0, time.Time{}, nil
	}
	// Counted as entries come and go, so a status does not walk a backlog of a million.
	n = int(tx.count(countOutbox))
	if !tx.migrated() {
		n = b.Stats().KeyN
	}
	if k, v := b.Cursor().First(); k != nil {
		var e outboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return n, oldest, fmt.Errorf("decode outbox entry: %w", err)
		}
		oldest = e.EnqueuedAt
	}
	return n, oldest, nil
}

// bucketSize sums the keys and values of a bucket.
func bucketSize(b *bolt.Bucket) int64 {
	var n int64
	if b == nil {
		return 0
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n += int64(len(k) + len(v))
	}
	return n
}

// QueueUnsynced queues the upload of every cached record and every document that the blob
// tier is not known to hold and that nothing is queued for: what was written before a bucket
// was configured, so that it too becomes safe (and evictable). It returns how many writes it
// queued. Without a remote it does nothing.
//
// It reads every cached record and document, so it runs only when something was written
// without a remote since it last ran (markUnsynced): a start with a bucket costs nothing
// more than one without.
func (db *DB) QueueUnsynced(ctx context.Context) (int, error) {
	if db.remote == nil {
		return 0, nil
	}
	n := 0
	err := db.Update(ctx, func(tx *Tx) error {
		n = 0
		meta := tx.bucket(bucketMeta)
		if meta.Get(metaUnsyncedTracked) != nil && meta.Get(metaUnsynced) == nil {
			return nil
		}
		if err := meta.Put(metaUnsyncedTracked, []byte{1}); err != nil {
			return err
		}
		if err := meta.Delete(metaUnsynced); err != nil {
			return err
		}
		var records []string
		c := tx.bucket(bucketCache).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			key := string(k)
			if _, ok := tx.synced(key); !ok && tx.pendingOp(key) == "" {
				records = append(records, key)
			}
		}
		for _, key := range records {
			if err := tx.enqueue(opRecord, key, ""); err != nil {
				return err
			}
			n++
		}
		docs, err := tx.Documents()
		if err != nil {
			return err
		}
		for i := len(docs) - 1; i >= 0; i-- { // oldest first
			id := docs[i].ID
			for _, w := range []struct{ op, key string }{{opOriginal, OriginalKey(id)}, {opDocMeta, DocMetaKey(id)}} {
				if _, ok := tx.synced(w.key); ok || tx.pendingOp(w.key) != "" {
					continue
				}
				if err := tx.enqueue(w.op, w.key, id); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}
