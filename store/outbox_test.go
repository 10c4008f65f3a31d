package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultyBlob wraps a Blob, counts the calls that reach it, and fails them with err while err
// is set.
type faultyBlob struct {
	Blob
	calls atomic.Int64
	mu    sync.Mutex
	err   error
}

func (f *faultyBlob) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *faultyBlob) check() error {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *faultyBlob) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Blob.Put(ctx, key, r, meta)
}

func (f *faultyBlob) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.Blob.Get(ctx, key)
}

func (f *faultyBlob) Stat(ctx context.Context, key string) (BlobInfo, error) {
	if err := f.check(); err != nil {
		return BlobInfo{}, err
	}
	return f.Blob.Stat(ctx, key)
}

func (f *faultyBlob) List(ctx context.Context, prefix string, fn func(BlobInfo) error) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Blob.List(ctx, prefix, fn)
}

func (f *faultyBlob) Delete(ctx context.Context, key string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Blob.Delete(ctx, key)
}

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// waiting reports whether something waits for the time at.
func (c *fakeClock) waiting(at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		if w.at.Equal(at) {
			return true
		}
	}
	return false
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// remoteEnv is a database with a blob tier attached.
type remoteEnv struct {
	db    *DB
	dir   string
	files *DirBlob
	blob  Blob
	logs  *bytes.Buffer
	logMu *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (e *remoteEnv) log() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.logs.String()
}

func (e *remoteEnv) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{e.logMu, e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newRemoteEnv(t *testing.T, blob Blob) *remoteEnv {
	t.Helper()
	db := mustOpen(t, Options{})
	e := &remoteEnv{db: db, blob: blob, logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	e.dir = t.TempDir()
	e.files = NewDirBlob(e.dir)
	if err := db.AttachRemote(blob, RemoteOptions{Files: e.files, Logger: e.logger()}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *remoteEnv) outbox(t *testing.T, opts UploaderOptions) *Uploader {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = e.logger()
	}
	o, err := NewUploader(e.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Stop)
	return o
}

func (e *remoteEnv) backlog(t *testing.T) int {
	t.Helper()
	var n int
	err := e.db.View(context.Background(), func(tx *Tx) error {
		var err error
		n, _, err = tx.OutboxBacklog()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// submit stores an original and its document record, as pipeline.Submit does.
func (e *remoteEnv) submit(t *testing.T, n int, body string) Document {
	t.Helper()
	ctx := context.Background()
	d := Document{ID: id(n), FileName: fmt.Sprintf("file-%d.pdf", n), SHA256: sha256Hex([]byte(body)), Size: int64(len(body)), Status: StatusQueued}
	if err := e.files.Put(ctx, OriginalKey(d.ID), strings.NewReader(body), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Update(ctx, func(tx *Tx) error { return tx.PutDocument(&d) }); err != nil {
		t.Fatal(err)
	}
	return d
}

func putCache(t *testing.T, db *DB, key, version string, data any) {
	t.Helper()
	if err := db.Update(context.Background(), func(tx *Tx) error { return tx.PutCache(key, version, data) }); err != nil {
		t.Fatal(err)
	}
}

func cacheBytes(t *testing.T, db *DB, key string) []byte {
	t.Helper()
	var out []byte
	_ = db.View(context.Background(), func(tx *Tx) error {
		out = clone(tx.bucket(bucketCache).Get([]byte(key)))
		return nil
	})
	return out
}

func blobBytes(t *testing.T, b Blob, key string) []byte {
	t.Helper()
	got, err := readBlob(context.Background(), b, key)
	if err != nil {
		t.Fatalf("blob %s: %v", key, err)
	}
	return got
}

func TestNoRemoteWritesNoOutbox(t *testing.T) {
	db := mustOpen(t, Options{})
	ctx := context.Background()
	d := Document{ID: id(1), Status: StatusQueued}
	err := db.Update(ctx, func(tx *Tx) error {
		if err := tx.PutDocument(&d); err != nil {
			return err
		}
		if err := tx.PutCache(PageDataKey(d.ID, 0), "v1", map[string]int{"a": 1}); err != nil {
			return err
		}
		_, err := tx.DeleteCache(PageDataPrefix(d.ID))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(ctx, func(tx *Tx) error {
		for _, b := range [][]byte{bucketOutbox, bucketOutboxKeys, bucketSynced} {
			if n := tx.bucket(b).Stats().KeyN; n != 0 {
				t.Errorf("bucket %s has %d keys without a remote", b, n)
			}
		}
		return nil
	})
}

func TestWriteThrough(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBlob()
	e := newRemoteEnv(t, mem)
	d := e.submit(t, 1, "%PDF-1.7 original")
	k0, k1 := PageDataKey(d.ID, 0), PageDataKey(d.ID, 1)
	putCache(t, e.db, k0, "v1", map[string]string{"n": "first"})
	putCache(t, e.db, k0, "v1", map[string]string{"n": "second"}) // replaces the pending entry
	putCache(t, e.db, k1, "v1", map[string]string{"n": "one"})
	// original, metadata, page 0 once, page 1
	if n := e.backlog(t); n != 4 {
		t.Fatalf("backlog = %d, want 4", n)
	}
	o := e.outbox(t, UploaderOptions{})
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.backlog(t); n != 0 {
		t.Fatalf("backlog after flush = %d", n)
	}
	for _, k := range []string{k0, k1} {
		local := cacheBytes(t, e.db, k)
		if got := blobBytes(t, mem, k); !bytes.Equal(got, local) {
			t.Errorf("%s: remote %s, local %s", k, got, local)
		}
		info, err := mem.Stat(ctx, k)
		if err != nil || info.Metadata["sha256"] != sha256Hex(local) {
			t.Errorf("%s: metadata %v, %v", k, info.Metadata, err)
		}
	}
	if got := blobBytes(t, mem, OriginalKey(d.ID)); string(got) != "%PDF-1.7 original" {
		t.Errorf("original = %q", got)
	}
	var meta DocMeta
	if err := json.Unmarshal(blobBytes(t, mem, DocMetaKey(d.ID)), &meta); err != nil || meta.FileName != d.FileName || meta.SHA256 != d.SHA256 || meta.Status != StatusQueued {
		t.Errorf("metadata = %+v, %v", meta, err)
	}
	// A status change queues the metadata again; a stage change alone does not.
	err := e.db.Update(ctx, func(tx *Tx) error {
		_, err := tx.UpdateDocument(d.ID, func(d *Document) error { d.Stage = "ocr_extraction"; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.backlog(t); n != 0 {
		t.Errorf("a stage change queued %d writes", n)
	}
	err = e.db.Update(ctx, func(tx *Tx) error {
		_, err := tx.UpdateDocument(d.ID, func(d *Document) error { d.Status = StatusCompleted; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.backlog(t); n != 1 {
		t.Errorf("completion queued %d writes, want 1", n)
	}
	st, err := o.Stats(ctx)
	if err != nil || st.Pending != 1 || st.Uploaded != 4 {
		t.Errorf("stats = %+v, %v", st, err)
	}
}

func TestOriginalNotSentTwice(t *testing.T) {
	ctx := context.Background()
	fb := &faultyBlob{Blob: NewMemBlob()}
	e := newRemoteEnv(t, fb)
	d := e.submit(t, 1, "%PDF-1.7 big original")
	if err := fb.Blob.Put(ctx, OriginalKey(d.ID), strings.NewReader("%PDF-1.7 big original"), map[string]string{"sha256": d.SHA256}); err != nil {
		t.Fatal(err)
	}
	o := e.outbox(t, UploaderOptions{})
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := o.Stats(ctx)
	if st.Uploaded != 1 { // the metadata only
		t.Errorf("uploaded %d objects, want 1 (the original was there)", st.Uploaded)
	}
}

func TestReadThrough(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBlob()
	a := newRemoteEnv(t, mem)
	key := OCRKey(id(1))
	putCache(t, a.db, key, "ocr/1", map[string]string{"text": "hello"})
	putCache(t, a.db, AccountsKey(id(1)), "split/OLD", []int{1})
	if err := a.outbox(t, UploaderOptions{}).Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// A new machine: empty database, same bucket.
	b := newRemoteEnv(t, mem)
	var got map[string]string
	if err := b.db.GetCached(ctx, key, "ocr/1", &got); err != nil || got["text"] != "hello" {
		t.Fatalf("read-through: %v, %v", got, err)
	}
	if !bytes.Equal(cacheBytes(t, b.db, key), cacheBytes(t, a.db, key)) {
		t.Error("the record read through is not byte-equal")
	}
	// Another version is a miss and is not kept.
	if err := b.db.GetCached(ctx, AccountsKey(id(1)), "split/NEW", &got); !errors.Is(err, ErrNotFound) {
		t.Errorf("stale remote record: %v", err)
	}
	if cacheBytes(t, b.db, AccountsKey(id(1))) != nil {
		t.Error("a stale record was written into bbolt")
	}
	// Nothing read back is queued for upload again.
	if n := b.backlog(t); n != 0 {
		t.Errorf("read-through queued %d uploads", n)
	}
	if st := b.db.ReadThroughStats(); st.Records != 1 || st.Misses != 1 {
		t.Errorf("read-through stats = %+v", st)
	}
	// A key S3 lacks is not asked for again right away.
	fb := &faultyBlob{Blob: mem}
	c := newRemoteEnv(t, fb)
	for range 5 {
		_ = c.db.GetCached(ctx, PageDataKey(id(2), 3), "x", &got)
	}
	if n := fb.calls.Load(); n != 1 {
		t.Errorf("5 reads of a missing key made %d remote calls, want 1", n)
	}
}

func TestReadThroughPrefixAndFailurePause(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBlob()
	a := newRemoteEnv(t, mem)
	for p := range 5 {
		putCache(t, a.db, PageDataKey(id(1), p), "x/1", p)
	}
	if err := a.outbox(t, UploaderOptions{}).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fb := &faultyBlob{Blob: mem}
	b := newRemoteEnv(t, fb)
	if n := b.db.ReadThroughPrefix(ctx, PageDataPrefix(id(1)), "x/1"); n != 5 {
		t.Errorf("prefix read-through brought %d records, want 5", n)
	}
	// S3 down: a failure pauses read-through; misses are then plain misses, with no call.
	fb.setErr(errors.New("connection refused"))
	var v int
	if err := b.db.GetCached(ctx, PageDataKey(id(9), 0), "x/1", &v); !errors.Is(err, ErrNotFound) {
		t.Errorf("get while down: %v", err)
	}
	calls := fb.calls.Load()
	for p := range 10 {
		_ = b.db.GetCached(ctx, PageDataKey(id(9), p+1), "x/1", &v)
	}
	if fb.calls.Load() != calls {
		t.Errorf("read-through kept calling a failing S3: %d calls", fb.calls.Load()-calls)
	}
	if !strings.Contains(b.log(), "S3 read-through failed") {
		t.Error("the failure was not logged")
	}
}

func TestReprocessDropsRemoteCopies(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBlob()
	e := newRemoteEnv(t, mem)
	doc := id(1)
	for p := range 3 {
		putCache(t, e.db, PageDataKey(doc, p), "x/1", p)
	}
	putCache(t, e.db, OCRKey(doc), "ocr/1", "text")
	o := e.outbox(t, UploaderOptions{})
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A reprocess of stage 4: the records go, here and in S3.
	err := e.db.Update(ctx, func(tx *Tx) error {
		_, err := tx.DeleteCache(PageDataPrefix(doc))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := e.db.GetCached(ctx, PageDataKey(doc, 1), "x/1", &v); !errors.Is(err, ErrNotFound) {
		t.Errorf("a dropped record was read back before its remote delete: %v", err)
	}
	// Page 0 is computed again before the delete reaches S3: it must survive it.
	putCache(t, e.db, PageDataKey(doc, 0), "x/1", 100)
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var keys []string
	_ = mem.List(ctx, "", func(i BlobInfo) error { keys = append(keys, i.Key); return nil })
	want := OCRKey(doc) + "," + PageDataKey(doc, 0)
	if strings.Join(keys, ",") != want {
		t.Errorf("bucket = %v, want %s", keys, want)
	}
	if got := blobBytes(t, mem, PageDataKey(doc, 0)); !bytes.Equal(got, cacheBytes(t, e.db, PageDataKey(doc, 0))) {
		t.Errorf("page 0 in S3 = %s", got)
	}
}

func TestImportAndFetchOriginal(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBlob()
	a := newRemoteEnv(t, mem)
	done := a.submit(t, 1, "%PDF-1.7 done")
	a.submit(t, 2, "%PDF-1.7 still queued")
	err := a.db.Update(ctx, func(tx *Tx) error {
		if _, err := tx.UpdateProgress(done.ID, "ocr_extraction", func(p *StageProgress) { p.Status = StageCompleted; p.SetDone(3, 3) }); err != nil {
			return err
		}
		_, err := tx.UpdateDocument(done.ID, func(d *Document) error { d.Status, d.Pages, d.Stage = StatusCompleted, 3, "completed"; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.outbox(t, UploaderOptions{}).Flush(ctx); err != nil {
		t.Fatal(err)
	}

	b := newRemoteEnv(t, mem)
	n, err := b.db.ImportDocuments(ctx)
	if err != nil || n != 1 {
		t.Fatalf("imported %d, %v; want the 1 completed document", n, err)
	}
	if n, _ := b.db.ImportDocuments(ctx); n != 0 {
		t.Errorf("a second import imported %d", n)
	}
	err = b.db.View(ctx, func(tx *Tx) error {
		d, err := tx.Document(done.ID)
		if err != nil {
			return err
		}
		if d.Status != StatusCompleted || d.Pages != 3 || d.FileName != done.FileName || d.SHA256 != done.SHA256 {
			t.Errorf("imported %+v", d)
		}
		if sp, _ := tx.Progress(done.ID, "ocr_extraction"); sp.Status != StageCompleted || sp.Done != 3 {
			t.Errorf("imported progress %+v", sp)
		}
		if _, err := tx.Document(id(2)); !errors.Is(err, ErrNotFound) {
			t.Errorf("an unfinished document was imported: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := b.backlog(t); n != 0 {
		t.Errorf("the import queued %d uploads", n)
	}
	path, err := b.db.FetchOriginal(ctx, b.files, done.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "%PDF-1.7 done" {
		t.Errorf("fetched original = %q", got)
	}
	// A corrupt copy in S3 is refused.
	if err := mem.Put(ctx, OriginalKey(done.ID), strings.NewReader("tampered"), nil); err != nil {
		t.Fatal(err)
	}
	c := newRemoteEnv(t, mem)
	if _, err := c.db.ImportDocuments(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.FetchOriginal(ctx, c.files, done.ID); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("a tampered original was accepted: %v", err)
	}
	if _, err := c.db.FetchOriginal(ctx, c.files, id(7)); !errors.Is(err, ErrNotFound) && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown document: %v", err)
	}
}

func TestEvictOnlyWhatIsSafe(t *testing.T) {
	ctx := context.Background()
	fb := &faultyBlob{Blob: NewMemBlob()}
	e := newRemoteEnv(t, fb)
	big := strings.Repeat("x", 1000)
	for p := range 10 {
		putCache(t, e.db, PageDataKey(id(1), p), "v", big)
	}
	o := e.outbox(t, UploaderOptions{CacheMaxBytes: 5000})
	// Nothing is in S3 yet: nothing may go.
	if n, err := o.Evict(ctx); err != nil || n != 0 {
		t.Fatalf("evicted %d before upload, %v", n, err)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Two more records that S3 does not have.
	fb.setErr(errors.New("S3 down"))
	putCache(t, e.db, PageDataKey(id(2), 0), "v", big)
	putCache(t, e.db, PageDataKey(id(2), 1), "v", big)
	n, err := o.Evict(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	var size int64
	_ = e.db.View(ctx, func(tx *Tx) error {
		size = bucketSize(tx.bucket(bucketCache))
		return tx.CacheEntries("", func(c CacheEntry) error { left = append(left, c.Key); return nil })
	})
	if size > 5000 {
		t.Errorf("cache is %d bytes after evicting %d, limit 5000", size, n)
	}
	for _, k := range []string{PageDataKey(id(2), 0), PageDataKey(id(2), 1)} {
		if cacheBytes(t, e.db, k) == nil {
			t.Errorf("%s was evicted before it was in S3", k)
		}
	}
	// An evicted record reads through.
	fb.setErr(nil)
	var v string
	if err := e.db.GetCached(ctx, PageDataKey(id(1), 0), "v", &v); err != nil || v != big {
		t.Errorf("evicted record: %v (left %v)", err, left)
	}
}

// waitFor polls cond for up to 5s of real time (the uploader runs in its own goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForbiddenBacksOffWithoutHotLoop(t *testing.T) {
	ctx := context.Background()
	fb := &faultyBlob{Blob: NewMemBlob()}
	fb.setErr(fmt.Errorf("s3 put x: %w: 403 InvalidAccessKeyId", ErrForbidden))
	e := newRemoteEnv(t, fb)
	clock := newFakeClock()
	o := e.outbox(t, UploaderOptions{Clock: clock, Rand: func() float64 { return 1 }, ForbiddenBackoff: 10 * time.Minute, Concurrency: 1, BatchSize: 1})
	putCache(t, e.db, PageDataKey(id(1), 0), "v", 0)
	if err := o.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first refusal", func() bool { return clock.waiting(clock.Now().Add(10 * time.Minute)) })
	first := fb.calls.Load()
	// The pipeline goes on writing; each commit pokes the uploader.
	for p := range 50 {
		putCache(t, e.db, PageDataKey(id(1), p+1), "v", p)
	}
	clock.Advance(9 * time.Minute)
	time.Sleep(100 * time.Millisecond)
	if n := fb.calls.Load(); n != first {
		t.Errorf("%d calls to a refusing S3 within its backoff", n-first)
	}
	st, _ := o.Stats(ctx)
	if st.State != UploaderForbidden || !strings.Contains(st.LastError, "InvalidAccessKeyId") || st.Pending != 51 {
		t.Errorf("stats = %+v", st)
	}
	if c := strings.Count(e.log(), "S3 refused the uploads"); c != 1 {
		t.Errorf("the refusal was logged %d times, want once", c)
	}
	clock.Advance(2 * time.Minute)
	waitFor(t, "the retry after the backoff", func() bool { return clock.waiting(clock.Now().Add(10 * time.Minute)) })
	if n := fb.calls.Load(); n != first+1 {
		t.Errorf("the retry made %d calls, want 1", n-first)
	}
	// Fixed: everything goes out at the next try.
	fb.setErr(nil)
	clock.Advance(11 * time.Minute)
	waitFor(t, "the drain", func() bool {
		st, _ := o.Stats(ctx)
		return st.Pending == 0 && st.State == UploaderOK
	})
	var n int
	_ = fb.Blob.List(ctx, "", func(BlobInfo) error { n++; return nil })
	if n != 51 {
		t.Errorf("bucket holds %d objects, want 51", n)
	}
}

func TestUploaderRetriesWithBackoff(t *testing.T) {
	ctx := context.Background()
	fb := &faultyBlob{Blob: NewMemBlob()}
	fb.setErr(errors.New("dial tcp: connection refused"))
	e := newRemoteEnv(t, fb)
	clock := newFakeClock()
	o := e.outbox(t, UploaderOptions{Clock: clock, Rand: func() float64 { return 1 }, MinBackoff: time.Second, MaxBackoff: time.Minute})
	putCache(t, e.db, PageDataKey(id(1), 0), "v", 0)
	if err := o.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Failures 1, 2, 3 wait 1s, 16s, 1m (the cap); retry.Backoff is tested on its own.
	for i, wait := range []time.Duration{time.Second, 16 * time.Second, time.Minute} {
		waitFor(t, fmt.Sprintf("failure %d", i+1), func() bool { return clock.waiting(clock.Now().Add(wait)) })
		if st, _ := o.Stats(ctx); st.Failures != i+1 || st.State != UploaderRetrying {
			t.Errorf("after failure %d: %+v", i+1, st)
		}
		clock.Advance(wait)
	}
	fb.setErr(nil)
	clock.Advance(time.Minute)
	waitFor(t, "the drain", func() bool { st, _ := o.Stats(ctx); return st.Pending == 0 && st.State == UploaderOK })
	if c := strings.Count(e.log(), "S3 upload failed; results stay in the outbox"); c != 1 {
		t.Errorf("the outage was logged at warn level %d times, want once", c)
	}
}

func TestBackfillWhenS3IsConfiguredLater(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	files := NewDirBlob(dir)
	d := Document{ID: id(1), SHA256: sha256Hex([]byte("%PDF-old")), Status: StatusCompleted}
	if err := files.Put(ctx, OriginalKey(d.ID), strings.NewReader("%PDF-old"), nil); err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx *Tx) error {
		if err := tx.PutDocument(&d); err != nil {
			return err
		}
		return tx.PutCache(OCRKey(d.ID), "v", "text")
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mem := NewMemBlob()
	if err := db.AttachRemote(mem, RemoteOptions{Files: files}); err != nil {
		t.Fatal(err)
	}
	o, err := NewUploader(db, UploaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backfill", func() bool { st, _ := o.Stats(ctx); return st.Uploaded == 3 && st.Pending == 0 })
	o.Stop()
	var keys []string
	_ = mem.List(ctx, "", func(i BlobInfo) error { keys = append(keys, i.Key); return nil })
	if want := DocMetaKey(d.ID) + "," + OriginalKey(d.ID) + "," + OCRKey(d.ID); strings.Join(keys, ",") != want {
		t.Errorf("bucket = %v, want %s", keys, want)
	}
	// Nothing more the next time.
	if n, err := db.QueueUnsynced(ctx); err != nil || n != 0 {
		t.Errorf("second backfill queued %d, %v", n, err)
	}
	// A record written while the bucket is not configured is found at the next start with
	// it (a start otherwise does not look).
	db.Close()
	if db, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx *Tx) error { return tx.PutCache(AccountsKey(d.ID), "v", "accounts") }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AttachRemote(mem, RemoteOptions{Files: files}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.QueueUnsynced(ctx); err != nil || n != 1 {
		t.Errorf("after a record written without the bucket, the backfill queued %d, %v; want 1", n, err)
	}
}

// A key S3 lacked when first looked up, computed, sent and then evicted, reads through:
// the memory of the miss does not outlive the upload.
func TestMissForgottenOnUpload(t *testing.T) {
	ctx := context.Background()
	e := newRemoteEnv(t, NewMemBlob())
	key := OCRKey(id(1))
	var v string
	if err := e.db.GetCached(ctx, key, "v", &v); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	putCache(t, e.db, key, "v", strings.Repeat("x", 100))
	o := e.outbox(t, UploaderOptions{CacheMaxBytes: 10})
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := o.Evict(ctx); err != nil || n != 1 {
		t.Fatalf("evicted %d, %v", n, err)
	}
	if err := e.db.GetCached(ctx, key, "v", &v); err != nil {
		t.Errorf("evicted record after a remembered miss: %v", err)
	}
}

// hookBlob runs onPut before each Put reaches the store.
type hookBlob struct {
	Blob
	onPut func(key string)
}

func (h *hookBlob) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error {
	if h.onPut != nil {
		h.onPut(key)
	}
	return h.Blob.Put(ctx, key, r, meta)
}

// A record dropped (reprocess) while its upload is on the wire must still be deleted from S3.
func TestDropDuringUpload(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBlob()
	hb := &hookBlob{Blob: mem}
	e := newRemoteEnv(t, hb)
	key := PageDataKey(id(1), 0)
	putCache(t, e.db, key, "v", 1)
	hb.onPut = func(k string) {
		if k != key {
			return
		}
		hb.onPut = nil
		err := e.db.Update(ctx, func(tx *Tx) error {
			_, err := tx.DeleteCache(PageDataPrefix(id(1)))
			return err
		})
		if err != nil {
			t.Error(err)
		}
	}
	o := e.outbox(t, UploaderOptions{Concurrency: 1})
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dropped record is still in S3: %v", err)
	}
	var v int
	if err := e.db.GetCached(ctx, key, "v", &v); !errors.Is(err, ErrNotFound) {
		t.Errorf("the dropped record reads through: %v", err)
	}
}

// A round cancelled mid-way (a stop) keeps what it did not send in the outbox.
func TestCancelledRoundKeepsTheRest(t *testing.T) {
	mem := NewMemBlob()
	hb := &hookBlob{Blob: mem}
	e := newRemoteEnv(t, hb)
	for p := range 10 {
		putCache(t, e.db, PageDataKey(id(1), p), "v", p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hb.onPut = func(string) { cancel() }
	o := e.outbox(t, UploaderOptions{Concurrency: 1})
	if err := o.Flush(ctx); err == nil {
		t.Fatal("a cancelled flush reported success")
	}
	var sent int
	_ = mem.List(context.Background(), "", func(BlobInfo) error { sent++; return nil })
	if n := e.backlog(t); n+sent != 10 || n < 9 {
		t.Fatalf("backlog %d, sent %d: entries were lost", n, sent)
	}
	hb.onPut = nil
	if err := o.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	states, err := CompareRemote(context.Background(), e.db, mem, CachePrefixes())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.State != SyncInSync {
			t.Errorf("%s: %s", st.Key, st.State)
		}
	}
}
