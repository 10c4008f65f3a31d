package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mustOpen opens a database in a temporary directory and checks its consistency (bbolt's, and
// the kept counts against the records) when the test ends.
func mustOpen(t *testing.T, opts Options) *DB {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := db.bolt.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if err != nil {
			t.Errorf("database inconsistent: %v", err)
		}
		if err := db.CheckCounts(context.Background()); err != nil {
			t.Error(err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func id(n int) string { return fmt.Sprintf("%024x", n) }

func popAll(t *testing.T, q Queue) []string {
	t.Helper()
	var got []string
	for {
		item, err := q.Pop(context.Background())
		if errors.Is(err, ErrQueueEmpty) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, item.ID)
	}
}

func TestQueueOrder(t *testing.T) {
	ctx := context.Background()
	type pushed struct {
		n     int
		prio  Priority
		front bool
	}
	tests := []struct {
		name   string
		pushes []pushed
		want   []int
	}{
		{"fifo within a priority", []pushed{{1, 1, false}, {2, 1, false}, {3, 1, false}}, []int{1, 2, 3}},
		{"priority first", []pushed{{1, 2, false}, {2, 1, false}, {3, 0, false}, {4, 1, false}}, []int{3, 2, 4, 1}},
		{"front jumps its priority only", []pushed{{1, 0, false}, {2, 1, false}, {3, 1, true}}, []int{1, 3, 2}},
		{"latest front first", []pushed{{1, 0, false}, {2, 0, true}, {3, 0, true}}, []int{3, 2, 1}},
		{"re-queue moves, never duplicates", []pushed{{1, 1, false}, {2, 1, false}, {1, 1, false}}, []int{2, 1}},
		{"re-queue at another priority", []pushed{{1, 2, false}, {2, 1, false}, {1, 0, false}}, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t, Options{})
			q := NewBoltQueue(db)
			for _, p := range tt.pushes {
				if err := push(ctx, db, q, id(p.n), p.prio, PushOptions{Front: p.front}); err != nil {
					t.Fatal(err)
				}
			}
			var want []string
			for _, n := range tt.want {
				want = append(want, id(n))
			}
			if got := popAll(t, q); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("order = %v, want %v", got, want)
			}
		})
	}
}

func TestQueueDelayAndStats(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db := mustOpen(t, Options{Now: func() time.Time { return now }})
	q := NewBoltQueue(db)
	due := now.Add(time.Minute)
	if err := push(ctx, db, q, id(1), PriorityHigh, PushOptions{NotBefore: due}); err != nil {
		t.Fatal(err)
	}
	if err := push(ctx, db, q, id(2), PriorityLow, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ByPriority != [3]int{1, 0, 1} || st.Delayed != 1 || st.InFlight != 0 {
		t.Errorf("stats = %+v", st)
	}
	item, err := q.Pop(ctx)
	if err != nil || item.ID != id(2) {
		t.Fatalf("pop = %v, %v; want the low-priority item that is due", item, err)
	}
	item, err = q.Pop(ctx)
	if !errors.Is(err, ErrQueueEmpty) || !item.NotBefore.Equal(due) {
		t.Fatalf("pop = %+v, %v; want empty with next due %v", item, err, due)
	}
	now = due
	if item, err = q.Pop(ctx); err != nil || item.ID != id(1) {
		t.Fatalf("pop after the delay = %v, %v", item, err)
	}
	st, _ = q.Stats(ctx)
	if st.Queued() != 0 || st.InFlight != 2 {
		t.Errorf("stats = %+v, want 2 in flight", st)
	}
}

func TestQueueRecoverAfterReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := NewBoltQueue(db)
	for i, p := range []Priority{1, 1, 0, 1} {
		if err := push(ctx, db, q, id(i), p, PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Two workers take id(2) and id(0); the process dies (the file is simply closed).
	for range 2 {
		if _, err := q.Pop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q = NewBoltQueue(db)
	back, err := q.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 {
		t.Fatalf("recovered %v, want 2 ids", back)
	}
	got := popAll(t, q)
	want := []string{id(2), id(0), id(1), id(3)}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after recover = %v, want %v (resumed work first within its priority)", got, want)
	}
	// Acked work is never put back.
	for _, x := range got {
		if err := q.Ack(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if back, _ := q.Recover(ctx); len(back) != 0 {
		t.Errorf("recovered %v after ack", back)
	}
}

func TestQueueRemoveAndPosition(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, Options{})
	q := NewBoltQueue(db)
	for i := range 3 {
		if err := push(ctx, db, q, id(i), PriorityNormal, PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(ctx, func(tx *Tx) error { return q.Remove(tx, id(0)) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx *Tx) error { return q.Remove(tx, id(99)) }); err != nil {
		t.Fatalf("removing an unknown id: %v", err)
	}
	_ = db.View(ctx, func(tx *Tx) error {
		if pos, _, ok := q.Position(tx, id(2)); !ok || pos != 1 {
			t.Errorf("position = %d, %v; want 1", pos, ok)
		}
		if _, _, ok := q.Position(tx, id(0)); ok {
			t.Error("removed id still queued")
		}
		return nil
	})
	if err := push(ctx, db, q, "../../etc", PriorityNormal, PushOptions{}); !errors.Is(err, ErrInvalidID) {
		t.Errorf("push of a bad id: %v", err)
	}
}

func TestCacheVersions(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, Options{})
	type payload struct{ N int }
	key := PageDataKey(id(1), 3)
	err := db.Update(ctx, func(tx *Tx) error { return tx.PutCache(key, "v1", payload{7}) })
	if err != nil {
		t.Fatal(err)
	}
	var got payload
	if err := db.GetCached(ctx, key, "v1", &got); err != nil || got.N != 7 {
		t.Errorf("get v1 = %v, %v", got, err)
	}
	if err := db.GetCached(ctx, key, "v2", &got); !errors.Is(err, ErrStale) {
		t.Errorf("get with another version = %v, want ErrStale", err)
	}
	if err := db.GetCached(ctx, PageDataKey(id(1), 4), "v1", &got); !errors.Is(err, ErrNotFound) {
		t.Errorf("get missing = %v, want ErrNotFound", err)
	}
	// Deleting a document takes its cache, checkpoints and progress with it, and nothing else.
	err = db.Update(ctx, func(tx *Tx) error {
		if err := tx.PutCache(PageDataKey(id(2), 0), "v1", payload{1}); err != nil {
			return err
		}
		if err := tx.PutCheckpoint(CheckpointKey(id(1), "ocr", 0), "v1", payload{1}); err != nil {
			return err
		}
		if err := tx.PutProgress(id(1), "ocr", StageProgress{Status: StageRunning}); err != nil {
			return err
		}
		return tx.PutDocument(&Document{ID: id(1)})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx *Tx) error { return tx.DeleteDocument(id(1)) })
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(ctx, func(tx *Tx) error {
		if _, err := tx.Cache(key); !errors.Is(err, ErrNotFound) {
			t.Errorf("cache of deleted doc: %v", err)
		}
		if _, err := tx.Checkpoint(CheckpointKey(id(1), "ocr", 0)); !errors.Is(err, ErrNotFound) {
			t.Errorf("checkpoint of deleted doc: %v", err)
		}
		if p, _ := tx.Progress(id(1), "ocr"); p.Status != StagePending {
			t.Errorf("progress of deleted doc: %v", p.Status)
		}
		if _, err := tx.Cache(PageDataKey(id(2), 0)); err != nil {
			t.Errorf("other document's cache: %v", err)
		}
		return nil
	})
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second open = %v, want ErrLocked", err)
	}
	_, err = Open(dir, Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("read-only open while held = %v, want ErrLocked", err)
	}
}

func TestProgressPercent(t *testing.T) {
	tests := []struct{ done, total, want int }{{0, 0, 0}, {0, 4, 0}, {1, 4, 25}, {2, 3, 66}, {4, 4, 100}, {5, 4, 100}}
	for _, tt := range tests {
		var p StageProgress
		p.SetDone(tt.done, tt.total)
		if p.Percent != tt.want {
			t.Errorf("SetDone(%d, %d) percent = %d, want %d", tt.done, tt.total, p.Percent, tt.want)
		}
	}
}

// push is q.Push in a transaction of its own.
func push(ctx context.Context, db *DB, q Queue, id string, prio Priority, opts PushOptions) error {
	return db.Update(ctx, func(tx *Tx) error { return q.Push(tx, id, prio, opts) })
}
