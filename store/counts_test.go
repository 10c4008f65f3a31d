package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// clock is a settable time for Options.Now.
type clock struct{ t time.Time }

func newClock() *clock { return &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time { return c.t }

// openAt opens the database of dir on clk's time.
func openAt(t *testing.T, dir string, clk *clock) *DB {
	t.Helper()
	db, err := Open(dir, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// counted is what the kept counts say: documents by status and priority, and the queue.
type counted struct {
	docs  DocCounts
	queue QueueStats
}

func readCounts(t *testing.T, db *DB) counted {
	t.Helper()
	ctx := context.Background()
	if err := db.CheckCounts(ctx); err != nil {
		t.Fatal(err)
	}
	var c counted
	err := db.View(ctx, func(tx *Tx) error {
		var err error
		c.docs, err = tx.DocumentCounts()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.queue, err = NewBoltQueue(db).Stats(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func docs(queued, processing, completed, failed [3]int) DocCounts {
	return DocCounts{StatusQueued: queued, StatusProcessing: processing, StatusCompleted: completed, StatusFailed: failed}
}

// TestCountsFollowTheDocuments moves documents through their life (upload, pop, completion,
// failure, retry with a delay, reprocess, delete, a rolled-back transaction, a reopen) and
// checks after every step that the kept counts say what a recount of the records says.
func TestCountsFollowTheDocuments(t *testing.T) {
	ctx := context.Background()
	dir, clk := t.TempDir(), newClock()
	db := openAt(t, dir, clk)
	defer func() { db.Close() }()
	q := NewBoltQueue(db)
	var z [3]int
	set := func(id string, fn func(d *Document)) func(tx *Tx) error {
		return func(tx *Tx) error {
			_, err := tx.UpdateDocument(id, func(d *Document) error { fn(d); return nil })
			return err
		}
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
		want counted
	}{
		{"three uploads", func(t *testing.T) {
			for i, p := range []Priority{PriorityHigh, PriorityNormal, PriorityLow} {
				err := db.Update(ctx, func(tx *Tx) error {
					if err := tx.PutDocument(&Document{ID: id(i), Priority: p, Status: StatusQueued}); err != nil {
						return err
					}
					return q.Push(tx, id(i), p, PushOptions{})
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}, counted{docs([3]int{1, 1, 1}, z, z, z), QueueStats{ByPriority: [3]int{1, 1, 1}}}},
		{"a worker takes the first", func(t *testing.T) {
			item, err := q.Pop(ctx)
			if err != nil || item.ID != id(0) {
				t.Fatalf("pop = %v, %v", item, err)
			}
			if err := db.Update(ctx, set(id(0), func(d *Document) { d.Status = StatusProcessing })); err != nil {
				t.Fatal(err)
			}
		}, counted{docs([3]int{0, 1, 1}, [3]int{1, 0, 0}, z, z), QueueStats{ByPriority: [3]int{0, 1, 1}, InFlight: 1}}},
		{"it completes", func(t *testing.T) {
			err := db.Update(ctx, set(id(0), func(d *Document) { d.Status, d.ResultsVersion = StatusCompleted, "v1" }))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Ack(ctx, id(0)); err != nil {
				t.Fatal(err)
			}
		}, counted{docs([3]int{0, 1, 1}, z, [3]int{1, 0, 0}, z), QueueStats{ByPriority: [3]int{0, 1, 1}}}},
		{"the next fails a try and waits a minute", func(t *testing.T) {
			if item, err := q.Pop(ctx); err != nil || item.ID != id(1) {
				t.Fatalf("pop = %v, %v", item, err)
			}
			err := db.Update(ctx, func(tx *Tx) error {
				if err := set(id(1), func(d *Document) { d.Status = StatusQueued })(tx); err != nil {
					return err
				}
				return q.Push(tx, id(1), PriorityNormal, PushOptions{NotBefore: clk.t.Add(time.Minute)})
			})
			if err != nil {
				t.Fatal(err)
			}
		}, counted{docs([3]int{0, 1, 1}, z, [3]int{1, 0, 0}, z), QueueStats{ByPriority: [3]int{0, 1, 1}, Delayed: 1}}},
		{"the minute passes: due, not yet popped, it is not delayed", func(t *testing.T) {
			clk.t = clk.t.Add(time.Minute)
		}, counted{docs([3]int{0, 1, 1}, z, [3]int{1, 0, 0}, z), QueueStats{ByPriority: [3]int{0, 1, 1}}}},
		{"it fails for good", func(t *testing.T) {
			if item, err := q.Pop(ctx); err != nil || item.ID != id(1) {
				t.Fatalf("pop = %v, %v; want the item that came due first", item, err)
			}
			if err := db.Update(ctx, set(id(1), func(d *Document) { d.Status = StatusFailed })); err != nil {
				t.Fatal(err)
			}
			if err := q.Ack(ctx, id(1)); err != nil {
				t.Fatal(err)
			}
		}, counted{docs([3]int{0, 0, 1}, z, [3]int{1, 0, 0}, [3]int{0, 1, 0}), QueueStats{ByPriority: [3]int{0, 0, 1}}}},
		{"the completed one is reprocessed at high priority", func(t *testing.T) {
			err := db.Update(ctx, func(tx *Tx) error {
				if err := set(id(0), func(d *Document) { d.Status, d.Priority = StatusQueued, PriorityHigh })(tx); err != nil {
					return err
				}
				return q.Push(tx, id(0), PriorityHigh, PushOptions{Front: true})
			})
			if err != nil {
				t.Fatal(err)
			}
		}, counted{docs([3]int{1, 0, 1}, z, z, [3]int{0, 1, 0}), QueueStats{ByPriority: [3]int{1, 0, 1}}}},
		{"a queued one is deleted", func(t *testing.T) {
			err := db.Update(ctx, func(tx *Tx) error {
				if err := q.Remove(tx, id(2)); err != nil {
					return err
				}
				return tx.DeleteDocument(id(2))
			})
			if err != nil {
				t.Fatal(err)
			}
		}, counted{docs([3]int{1, 0, 0}, z, z, [3]int{0, 1, 0}), QueueStats{ByPriority: [3]int{1, 0, 0}}}},
		{"a transaction that fails half-way changes nothing", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.Update(ctx, func(tx *Tx) error {
				if err := tx.PutDocument(&Document{ID: id(9), Status: StatusQueued, Priority: PriorityLow}); err != nil {
					return err
				}
				if err := q.Push(tx, id(9), PriorityLow, PushOptions{}); err != nil {
					return err
				}
				if err := tx.DeleteDocument(id(1)); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
		}, counted{docs([3]int{1, 0, 0}, z, z, [3]int{0, 1, 0}), QueueStats{ByPriority: [3]int{1, 0, 0}}}},
		{"popped, then the process dies and starts again", func(t *testing.T) {
			if _, err := q.Pop(ctx); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openAt(t, dir, clk)
			q = NewBoltQueue(db)
			if c := readCounts(t, db); c.queue.InFlight != 1 {
				t.Fatalf("after the reopen: %+v, want 1 in flight", c.queue)
			}
			if back, err := q.Recover(ctx); err != nil || len(back) != 1 {
				t.Fatalf("recover = %v, %v", back, err)
			}
		}, counted{docs([3]int{1, 0, 0}, z, z, [3]int{0, 1, 0}), QueueStats{ByPriority: [3]int{1, 0, 0}}}},
	}
	for _, st := range steps {
		st.do(t)
		got := readCounts(t, db)
		if fmt.Sprint(got.docs) != fmt.Sprint(st.want.docs) || got.queue != st.want.queue {
			t.Fatalf("after %q: documents %v, queue %+v; want %v, %+v", st.name, got.docs, got.queue, st.want.docs, st.want.queue)
		}
	}
}

// TestDocumentsPage reads pages of the listing, all and by status, from the index.
func TestDocumentsPage(t *testing.T) {
	ctx := context.Background()
	clk := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	db := mustOpen(t, Options{Now: clk.now})
	statuses := []Status{StatusCompleted, StatusQueued, StatusCompleted, StatusFailed, StatusCompleted, StatusQueued}
	for i, s := range statuses {
		if i != 3 { // id(2) and id(3) are made at the same time: the lower id first
			clk.t = clk.t.Add(time.Second)
		}
		if err := db.Update(ctx, func(tx *Tx) error { return tx.PutDocument(&Document{ID: id(i), Status: s}) }); err != nil {
			t.Fatal(err)
		}
	}
	// A status change moves a document between the status lists, not in time.
	clk.t = clk.t.Add(time.Hour)
	err := db.Update(ctx, func(tx *Tx) error {
		_, err := tx.UpdateDocument(id(1), func(d *Document) error { d.Status = StatusCompleted; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		status        Status
		offset, limit int
		want          []int
		total         int
	}{
		{"", 0, 10, []int{5, 4, 2, 3, 1, 0}, 6},
		{"", 1, 2, []int{4, 2}, 6},
		{"", 6, 2, nil, 6},
		{StatusCompleted, 0, 10, []int{4, 2, 1, 0}, 4},
		{StatusCompleted, 3, 10, []int{0}, 4},
		{StatusQueued, 0, 10, []int{5}, 1},
		{StatusProcessing, 0, 10, nil, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s_%d_%d", tt.status, tt.offset, tt.limit), func(t *testing.T) {
			var got []Document
			var total int
			err := db.View(ctx, func(tx *Tx) error {
				var err error
				got, total, err = tx.DocumentsPage(tt.status, tt.offset, tt.limit)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for _, d := range got {
				var n int
				fmt.Sscanf(d.ID, "%x", &n)
				ids = append(ids, n)
			}
			if !slices.Equal(ids, tt.want) || total != tt.total {
				t.Errorf("page = %v of %d, want %v of %d", ids, total, tt.want, tt.total)
			}
		})
	}
}

// TestCompletedOtherThan finds the completed documents of other configurations, and only
// those.
func TestCompletedOtherThan(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, Options{})
	docs := []Document{
		{ID: id(1), Status: StatusCompleted, ResultsVersion: "b"},
		{ID: id(2), Status: StatusCompleted, ResultsVersion: "a"},
		{ID: id(3), Status: StatusCompleted},
		{ID: id(4), Status: StatusQueued, ResultsVersion: "a"},
		{ID: id(5), Status: StatusCompleted, ResultsVersion: "b"},
		{ID: id(6), Status: StatusCompleted, ResultsVersion: "c"},
	}
	for _, d := range docs {
		if err := db.Update(ctx, func(tx *Tx) error { return tx.PutDocument(&d) }); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := db.View(ctx, func(tx *Tx) error {
		return tx.CompletedOtherThan("b", func(id, version string) error {
			got = append(got, id[len(id)-1:]+"="+version)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"3=", "2=a", "6=c"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestMigrateOlderFile opens a file laid out by an idp that kept no counts (delayed items in
// the queue itself), and checks that it is counted and indexed once and then works as a new
// one.
func TestMigrateOlderFile(t *testing.T) {
	ctx := context.Background()
	dir, clk := t.TempDir(), newClock()
	db := openAt(t, dir, clk)
	q := NewBoltQueue(db)
	for i, s := range []Status{StatusQueued, StatusQueued, StatusCompleted, StatusFailed} {
		err := db.Update(ctx, func(tx *Tx) error {
			if err := tx.PutDocument(&Document{ID: id(i), Status: s, Priority: PriorityNormal}); err != nil {
				return err
			}
			if s == StatusQueued {
				return q.Push(tx, id(i), PriorityNormal, PushOptions{})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Make it the older layout: id(0) waits in the queue bucket itself, and nothing is kept.
	due := clk.t.Add(time.Minute)
	err := db.bolt.Update(func(btx *bolt.Tx) error {
		key := btx.Bucket(bucketQueueIDs).Get([]byte(id(0)))
		v := fmt.Appendf(nil, `{"id":%q,"not_before":%q}`, id(0), due.Format(time.RFC3339Nano))
		if err := btx.Bucket(bucketQueue).Put(key, v); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketCounts, bucketDocsByTime, bucketDocsByStatus, bucketDocsByResults, bucketQueueDelayed} {
			if err := btx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return btx.Bucket(bucketMeta).Delete(metaSchema)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Read-only, an older file is counted by reading it.
	ro, err := Open(dir, Options{ReadOnly: true, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewBoltQueue(ro).Stats(ctx)
	if err != nil || st.ByPriority != [3]int{0, 2, 0} || st.Delayed != 1 {
		t.Errorf("read-only stats of an older file = %+v, %v", st, err)
	}
	ro.Close()

	db = openAt(t, dir, clk)
	defer db.Close()
	q = NewBoltQueue(db)
	c := readCounts(t, db)
	if want := docs([3]int{0, 2, 0}, [3]int{}, [3]int{0, 1, 0}, [3]int{0, 1, 0}); fmt.Sprint(c.docs) != fmt.Sprint(want) {
		t.Errorf("documents = %v, want %v", c.docs, want)
	}
	if c.queue != (QueueStats{ByPriority: [3]int{0, 2, 0}, Delayed: 1}) {
		t.Errorf("queue = %+v", c.queue)
	}
	if got := popAll(t, q); !slices.Equal(got, []string{id(1)}) {
		t.Errorf("pop before the delay = %v, want only id(1)", got)
	}
	clk.t = due
	if got := popAll(t, q); !slices.Equal(got, []string{id(0)}) {
		t.Errorf("pop after the delay = %v, want id(0)", got)
	}
}
