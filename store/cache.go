package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Record is the envelope of every cached result: the version of what made it, when, and the
// stage's own JSON. The same bytes are stored in bbolt and in the blob tier.
type Record struct {
	Version   string          `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Decode unmarshals the record's data into v when its version is want; a record of another
// version is ErrStale.
func (r Record) Decode(want string, v any) error {
	if r.Version != want {
		return fmt.Errorf("version %q, want %q: %w", r.Version, want, ErrStale)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("decode record data: %w", err)
	}
	return nil
}

func encodeRecord(version string, at time.Time, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode record data: %w", err)
	}
	return json.Marshal(Record{Version: version, CreatedAt: at, Data: raw})
}

func decodeRecord(key string, v []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("decode record %s: %w", key, err)
	}
	return r, nil
}

func getRecord(b *bolt.Bucket, key string) (Record, error) {
	if b == nil {
		return Record{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	v := b.Get([]byte(key))
	if v == nil {
		return Record{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return decodeRecord(key, v)
}

// Cache reads the cached record of key.
func (tx *Tx) Cache(key string) (Record, error) { return getRecord(tx.bucket(bucketCache), key) }

// CacheBytes is the cached record of key exactly as stored (and as sent to the blob tier),
// nil when there is none.
func (tx *Tx) CacheBytes(key string) []byte {
	b := tx.bucket(bucketCache)
	if b == nil {
		return nil
	}
	return clone(b.Get([]byte(key)))
}

// PutCache writes data under key as made by version. With a remote attached, the same
// transaction queues the record's upload (write-through).
func (tx *Tx) PutCache(key, version string, data any) error {
	v, err := encodeRecord(version, tx.now, data)
	if err != nil {
		return err
	}
	if err := tx.bucket(bucketCache).Put([]byte(key), v); err != nil {
		return err
	}
	tx.cacheChanged(key)
	if err := tx.shareKey(SharedRecord, recordDoc(key), key); err != nil {
		return err
	}
	return tx.enqueue(opRecord, key, "")
}

// DeleteCache removes every cached record under prefix and returns how many there were. With
// a remote attached, the remote copies under prefix are deleted too (queued in the same
// transaction), so that a read-through never brings a dropped result back; prefix must then
// end with "/".
func (tx *Tx) DeleteCache(prefix string) (int, error) {
	if tx.writeThrough() && (prefix == "" || !strings.HasSuffix(prefix, "/")) {
		return 0, fmt.Errorf("delete cache %q: with a remote tier the prefix must end with /", prefix)
	}
	n, err := countDelete(tx.bucket(bucketCache), []byte(prefix))
	if err != nil {
		return n, err
	}
	tx.cacheChanged(prefix)
	if err := tx.shareKey(SharedDropRecords, recordDoc(prefix), prefix); err != nil {
		return n, err
	}
	return n, tx.dropRemotePrefix(prefix)
}

// CacheEntry is one cached record as stored.
type CacheEntry struct {
	Key    string
	Size   int
	Record Record
}

// CacheEntries calls fn for every cached record under prefix, in key order.
func (tx *Tx) CacheEntries(prefix string, fn func(CacheEntry) error) error {
	return eachRecord(tx.bucket(bucketCache), prefix, fn)
}

// eachRecord calls fn for every record of b under prefix, in key order, with its data copied
// out of the transaction.
func eachRecord(b *bolt.Bucket, prefix string, fn func(CacheEntry) error) error {
	if b == nil {
		return nil
	}
	c := b.Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		r, err := decodeRecord(string(k), v)
		if err != nil {
			return err
		}
		r.Data = clone(r.Data)
		if err := fn(CacheEntry{Key: string(k), Size: len(v), Record: r}); err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint reads one checkpoint.
func (tx *Tx) Checkpoint(key string) (Record, error) {
	return getRecord(tx.bucket(bucketCheckpoints), key)
}

// PutCheckpoint writes one page's partial result of a running stage.
func (tx *Tx) PutCheckpoint(key, version string, data any) error {
	v, err := encodeRecord(version, tx.now, data)
	if err != nil {
		return err
	}
	if err := tx.bucket(bucketCheckpoints).Put([]byte(key), v); err != nil {
		return err
	}
	return tx.shareKey(SharedCheckpoint, checkpointDoc(key), key)
}

// Checkpoints calls fn for every checkpoint under prefix, in key order.
func (tx *Tx) Checkpoints(prefix string, fn func(key string, r Record) error) error {
	return eachRecord(tx.bucket(bucketCheckpoints), prefix, func(e CacheEntry) error { return fn(e.Key, e.Record) })
}

// DeleteCheckpoints removes every checkpoint under prefix.
func (tx *Tx) DeleteCheckpoints(prefix string) (int, error) {
	n, err := countDelete(tx.bucket(bucketCheckpoints), []byte(prefix))
	if err != nil {
		return n, err
	}
	return n, tx.shareKey(SharedDropCheckpoints, checkpointDoc(prefix), prefix)
}

func countDelete(b *bolt.Bucket, prefix []byte) (int, error) {
	if b == nil {
		return 0, nil
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// GetCached reads key and decodes it into v if it was made by version. A missing key is
// ErrNotFound, another version ErrStale. With a remote attached, a key bbolt lacks is read
// through from the blob tier (outside the transaction) and kept in bbolt when its version
// is version.
func (db *DB) GetCached(ctx context.Context, key, version string, v any) error {
	get := func() error {
		return db.View(ctx, func(tx *Tx) error {
			r, err := tx.Cache(key)
			if err != nil {
				return err
			}
			return r.Decode(version, v)
		})
	}
	err := get()
	if errors.Is(err, ErrNotFound) && db.ReadThrough(ctx, map[string]string{key: version}) > 0 {
		err = get()
	}
	return err
}
