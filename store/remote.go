package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RemoteOptions configure AttachRemote.
type RemoteOptions struct {
	// Files is where originals live locally (the data directory): uploads read them from
	// it, and FetchOriginal writes them back into it. Required.
	Files *DirBlob
	// ReadTimeout bounds one read-through (a missed record fetched from the blob tier), so
	// that a slow S3 delays a stage by at most this much before it is computed locally.
	// Zero means 10s.
	ReadTimeout time.Duration
	// ReadCooldown is how long read-through is skipped after a failed one (S3 down or
	// refusing us): misses are then plain misses. Zero means 30s.
	ReadCooldown time.Duration
	// Concurrency bounds the parallel reads of a prefix read-through and of the import.
	// Zero means 8.
	Concurrency int
	Logger      *slog.Logger
	// Now replaces the clock (tests).
	Now func() time.Time
}

// remote is the blob tier attached to a database.
type remote struct {
	blob  Blob
	files *DirBlob
	opts  RemoteOptions
	log   *slog.Logger
	wake  chan struct{} // pokes the uploader after a commit that queued work

	missMu sync.Mutex
	misses map[string]time.Time // keys S3 lacked (or had in another version), until when to believe it

	downUntil atomic.Int64 // unix nanoseconds: read-through is skipped until then
	reads     atomic.Int64 // records brought back by read-through
	readMiss  atomic.Int64 // read-throughs that found nothing (or a stale version)
	readFail  atomic.Int64 // read-throughs that failed
}

func (r *remote) wakeUploader() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// missTTL is how long a key S3 lacked is not asked for again: a page polled while it is
// being extracted costs one request per minute, not one per poll.
const missTTL = time.Minute

// knownMissing reports whether S3 lacked key a short while ago.
func (r *remote) knownMissing(key string, now time.Time) bool {
	r.missMu.Lock()
	defer r.missMu.Unlock()
	until, ok := r.misses[key]
	return ok && now.Before(until)
}

// forgetMissing drops what rememberMissing knew of key: this machine has just sent it.
func (r *remote) forgetMissing(key string) {
	r.missMu.Lock()
	defer r.missMu.Unlock()
	delete(r.misses, key)
}

func (r *remote) rememberMissing(key string, now time.Time) {
	r.missMu.Lock()
	defer r.missMu.Unlock()
	if r.misses == nil || len(r.misses) >= 10000 {
		r.misses = map[string]time.Time{}
	}
	r.misses[key] = now.Add(missTTL)
}

// readable reports whether read-through may try the blob tier now.
func (r *remote) readable() bool { return r.opts.Now().UnixNano() >= r.downUntil.Load() }

// readFailed records a failed read-through and pauses read-through for the cooldown; it
// logs once per pause.
func (r *remote) readFailed(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	r.readFail.Add(1)
	now := r.opts.Now()
	if now.UnixNano() >= r.downUntil.Load() {
		r.log.Warn("S3 read-through failed; computing misses locally for a while", "err", err, "pause", r.opts.ReadCooldown)
	}
	r.downUntil.Store(now.Add(r.opts.ReadCooldown).UnixNano())
}

// AttachRemote makes blob the durable tier of db: from now on every cache write queues its
// upload in the same transaction (write-through), and a cache miss reads the blob tier
// (read-through). Call it once, right after Open and before the database is used; an
// Uploader drains what it queues.
func (db *DB) AttachRemote(blob Blob, opts RemoteOptions) error {
	if db.bolt.IsReadOnly() {
		return errors.New("attach remote: the database is open read-only")
	}
	if db.remote != nil {
		return errors.New("attach remote: a remote is already attached")
	}
	if blob == nil || opts.Files == nil {
		return errors.New("attach remote: a blob store and the local files are required")
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 10 * time.Second
	}
	if opts.ReadCooldown <= 0 {
		opts.ReadCooldown = 30 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = db.now
	}
	db.remote = &remote{blob: blob, files: opts.Files, opts: opts, log: opts.Logger.With("component", "remote"), wake: make(chan struct{}, 1)}
	return nil
}

// Remote is the attached blob tier, nil when there is none.
func (db *DB) Remote() Blob {
	if db.remote == nil {
		return nil
	}
	return db.remote.blob
}

// ReadThroughStats counts read-through since AttachRemote.
type ReadThroughStats struct {
	// Records brought back from the blob tier into the hot tier.
	Records int64 `json:"records"`
	// Misses: the blob tier did not have the record either, or had another version.
	Misses int64 `json:"misses"`
	// Failures: the blob tier could not be read (read-through then pauses a while).
	Failures int64 `json:"failures"`
}

// ReadThroughStats reports read-through counts (zero without a remote).
func (db *DB) ReadThroughStats() ReadThroughStats {
	r := db.remote
	if r == nil {
		return ReadThroughStats{}
	}
	return ReadThroughStats{Records: r.reads.Load(), Misses: r.readMiss.Load(), Failures: r.readFail.Load()}
}

// ReadThrough brings back into the hot tier every record of keys (key -> the version wanted)
// that bbolt lacks and the blob tier holds in that version, and reports how many it brought.
// Records of another version are left where they are: they would be stale here. The blob
// tier is read outside any transaction; what it returns is written in one short Update.
// Without a remote, or while read-through is paused after a failure, it does nothing.
// Failures are not returned (a miss is computed locally); they pause read-through.
//
// With a shared tier (several nodes), the shared tier is asked first: a record another node
// has just made is there before it is in the blob tier.
func (db *DB) ReadThrough(ctx context.Context, keys map[string]string) int {
	n := 0
	if db.shared != nil && len(keys) > 0 {
		n = db.readShared(ctx, keys)
	}
	return n + db.readThroughBlob(ctx, keys)
}

// readThroughBlob is ReadThrough from the blob tier alone.
func (db *DB) readThroughBlob(ctx context.Context, keys map[string]string) int {
	r := db.remote
	if r == nil || len(keys) == 0 || !r.readable() {
		return 0
	}
	var todo []string
	err := db.View(ctx, func(tx *Tx) error {
		todo = todo[:0]
		c := tx.bucket(bucketCache)
		now := r.opts.Now()
		for k := range keys {
			if c.Get([]byte(k)) == nil && !tx.deletePending(k) && !r.knownMissing(k, now) {
				todo = append(todo, k)
			}
		}
		return nil
	})
	if err != nil || len(todo) == 0 {
		return 0
	}
	sort.Strings(todo)
	ctx, cancel := context.WithTimeout(ctx, r.opts.ReadTimeout)
	defer cancel()
	raws := make([][]byte, len(todo))
	err = forEach(ctx, len(todo), r.opts.Concurrency, func(ctx context.Context, i int) error {
		b, err := readBlob(ctx, r.blob, todo[i])
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		raws[i] = b
		return err
	})
	if err != nil {
		r.readFailed(err)
		return 0
	}
	type fetched struct {
		key string
		raw []byte
	}
	var got []fetched
	now := r.opts.Now()
	for i, k := range todo {
		if raws[i] == nil {
			r.readMiss.Add(1)
			r.rememberMissing(k, now)
			continue
		}
		rec, err := decodeRecord(k, raws[i])
		if err != nil || rec.Version != keys[k] {
			r.readMiss.Add(1)
			r.rememberMissing(k, now)
			continue
		}
		got = append(got, fetched{k, raws[i]})
	}
	if len(got) == 0 {
		return 0
	}
	n := 0
	err = db.Update(context.WithoutCancel(ctx), func(tx *Tx) error {
		n = 0
		c := tx.bucket(bucketCache)
		for _, f := range got {
			// Written meanwhile (computed here) or dropped meanwhile: leave it.
			if c.Get([]byte(f.key)) != nil || tx.deletePending(f.key) {
				continue
			}
			if err := c.Put([]byte(f.key), f.raw); err != nil {
				return err
			}
			tx.cacheChanged(f.key)
			if err := tx.putSynced(f.key, syncedEntry{SHA256: sha256Hex(f.raw), Size: int64(len(f.raw)), SyncedAt: tx.now}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		r.log.Error("Cannot write read-through records", "err", err)
		return 0
	}
	r.reads.Add(int64(n))
	r.log.Debug("Read through from S3", "records", n)
	return n
}

// ReadThroughPrefix is ReadThrough for every remote key under prefix: one listing, then the
// records bbolt lacks. Stage 4 uses it to learn which pages another machine (or this one,
// before its data directory was lost) already extracted.
func (db *DB) ReadThroughPrefix(ctx context.Context, prefix, version string) int {
	r := db.remote
	if r == nil || !r.readable() {
		return 0
	}
	pending := false
	_ = db.View(ctx, func(tx *Tx) error {
		pending = tx.deletePending(prefix)
		return nil
	})
	if pending {
		return 0
	}
	lctx, cancel := context.WithTimeout(ctx, r.opts.ReadTimeout)
	defer cancel()
	keys := map[string]string{}
	err := r.blob.List(lctx, prefix, func(i BlobInfo) error {
		keys[i.Key] = version
		return nil
	})
	if err != nil {
		r.readFailed(err)
		return 0
	}
	return db.ReadThrough(lctx, keys) // the listing and the reads share one time limit
}

// readBlob reads a whole object.
func readBlob(ctx context.Context, b Blob, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// forEach runs fn for 0..n-1, at most par at once, and returns the first error (the others
// are then cancelled).
func forEach(ctx context.Context, n, par int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(par, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// DocMeta is the blob tier's description of a document (documents/{id}/metadata.json).
type DocMeta struct {
	ID         string                   `json:"id"`
	FileName   string                   `json:"file_name"`
	SHA256     string                   `json:"sha256"`
	Size       int64                    `json:"size"`
	Pages      int                      `json:"pages"`
	Status     Status                   `json:"status"`
	Stage      string                   `json:"stage,omitempty"`
	CreatedAt  time.Time                `json:"created_at"`
	FinishedAt *time.Time               `json:"finished_at,omitempty"`
	Stages     map[string]StageProgress `json:"stages,omitempty"`
}

// docMeta makes the metadata object of a document from its record and progress.
func (tx *Tx) docMeta(id string) ([]byte, error) {
	d, err := tx.Document(id)
	if err != nil {
		return nil, err
	}
	m := DocMeta{ID: d.ID, FileName: d.FileName, SHA256: d.SHA256, Size: d.Size, Pages: d.Pages,
		Status: d.Status, Stage: d.Stage, CreatedAt: d.CreatedAt, FinishedAt: d.FinishedAt, Stages: map[string]StageProgress{}}
	p := []byte(id + "/")
	c := tx.bucket(bucketProgress).Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		var sp StageProgress
		if json.Unmarshal(v, &sp) == nil {
			m.Stages[string(k[len(p):])] = sp
		}
	}
	return json.Marshal(m)
}

// ImportDocuments copies into bbolt the record of every completed document the blob tier
// holds and bbolt does not: what a new machine with an empty data directory and the same
// bucket needs to list them and serve their pages and results. Their cached records stay in
// the blob tier until read through; their originals until FetchOriginal. It returns how many
// documents it imported.
func (db *DB) ImportDocuments(ctx context.Context) (int, error) {
	r := db.remote
	if r == nil {
		return 0, nil
	}
	type found struct {
		meta     bool
		original int64
	}
	seen := map[string]*found{}
	err := r.blob.List(ctx, DocumentsPrefix, func(i BlobInfo) error {
		rest := strings.TrimPrefix(i.Key, DocumentsPrefix)
		id, name, ok := strings.Cut(rest, "/")
		if !ok || !ValidID(id) {
			return nil
		}
		f := seen[id]
		if f == nil {
			f = &found{original: -1}
			seen[id] = f
		}
		switch name {
		case "metadata.json":
			f.meta = true
		case "original.pdf":
			f.original = i.Size
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import documents: %w", err)
	}
	var ids []string
	err = db.View(ctx, func(tx *Tx) error {
		ids = ids[:0]
		b := tx.bucket(bucketDocs)
		for id, f := range seen {
			if f.meta && f.original >= 0 && b.Get([]byte(id)) == nil {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	sort.Strings(ids)
	raws := make([][]byte, len(ids))
	err = forEach(ctx, len(ids), r.opts.Concurrency, func(ctx context.Context, i int) error {
		b, err := readBlob(ctx, r.blob, DocMetaKey(ids[i]))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		raws[i] = b
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("import documents: %w", err)
	}
	n := 0
	err = db.Update(ctx, func(tx *Tx) error {
		n = 0
		docs := tx.bucket(bucketDocs)
		for i, id := range ids {
			var m DocMeta
			if raws[i] == nil || json.Unmarshal(raws[i], &m) != nil || m.ID != id || m.Status != StatusCompleted {
				continue
			}
			if docs.Get([]byte(id)) != nil {
				continue // submitted here meanwhile
			}
			d := Document{ID: id, FileName: m.FileName, SHA256: m.SHA256, Size: m.Size, Pages: m.Pages,
				Priority: PriorityNormal, Status: m.Status, Stage: m.Stage, CreatedAt: m.CreatedAt,
				UpdatedAt: tx.now, FinishedAt: m.FinishedAt}
			// Written as is: an imported document is already in the blob tier, so nothing
			// is queued for it.
			v, err := json.Marshal(d)
			if err != nil {
				return err
			}
			if err := tx.writeDocument(&d, v); err != nil {
				return err
			}
			for stage, sp := range m.Stages {
				if err := tx.PutProgress(id, stage, sp); err != nil {
					return err
				}
			}
			if err := tx.putSynced(DocMetaKey(id), syncedEntry{SHA256: sha256Hex(raws[i]), Size: int64(len(raws[i])), SyncedAt: tx.now}); err != nil {
				return err
			}
			if err := tx.putSynced(OriginalKey(id), syncedEntry{SHA256: m.SHA256, Size: seen[id].original, SyncedAt: tx.now}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		r.log.Info("Imported completed documents from S3", "documents", n)
	}
	return n, nil
}

// FetchOriginal returns the local path of a document's uploaded file, copying it from the
// blob tier first when the data directory does not have it (an imported document, or a data
// directory that was lost). The copy is checked against the document's SHA-256. A file that
// is nowhere is fs.ErrNotExist.
func (db *DB) FetchOriginal(ctx context.Context, files *DirBlob, id string) (string, error) {
	key := OriginalKey(id)
	path := files.Path(key)
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return path, err
	}
	r := db.remote
	if r == nil {
		return path, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	var want string
	err := db.View(ctx, func(tx *Tx) error {
		d, err := tx.Document(id)
		want = d.SHA256
		return err
	})
	if err != nil {
		return path, err
	}
	rc, err := r.blob.Get(ctx, key)
	if err != nil {
		return path, fmt.Errorf("fetch original of %s: %w", id, err)
	}
	defer rc.Close()
	h := sha256.New()
	if err := files.Put(ctx, key, io.TeeReader(rc, h), nil); err != nil {
		return path, fmt.Errorf("fetch original of %s: %w", id, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); want != "" && got != want {
		_ = files.Delete(ctx, key)
		return path, fmt.Errorf("fetch original of %s: sha256 %s, want %s", id, got, want)
	}
	r.log.Info("Fetched original from S3", "doc_id", id)
	return path, nil
}

// PutOriginal puts a document's upload (the file at path, whose SHA-256 is sum) in the blob
// tier now, unless it is there already with that SHA-256: with several nodes an upload must
// be in the bucket before it is queued, which the outbox, sending it later, does not ensure.
func (db *DB) PutOriginal(ctx context.Context, id, path, sum, fileName string) error {
	r := db.remote
	if r == nil {
		return errors.New("put original: no blob tier attached")
	}
	key := OriginalKey(id)
	if info, err := r.blob.Stat(ctx, key); err == nil && info.Metadata["sha256"] == sum {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := r.blob.Put(ctx, key, f, map[string]string{"sha256": sum, "file_name": fileName}); err != nil {
		return fmt.Errorf("put original of %s: %w", id, err)
	}
	return nil
}
