package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// TestCountsFollowTheDocuments runs documents through a real processor (upload, processing,
// reprocess, delete, restart, a restart under another extractor, a document completed by an
// older idp) and checks after each step that the processor status counts what the records
// say, which the store recounts (CheckCounts).
func TestCountsFollowTheDocuments(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var pdfs [][]byte
	for i := range 4 {
		p, err := gen.SignatureCard(uint64(300 + i))
		if err != nil {
			t.Fatal(err)
		}
		pdfs = append(pdfs, p.PDF)
	}
	check := func(t *testing.T, e *idptest.Env, step string, docs map[string]int, queued int) {
		t.Helper()
		if err := e.DB.CheckCounts(ctx); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		st, err := e.Proc.ProcessorStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range store.Statuses {
			if st.Documents[string(s)] != docs[string(s)] {
				t.Errorf("%s: documents %v, want %v", step, st.Documents, docs)
				break
			}
		}
		if st.Queue.Length != queued || st.Queue.InFlight != 0 {
			t.Errorf("%s: queue %+v, want %d queued and none in flight", step, st.Queue, queued)
		}
	}
	waitIdle := func(t *testing.T, e *idptest.Env, ids ...string) {
		t.Helper()
		for _, d := range e.Wait(t, time.Minute, ids...) {
			if d.Status != store.StatusCompleted {
				t.Fatalf("%s: %s %s", d.ID, d.Status, d.Error)
			}
		}
		// The worker acks a document just after it records it completed.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if st, _ := e.Proc.ProcessorStatus(ctx); st.Queue.InFlight == 0 && st.BusyWorkers == 0 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	ex := &countingExtractor{version: "count/1"}
	e := idptest.NewEnv(t, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Extractor = ex })
	var ids []string
	for i, pdf := range pdfs {
		ids = append(ids, e.Submit(t, "card.pdf", pdf, store.Priority(i%3)))
	}
	check(t, e, "uploaded", map[string]int{"queued": 4}, 4)
	e.Start(t)
	waitIdle(t, e, ids...)
	check(t, e, "processed", map[string]int{"completed": 4}, 0)

	if err := e.Proc.Reprocess(ctx, ids[0], ""); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, e, ids[0])
	check(t, e, "reprocessed", map[string]int{"completed": 4}, 0)
	if err := e.Proc.Delete(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	check(t, e, "deleted", map[string]int{"completed": 3}, 0)
	// One of them as an older idp left it: completed, no results version.
	err := e.DB.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.UpdateDocument(ids[2], func(d *store.Document) error { d.ResultsVersion = ""; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()

	// Restart, same configuration: nothing to do, and the older document is stamped current.
	calls := ex.calls.Load()
	e = idptest.NewEnv(t, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Extractor = ex })
	e.Start(t)
	check(t, e, "restarted", map[string]int{"completed": 3}, 0)
	if got := ex.calls.Load() - calls; got != 0 {
		t.Errorf("a restart with the same configuration extracted %d pages", got)
	}
	err = e.DB.View(ctx, func(tx *store.Tx) error {
		return tx.CompletedOtherThan(e.Proc.Versions()["llm_extraction"], func(id, made string) error {
			t.Errorf("after the start, %s is still completed under %q", id, made)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()

	// Restart under another extractor: every completed document is queued again and done
	// again. A first start is stopped at once (its model would take seconds a page) to see
	// them queued.
	slow := &countingExtractor{version: "count/2", delay: time.Minute}
	e = idptest.NewEnv(t, dir, pipeline.Config{StopTimeout: time.Millisecond}, func(d *pipeline.Deps) { d.Extractor = slow })
	e.Start(t)
	e.Proc.Stop()
	check(t, e, "another extractor", map[string]int{"queued": 3}, 3)
	e.Close()
	model := &countingExtractor{version: "count/2"}
	e = idptest.NewEnv(t, dir, pipeline.Config{}, func(d *pipeline.Deps) { d.Extractor = model })
	e.Start(t)
	waitIdle(t, e, ids[0], ids[2], ids[3])
	check(t, e, "done again", map[string]int{"completed": 3}, 0)
	if got := model.calls.Load(); got != 3 {
		t.Errorf("the new extractor ran on %d pages, want the 3 documents' one page each", got)
	}
}
