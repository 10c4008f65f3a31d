package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/store/s3"
	"github.com/idp/idp/store/s3/s3test"
	"github.com/idp/idp/testdata/gen"
)

// The S3 tier against a real S3-compatible server (versitygw, started by store/s3test).

// s3Env is a processor whose store writes through to a bucket.
type s3Env struct {
	*idptest.Env
	blob   *s3.Blob
	outbox *store.Uploader
	prefix string
}

// newS3Env opens a processor on dir (new when empty) over srv's bucket under prefix, with the
// uploader started; more may replace parts of the processor.
func newS3Env(t *testing.T, srv *s3test.Server, dir, prefix string, opts store.UploaderOptions, more ...func(*pipeline.Deps)) *s3Env {
	t.Helper()
	blob, err := s3.New(context.Background(), s3.Config{
		Bucket: srv.Bucket, Prefix: prefix, Endpoint: srv.Endpoint, PathStyle: true,
		Timeout: 5 * time.Second, MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var logger func() *store.Uploader
	e := idptest.NewEnv(t, dir, pipeline.Config{}, func(d *pipeline.Deps) {
		if err := d.DB.AttachRemote(blob, store.RemoteOptions{Files: d.Files, Logger: d.Logger}); err != nil {
			t.Fatal(err)
		}
		for _, f := range more {
			f(d)
		}
		logger = func() *store.Uploader {
			opts.Logger = d.Logger
			o, err := store.NewUploader(d.DB, opts)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
	})
	s := &s3Env{Env: e, blob: blob, outbox: logger(), prefix: prefix}
	if err := s.outbox.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.outbox.Stop) // before the database closes (cleanups run last first)
	return s
}

// close stops everything and closes the database, as a process exit would.
func (s *s3Env) close() {
	s.outbox.Stop()
	s.Proc.Stop()
	s.Close()
}

func (s *s3Env) stats(t *testing.T) store.UploaderStats {
	t.Helper()
	st, err := s.outbox.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitDrained waits until the outbox is empty.
func (s *s3Env) waitDrained(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := s.stats(t)
		if st.Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained after %s: %+v", timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkInBucket checks that every cached record of the database is in the bucket with the
// same bytes, and so is every original.
func (s *s3Env) checkInBucket(t *testing.T, srv *s3test.Server, originals map[string][]byte) {
	t.Helper()
	objs := srv.Objects(t, s.prefix+"/")
	local := s.rawCache(t)
	if len(local) == 0 {
		t.Fatal("nothing cached")
	}
	for k, v := range local {
		got, ok := objs[s.prefix+"/"+k]
		if !ok {
			t.Errorf("%s is not in the bucket", k)
			continue
		}
		if !bytes.Equal(got, v) {
			t.Errorf("%s: bucket and bbolt differ:\n%s\n%s", k, got, v)
		}
	}
	for id, pdf := range originals {
		if got := objs[s.prefix+"/"+store.OriginalKey(id)]; !bytes.Equal(got, pdf) {
			t.Errorf("original of %s: %d bytes in the bucket, want %d", id, len(got), len(pdf))
		}
		var meta store.DocMeta
		if err := json.Unmarshal(objs[s.prefix+"/"+store.DocMetaKey(id)], &meta); err != nil || meta.Status != store.StatusCompleted || meta.Pages == 0 {
			t.Errorf("metadata of %s: %+v, %v", id, meta, err)
		}
	}
}

// rawCache is every cached record's exact bytes; it also checks that cache dump --remote
// would call each of them in sync.
func (s *s3Env) rawCache(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := s.DB.View(context.Background(), func(tx *store.Tx) error {
		return tx.CacheEntries("", func(e store.CacheEntry) error {
			out[e.Key] = tx.CacheBytes(e.Key)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	states, err := store.CompareRemote(context.Background(), s.DB, s.blob, store.CachePrefixes())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.State != store.SyncInSync {
			t.Errorf("%s: %s, want %s", st.Key, st.State, store.SyncInSync)
		}
	}
	return out
}

func startS3(t *testing.T) *s3test.Server {
	t.Helper()
	srv := s3test.Start(t)
	srv.SetEnv(t)
	return srv
}

// TestS3WriteThrough: every cache key of a processed packet is in the bucket, byte-equal,
// and the original with its metadata.
func TestS3WriteThrough(t *testing.T) {
	srv := startS3(t)
	e := newS3Env(t, srv, "", "wt", store.UploaderOptions{})
	p := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2})
	id := e.Submit(t, "packet.pdf", p.PDF, store.PriorityNormal)
	e.Start(t)
	if d := e.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
		t.Fatalf("%s: %s", d.Status, d.Error)
	}
	e.waitDrained(t, 30*time.Second)
	e.checkInBucket(t, srv, map[string][]byte{id: p.PDF})
	st := e.stats(t)
	if st.State != store.UploaderOK || st.Uploaded < int64(p.Truth.TotalPages+5) {
		t.Errorf("stats = %+v", st)
	}
}

// TestS3ReadThrough: a new machine (empty data directory, same bucket) lists the completed
// document and serves its pages and result from S3, computing nothing; submitting the same
// file on a third machine completes from S3 alone.
func TestS3ReadThrough(t *testing.T) {
	srv := startS3(t)
	p := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2})
	ctx := context.Background()

	a := newS3Env(t, srv, "", "rt", store.UploaderOptions{})
	id := a.Submit(t, "packet.pdf", p.PDF, store.PriorityNormal)
	a.Start(t)
	if d := a.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
		t.Fatalf("%s: %s", d.Status, d.Error)
	}
	want, err := a.Proc.Result(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	a.waitDrained(t, 30*time.Second)
	a.close()
	if err := os.RemoveAll(a.Dir); err != nil {
		t.Fatal(err)
	}

	// B: the data directory is gone; the uploader imports the bucket's documents.
	b := newS3Env(t, srv, a.Dir, "rt", store.UploaderOptions{Import: true})
	b.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := b.Proc.Status(ctx, id)
		if err == nil && st.Status == string(store.StatusCompleted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("document not imported: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for page := range p.Truth.TotalPages {
		pd, err := b.Proc.PageData(ctx, id, page)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if page < len(want.Pages) && !sameJSON(t, pd.Data, want.Pages[page].Data) {
			t.Errorf("page %d: %v, want %v", page, pd.Data, want.Pages[page].Data)
		}
	}
	got, err := b.Proc.Result(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want.Status, got.Status = "", ""
	if !sameJSON(t, got, want) {
		t.Errorf("result from S3 differs:\n got %+v\nwant %+v", got, want)
	}
	st, err := b.Proc.Status(ctx, id)
	if err != nil || !sameJSON(t, st.Accounts, want.Accounts) {
		t.Errorf("status accounts = %+v, %v; want %+v", st.Accounts, err, want.Accounts)
	}
	// A page image needs the original: it is fetched from S3.
	if png, err := b.Proc.PageImage(ctx, id, 0, 50); err != nil || len(png) == 0 {
		t.Fatalf("page image: %d bytes, %v", len(png), err)
	}
	path, err := b.Proc.OriginalPath(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if pdf, _ := os.ReadFile(path); !bytes.Equal(pdf, p.PDF) {
		t.Error("the original fetched from S3 differs")
	}
	c := b.Proc.Counters()
	if c.Pages[stage.OCRExtraction]["done"] != 0 || c.Pages[stage.LLMExtraction]["done"] != 0 || len(c.StageRuns) != 0 {
		t.Errorf("the new machine computed: %+v", c)
	}
	if st := b.stats(t); st.ReadThrough.Records < int64(p.Truth.TotalPages+3) || st.Pending != 0 {
		t.Errorf("stats = %+v", st)
	}

	// C: another empty machine gets the same file uploaded again: every stage is served
	// from S3.
	c3 := newS3Env(t, srv, "", "rt", store.UploaderOptions{})
	if id3 := c3.Submit(t, "again.pdf", p.PDF, store.PriorityNormal); id3 != id {
		t.Fatalf("id %s, want %s", id3, id)
	}
	c3.Start(t)
	if d := c3.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
		t.Fatalf("%s: %s", d.Status, d.Error)
	}
	cc := c3.Proc.Counters()
	if cc.Pages[stage.OCRExtraction]["done"] != 0 || cc.Pages[stage.LLMExtraction]["done"] != 0 || cc.CacheMisses != 0 {
		t.Errorf("a resubmission recomputed: %+v", cc)
	}
	if !strings.Contains(c3.Logs.String(), "served from cache") {
		t.Error("no stage was served from cache")
	}
}

func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

// TestS3Outage: S3 stops in the middle of a run; processing goes on and the outbox grows;
// S3 comes back (same directory, same port) and the outbox drains to zero with every object
// present and byte-equal.
func TestS3Outage(t *testing.T) {
	srv := startS3(t)
	e := newS3Env(t, srv, "", "outage", store.UploaderOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	first := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2, MinPages: 30})
	originals := map[string][]byte{}
	id := e.Submit(t, "first.pdf", first.PDF, store.PriorityNormal)
	originals[id] = first.PDF
	e.Start(t)
	deadline := time.Now().Add(time.Minute)
	for e.stats(t).Uploaded < 3 {
		if time.Now().After(deadline) {
			t.Fatal("nothing uploaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Stop(t)
	ids := []string{id}
	for seed := uint64(2); seed <= 3; seed++ {
		p := idptest.Generate(t, gen.Options{Seed: seed, Accounts: 2})
		id := e.Submit(t, "more.pdf", p.PDF, store.PriorityNormal)
		originals[id] = p.PDF
		ids = append(ids, id)
	}
	for id, d := range e.Wait(t, 2*time.Minute, ids...) {
		if d.Status != store.StatusCompleted {
			t.Fatalf("%s during the outage: %s: %s", id, d.Status, d.Error)
		}
	}
	st := e.stats(t)
	if st.Pending == 0 || st.State != store.UploaderRetrying || st.LastError == "" {
		t.Fatalf("during the outage: %+v", st)
	}
	t.Logf("outage: %d writes pending, oldest %.1fs, %d failed rounds", st.Pending, st.OldestAgeSeconds, st.Failures)

	srv.Restart(t)
	e.waitDrained(t, time.Minute)
	e.checkInBucket(t, srv, originals)
	if st := e.stats(t); st.State != store.UploaderOK {
		t.Errorf("after the outage: %+v", st)
	}
}

// TestS3BadCredentials: S3 refuses the keys. The refusal is logged once and shown in the
// stats, the uploader does not hammer S3, processing goes on, and nothing is lost: with the
// right keys (a restart on the same data directory) everything is sent.
func TestS3BadCredentials(t *testing.T) {
	srv := startS3(t)
	s3test.SetCredentials(t, srv.AccessKey, "not-the-secret")
	e := newS3Env(t, srv, "", "creds", store.UploaderOptions{})
	p := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2})
	id := e.Submit(t, "packet.pdf", p.PDF, store.PriorityNormal)
	e.Start(t)
	if d := e.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
		t.Fatalf("%s: %s", d.Status, d.Error)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.stats(t).State != store.UploaderForbidden {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal reported: %+v", e.stats(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A window in which the pipeline keeps writing: S3 sees no request.
	before := srv.Requests()
	p2 := idptest.Generate(t, gen.Options{Seed: 2, Accounts: 2})
	id2 := e.Submit(t, "second.pdf", p2.PDF, store.PriorityNormal)
	e.Wait(t, time.Minute, id2)
	time.Sleep(2 * time.Second)
	if n := srv.Requests() - before; n > 0 {
		t.Errorf("%d requests to S3 within 2s of a refusal", n)
	}
	st := e.stats(t)
	if st.Pending == 0 || !strings.Contains(st.LastError, "refused") || st.NextAttempt == nil || time.Until(*st.NextAttempt) < 4*time.Minute {
		t.Errorf("stats = %+v", st)
	}
	if n := strings.Count(e.Logs.String(), "S3 refused the uploads"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once", n)
	}
	t.Logf("refused: %s", st.LastError)

	// Fixed keys, same data directory.
	e.close()
	srv.SetEnv(t)
	f := newS3Env(t, srv, e.Dir, "creds", store.UploaderOptions{})
	f.waitDrained(t, 30*time.Second)
	f.checkInBucket(t, srv, map[string][]byte{id: p.PDF, id2: p2.PDF})
}

// TestS3BoundedCache: with a small --cache-max-mb, records already in S3 are evicted from
// bbolt; pages and the result are still served (read through) and equal.
func TestS3BoundedCache(t *testing.T) {
	srv := startS3(t)
	ctx := context.Background()
	p := idptest.Generate(t, gen.Options{Seed: 1, Accounts: 2})
	// The result without S3, to compare with.
	plain := idptest.NewEnv(t, "", pipeline.Config{}, nil)
	id := plain.Submit(t, "packet.pdf", p.PDF, store.PriorityNormal)
	plain.Start(t)
	plain.Wait(t, time.Minute, id)
	want, err := plain.Proc.Result(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	// Eviction runs all along, while the pages are made.
	const limit = 4 << 10
	e := newS3Env(t, srv, "", "evict", store.UploaderOptions{CacheMaxBytes: limit, EvictInterval: time.Millisecond})
	e.Submit(t, "packet.pdf", p.PDF, store.PriorityNormal)
	e.Start(t)
	if d := e.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
		t.Fatalf("%s: %s", d.Status, d.Error)
	}
	e.waitDrained(t, 30*time.Second)
	if _, err := e.outbox.Evict(ctx); err != nil {
		t.Fatal(err)
	}
	size := 0
	_ = e.DB.View(ctx, func(tx *store.Tx) error {
		return tx.CacheEntries("", func(c store.CacheEntry) error { size += len(c.Key) + c.Size; return nil })
	})
	if size > limit {
		t.Errorf("hot cache holds %d bytes, bound %d", size, limit)
	}
	if st := e.stats(t); st.Evicted == 0 {
		t.Fatalf("nothing evicted: %+v", st)
	}
	got, err := e.Proc.Result(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, got, want) {
		t.Errorf("result after eviction differs:\n got %+v\nwant %+v", got, want)
	}
	if st := e.stats(t); st.ReadThrough.Records == 0 {
		t.Errorf("nothing was read through: %+v", st)
	}
	for page := range p.Truth.TotalPages {
		if _, err := e.Proc.PageData(ctx, id, page); err != nil {
			t.Errorf("page %d after eviction: %v", page, err)
		}
	}
}
