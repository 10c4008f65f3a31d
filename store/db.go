package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket names. The layout is described in DESIGN.md (Storage).
var (
	bucketDocs        = []byte("docs")        // doc id -> Document JSON
	bucketQueue       = []byte("queue")       // priority byte + big-endian sequence -> queueEntry JSON
	bucketQueueIDs    = []byte("queue_ids")   // doc id -> its queue key, so a re-queue moves instead of duplicating
	bucketInflight    = []byte("inflight")    // doc id -> inflightEntry JSON: what a worker holds
	bucketProgress    = []byte("progress")    // doc id + "/" + stage -> StageProgress JSON
	bucketCache       = []byte("cache")       // DESIGN cache key -> Record JSON (the hot tier)
	bucketCheckpoints = []byte("checkpoints") // per-page partial results of a running stage; local only
	bucketMeta        = []byte("meta")        // counters
	bucketOutbox      = []byte("outbox")      // big-endian sequence -> outboxEntry JSON: blob-tier writes not yet done
	bucketOutboxKeys  = []byte("outbox_keys") // blob key -> its outbox sequence, so a rewrite moves instead of duplicating
	bucketSynced      = []byte("synced")      // blob key -> syncedEntry JSON: what the blob tier is known to hold
	bucketOpened      = []byte("opened")      // doc id -> big-endian Unix nanoseconds: last read through the API (opened.go)
)

var allBuckets = [][]byte{
	bucketDocs, bucketQueue, bucketQueueIDs, bucketInflight,
	bucketProgress, bucketCache, bucketCheckpoints, bucketMeta,
	bucketOutbox, bucketOutboxKeys, bucketSynced, bucketOpened,
	bucketCounts, bucketDocsByTime, bucketDocsByStatus, bucketDocsByResults, bucketQueueDelayed,
	bucketShared,
}

// FileName is the name of the database file inside the data directory.
const FileName = "idp.db"

// Options configure Open.
type Options struct {
	// ReadOnly opens with a shared lock for offline inspection; writes fail.
	ReadOnly bool
	// LockTimeout is how long to wait for another process to release the file. Zero means 1s;
	// past it Open returns ErrLocked.
	LockTimeout time.Duration
	// Now replaces the clock (tests).
	Now func() time.Time
}

// DB is the bbolt file of one data directory.
type DB struct {
	bolt *bolt.DB
	now  func() time.Time
	// remote is the blob tier that cached records are written through to and read through
	// from; nil without one (then no outbox entry is ever written). Set by AttachRemote
	// before the database is used.
	remote *remote
	// shared is the tier several nodes share (shared.go); nil on a single node.
	shared *shared
	// gens count the changes of each document's cached records (CacheGeneration).
	gens *generations
	// batch gathers the callers of Batch.
	batch batcher
}

// Open opens (creating when needed) the database of dataDir.
func Open(dataDir string, opts Options) (*DB, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	path := filepath.Join(dataDir, FileName)
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
	} else if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open database %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db := &DB{bolt: b, now: opts.Now, gens: newGenerations()}
	if !opts.ReadOnly {
		err = b.Update(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
			// A file of an older idp gets its counts and indexes now, once.
			return (&Tx{tx: tx, now: opts.Now(), db: db}).migrate()
		})
		if err != nil {
			_ = b.Close()
			return nil, err
		}
	}
	return db, nil
}

// Close closes the file.
func (db *DB) Close() error { return db.bolt.Close() }

// Path is the file's path.
func (db *DB) Path() string { return db.bolt.Path() }

// Tx is one bbolt transaction with the store's typed accessors. Bytes returned by its methods
// are copies, safe after the transaction ends. Never do I/O other than bbolt inside one.
type Tx struct {
	tx  *bolt.Tx
	now time.Time
	db  *DB
	// local: what tx writes came from the shared tier and is not journaled back (UpdateLocal).
	local bool
	// woke: tx has registered the shared writer's wake-up for its commit.
	woke bool
}

// Update runs fn in one read-write transaction: everything fn writes lands together or not at
// all.
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Update(func(btx *bolt.Tx) error {
		return fn(&Tx{tx: btx, now: db.now(), db: db})
	})
}

// View runs fn in a read-only transaction. Keep it short.
func (db *DB) View(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(func(btx *bolt.Tx) error {
		return fn(&Tx{tx: btx, now: db.now(), db: db})
	})
}

// Now is the time the transaction started (one clock reading for everything it stamps).
func (tx *Tx) Now() time.Time { return tx.now }

func (tx *Tx) bucket(name []byte) *bolt.Bucket {
	// Buckets are created at Open; on a read-only database made by an older binary one may
	// be missing, which reads treat as empty.
	return tx.tx.Bucket(name)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// OnCommit runs fn after the transaction commits (never when it rolls back): the place for a
// side effect outside bbolt that must follow the transaction's writes, such as a push to a
// queue kept elsewhere.
func (tx *Tx) OnCommit(fn func()) { tx.tx.OnCommit(fn) }
