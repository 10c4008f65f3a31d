package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

const day = 24 * time.Hour

// shiftedClock is the processor's clock: the real time moved by an offset the test sets, so
// that months pass at once.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftedClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func sweptIDs(docs []pipeline.Swept) []string {
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.DocID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// exists reports whether the document's record is in the database.
func exists(t *testing.T, db *store.DB, id string) bool {
	t.Helper()
	err := db.View(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Document(id)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRetentionSweep: with the clock moved 91 days on, a sweep with 90 days deletes the
// documents that finished (completed or failed) with everything they own, and keeps one that
// is queued, one that finished 10 days ago, and one read through the API in the last hour,
// also after a restart (the read is recorded in the database).
func TestRetentionSweep(t *testing.T) {
	ctx := context.Background()
	clock := &shiftedClock{}
	dir := t.TempDir()
	e := idptest.NewEnv(t, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Now = clock.now })
	packet := func(seed uint64) []byte { return idptest.Generate(t, gen.Options{Seed: seed, Accounts: 2}).PDF }
	old := e.Submit(t, "old.pdf", packet(81), store.PriorityNormal)
	opened := e.Submit(t, "opened.pdf", packet(82), store.PriorityNormal)
	queued := e.Submit(t, "queued.pdf", packet(83), store.PriorityNormal)
	young := e.Submit(t, "young.pdf", packet(84), store.PriorityNormal)
	broken := e.Submit(t, "broken.pdf", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("garbage "), 100)...), store.PriorityNormal)
	e.Start(t)
	docs := e.Wait(t, 2*time.Minute, old, opened, queued, young, broken)
	if docs[broken].Status != store.StatusFailed || docs[old].Status != store.StatusCompleted {
		t.Fatalf("before the sweep: %+v", docs)
	}
	if _, err := e.Proc.PageImage(ctx, old, 0, 50); err != nil {
		t.Fatal(err)
	}
	e.Proc.Stop()

	clock.advance(91 * day)
	if err := e.DB.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.UpdateDocument(young, func(d *store.Document) error {
			at := clock.now().Add(-10 * day)
			d.FinishedAt = &at
			return nil
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.Proc.Reprocess(ctx, queued, "llm_extraction"); err != nil {
		t.Fatal(err)
	}
	e.Proc.Touch(opened)

	if _, err := e.Proc.Sweep(ctx, pipeline.SweepOptions{}); !errors.Is(err, pipeline.ErrNoRetention) {
		t.Errorf("a sweep without a period: %v", err)
	}
	dry, err := e.Proc.Sweep(ctx, pipeline.SweepOptions{Retain: 90 * day, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sweptIDs(dry), sorted(old, broken); !slices.Equal(got, want) {
		t.Fatalf("dry run lists %v, want %v (old, broken)", got, want)
	}
	if !exists(t, e.DB, old) || !exists(t, e.DB, broken) {
		t.Fatal("a dry run deleted")
	}
	for _, s := range dry {
		if s.AgeSeconds < int64((91*day).Seconds())-60 || !strings.HasPrefix(s.Age, "91d") || s.FileName == "" {
			t.Errorf("dry run entry %+v", s)
		}
	}

	swept, err := e.Proc.Sweep(ctx, pipeline.SweepOptions{Retain: 90 * day})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sweptIDs(swept), sorted(old, broken); !slices.Equal(got, want) {
		t.Fatalf("swept %v, want %v", got, want)
	}
	for _, id := range []string{old, broken} {
		if exists(t, e.DB, id) {
			t.Errorf("%s is still in the database", id)
		}
		if _, err := os.Stat(store.NewDirBlob(dir).Path(store.OriginalKey(id))); !os.IsNotExist(err) {
			t.Errorf("the original of %s is still there: %v", id, err)
		}
	}
	if _, err := os.Stat(store.NewDirBlob(dir).Path("images/" + old)); !os.IsNotExist(err) {
		t.Errorf("the page images of the old document are still there: %v", err)
	}
	err = e.DB.View(ctx, func(tx *store.Tx) error {
		for _, prefix := range store.DocCachePrefixes(old) {
			if err := tx.CacheEntries(prefix, func(e store.CacheEntry) error {
				t.Errorf("cache record %s left", e.Key)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{opened, queued, young} {
		if !exists(t, e.DB, id) {
			t.Errorf("%s was swept", id)
		}
	}
	if st := e.Proc.RetentionStats(); st.Deleted != 2 || st.Sweeps != 1 || st.LastSweep == nil {
		t.Errorf("retention stats %+v, want 2 deleted in 1 sweep", st)
	}

	// The read is recorded in the database when the processor stops, and survives a restart.
	e.Start(t)
	e.Wait(t, 2*time.Minute, queued) // completed again, at real time: 91 days ago to the clock
	e.Close()
	e = idptest.NewEnv(t, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Now = clock.now })
	swept, err = e.Proc.Sweep(ctx, pipeline.SweepOptions{Retain: 90 * day})
	if err != nil {
		t.Fatal(err)
	}
	if got := sweptIDs(swept); !slices.Equal(got, []string{queued}) {
		t.Errorf("after a restart, swept %v, want only %s (finished since, not opened)", got, queued)
	}
	clock.advance(pipeline.OpenedGrace + 2*time.Minute)
	swept, err = e.Proc.Sweep(ctx, pipeline.SweepOptions{Retain: 90 * day})
	if err != nil {
		t.Fatal(err)
	}
	if got := sweptIDs(swept); !slices.Equal(got, []string{opened}) {
		t.Errorf("an hour after the read, swept %v, want %s", got, opened)
	}
	if !exists(t, e.DB, young) {
		t.Error("the young document was swept")
	}
}

// TestRetentionSweepsInBackground: with Config.Retain the running processor sweeps on its
// own, and logs each deletion with the id, the file name and the age.
func TestRetentionSweepsInBackground(t *testing.T) {
	clock := &shiftedClock{}
	e := idptest.NewEnv(t, "", pipeline.Config{Retain: 90 * day, RetainEvery: 20 * time.Millisecond},
		func(d *pipeline.Deps) { d.Now = clock.now })
	id := e.Submit(t, "statement.pdf", idptest.Generate(t, gen.Options{Seed: 85, Accounts: 2}).PDF, store.PriorityNormal)
	e.Start(t)
	e.Wait(t, 2*time.Minute, id)
	time.Sleep(100 * time.Millisecond) // sweeps run and find it too young
	if !exists(t, e.DB, id) {
		t.Fatal("swept before its time")
	}
	clock.advance(100 * day)
	// The sweep counts a deletion after its transaction and its log line.
	deadline := time.Now().Add(30 * time.Second)
	for e.Proc.RetentionStats().Deleted == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not swept 30s after it was due:\n%s", idptest.Tail(e.Logs.String(), 20))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if exists(t, e.DB, id) {
		t.Fatal("counted as deleted, but still in the database")
	}
	logs := e.Logs.String()
	line := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "Retention: deleted "+id) {
			line = l
		}
	}
	for _, want := range []string{"doc_id=" + id, "file=statement.pdf", "age=100d", "retain=90d"} {
		if !strings.Contains(line, want) {
			t.Errorf("the deletion's log line lacks %s: %q", want, line)
		}
	}
	st, err := e.Proc.ProcessorStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Retention.Deleted != 1 || st.Retention.Retain != "90d" || st.Retention.Sweeps < 2 {
		t.Errorf("processor status retention %+v", st.Retention)
	}
}

// TestRetentionDeletesS3Objects: a swept document's objects leave the bucket; another
// document's stay.
func TestRetentionDeletesS3Objects(t *testing.T) {
	ctx := context.Background()
	srv := startS3(t)
	clock := &shiftedClock{}
	s := newS3Env(t, srv, "", "ret", store.UploaderOptions{}, func(d *pipeline.Deps) { d.Now = clock.now })
	gone := s.Submit(t, "gone.pdf", idptest.Generate(t, gen.Options{Seed: 86, Accounts: 2}).PDF, store.PriorityNormal)
	kept := s.Submit(t, "kept.pdf", idptest.Generate(t, gen.Options{Seed: 87, Accounts: 2}).PDF, store.PriorityNormal)
	s.Start(t)
	s.Wait(t, 2*time.Minute, gone, kept)
	s.waitDrained(t, time.Minute)
	objects := func(id string) int {
		n := 0
		for k := range srv.Objects(t, "ret/") {
			if strings.Contains(k, "/"+id+"/") {
				n++
			}
		}
		return n
	}
	if objects(gone) < 5 || objects(kept) < 5 {
		t.Fatalf("objects in the bucket before the sweep: %d and %d", objects(gone), objects(kept))
	}
	clock.advance(91 * day)
	s.Proc.Touch(kept)
	swept, err := s.Proc.Sweep(ctx, pipeline.SweepOptions{Retain: 90 * day})
	if err != nil || len(swept) != 1 || swept[0].DocID != gone {
		t.Fatalf("sweep: %v %v", swept, err)
	}
	s.waitDrained(t, time.Minute)
	if n := objects(gone); n != 0 {
		t.Errorf("%d objects of the swept document are left in the bucket", n)
	}
	if objects(kept) < 5 {
		t.Error("the other document's objects went too")
	}
}

// stuckExtractor is the rule extractor that holds the pages of one document until the run
// is cancelled.
type stuckExtractor struct {
	rules.Extractor
	stuck   atomic.Value // doc id
	reached chan string
}

func (s *stuckExtractor) Extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	if id, _ := s.stuck.Load().(string); id == in.DocID {
		select {
		case s.reached <- in.DocID:
		default:
		}
		<-ctx.Done()
		return stage.Extraction{}, context.Cause(ctx)
	}
	return s.Extractor.Extract(ctx, in)
}

// TestRetentionKeepsDocumentsBeingProcessed: a document that finished long ago and is being
// processed again when the sweep comes is kept; its neighbour is not.
func TestRetentionKeepsDocumentsBeingProcessed(t *testing.T) {
	ctx := context.Background()
	clock := &shiftedClock{}
	ex := &stuckExtractor{reached: make(chan string, 1)}
	e := idptest.NewEnv(t, "", pipeline.Config{StopTimeout: time.Second}, func(d *pipeline.Deps) { d.Now, d.Extractor = clock.now, ex })
	done := e.Submit(t, "done.pdf", idptest.Generate(t, gen.Options{Seed: 88, Accounts: 2}).PDF, store.PriorityNormal)
	again := e.Submit(t, "again.pdf", idptest.Generate(t, gen.Options{Seed: 89, Accounts: 2}).PDF, store.PriorityNormal)
	e.Start(t)
	e.Wait(t, 2*time.Minute, done, again)
	clock.advance(100 * day)
	ex.stuck.Store(again)
	if err := e.Proc.Reprocess(ctx, again, "llm_extraction"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ex.reached:
	case <-time.After(time.Minute):
		t.Fatal("the reprocessed document did not reach extraction")
	}
	swept, err := e.Proc.Sweep(ctx, pipeline.SweepOptions{Retain: 90 * day})
	if err != nil {
		t.Fatal(err)
	}
	if got := sweptIDs(swept); !slices.Equal(got, []string{done}) {
		t.Errorf("swept %v, want only %s", got, done)
	}
	if !exists(t, e.DB, again) {
		t.Error("the document being processed was swept")
	}
}
