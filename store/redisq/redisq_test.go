package redisq_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/store"
	"github.com/idp/idp/store/redisq"
	"github.com/idp/idp/store/redisq/redistest"
)

// node is one node of a test cluster: its own bbolt file and its client.
type node struct {
	db *store.DB
	c  *redisq.Client

	mu   sync.Mutex
	lost []string
}

func newNode(t *testing.T, url, id string, ttl time.Duration, start bool) *node {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := redisq.Open(context.Background(), db, redisq.Options{URL: url, NodeID: id, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AttachShared(c, c.Wake); err != nil {
		t.Fatal(err)
	}
	n := &node{db: db, c: c}
	c.OnLeaseLost(func(id string) {
		n.mu.Lock()
		n.lost = append(n.lost, id)
		n.mu.Unlock()
	})
	if start {
		c.Start(context.Background())
	}
	t.Cleanup(func() {
		c.Close()
		db.Close()
	})
	return n
}

func docID(s string) string {
	h := sha256.Sum256([]byte(s))
	return store.DocID(hex.EncodeToString(h[:]))
}

// submit writes a document and pushes it in one transaction, then waits until the journal
// is sent.
func (n *node) submit(t *testing.T, name string, prio store.Priority, opts store.PushOptions) string {
	t.Helper()
	id := docID(name)
	err := n.db.Update(context.Background(), func(tx *store.Tx) error {
		d := store.Document{ID: id, FileName: name, Priority: prio, Status: store.StatusQueued}
		if err := tx.PutDocument(&d); err != nil {
			return err
		}
		return n.c.Push(tx, id, prio, opts)
	})
	if err != nil {
		t.Fatal(err)
	}
	n.flush(t)
	return id
}

func (n *node) flush(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		k, err := n.db.SharedBacklog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("shared journal still holds %d entries", k)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pop(t *testing.T, n *node) string {
	t.Helper()
	it, err := n.c.Pop(context.Background())
	if errors.Is(err, store.ErrQueueEmpty) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return it.ID
}

func TestQueueOrderAcrossNodes(t *testing.T) {
	r := redistest.Start(t)
	a := newNode(t, r.URL, "a", 30*time.Second, true)
	b := newNode(t, r.URL, "b", 30*time.Second, true)

	low := a.submit(t, "low", store.PriorityLow, store.PushOptions{})
	n1 := a.submit(t, "normal-1", store.PriorityNormal, store.PushOptions{})
	n2 := b.submit(t, "normal-2", store.PriorityNormal, store.PushOptions{})
	forced := b.submit(t, "forced", store.PriorityNormal, store.PushOptions{Front: true})
	high := a.submit(t, "high", store.PriorityHigh, store.PushOptions{})
	later := a.submit(t, "later", store.PriorityHigh, store.PushOptions{NotBefore: time.Now().Add(time.Hour)})
	// Pushed again: moved to the back of normal, not duplicated.
	err := a.db.Update(context.Background(), func(tx *store.Tx) error { return a.c.Push(tx, n1, store.PriorityNormal, store.PushOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	a.flush(t)

	st, err := b.c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.ByPriority != [3]int{2, 3, 1} || st.Delayed != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v, want by priority [2 3 1], 1 delayed, none in flight", st)
	}
	if pos, prio, ok := a.c.Position(nil, n1); !ok || prio != store.PriorityNormal || pos != 3 {
		t.Errorf("position of the moved document: %d %d %v, want 3 (after high, forced, normal-2)", pos, prio, ok)
	}

	want := []string{high, forced, n2, n1, low}
	var got []string
	for i := range want {
		n := a
		if i%2 == 1 {
			n = b
		}
		id := pop(t, n)
		got = append(got, id)
		if id == "" {
			break
		}
		if !n.c.InFlight(nil, id) || !a.c.InFlight(nil, id) {
			t.Errorf("%s: not in flight after pop", id)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pop order %v, want %v", got, want)
	}
	if id := pop(t, a); id != "" {
		t.Errorf("pop after all: %s, want empty (the delayed one is not due)", id)
	}
	// The node that popped a document it never saw has its record.
	err = b.db.View(context.Background(), func(tx *store.Tx) error {
		d, err := tx.Document(forced)
		if err == nil && d.FileName != "forced" {
			err = fmt.Errorf("file name %q", d.FileName)
		}
		return err
	})
	if err != nil {
		t.Errorf("adopted record: %v", err)
	}
	// A retry waiting out its backoff comes due and is popped, and says when it will.
	err = a.db.Update(context.Background(), func(tx *store.Tx) error {
		return a.c.Push(tx, later, store.PriorityHigh, store.PushOptions{NotBefore: time.Now().Add(300 * time.Millisecond)})
	})
	if err != nil {
		t.Fatal(err)
	}
	a.flush(t)
	it, err := b.c.Pop(context.Background())
	if !errors.Is(err, store.ErrQueueEmpty) || it.NotBefore.IsZero() || time.Until(it.NotBefore) > 300*time.Millisecond {
		t.Errorf("pop before the retry is due: %+v %v", it, err)
	}
	time.Sleep(400 * time.Millisecond)
	if id := pop(t, b); id != later {
		t.Errorf("pop after the retry came due: %q, want %s", id, later)
	}
}

func TestLeaseTakeover(t *testing.T) {
	r := redistest.Start(t)
	const ttl = time.Second
	// a never renews: its background work is not started, as if it had died after the pop.
	a := newNode(t, r.URL, "a", ttl, false)
	b := newNode(t, r.URL, "b", ttl, true)
	id := b.submit(t, "packet", store.PriorityNormal, store.PushOptions{})
	if got := pop(t, a); got != id {
		t.Fatalf("a popped %q, want %s", got, id)
	}
	if got := pop(t, b); got != "" {
		t.Fatalf("b popped %s while a's lease is fresh", got)
	}
	time.Sleep(ttl + 200*time.Millisecond)
	if got := pop(t, b); got != id {
		t.Fatalf("b popped %q after the lease ran out, want %s", got, id)
	}
	if c := b.c.Counters(context.Background()); c.Takeovers != 1 {
		t.Errorf("takeovers %d, want 1", c.Takeovers)
	}
	if h := a.c.Holder(context.Background(), id); h != "b" {
		t.Errorf("holder %q, want b", h)
	}
	// b keeps it past the TTL: its lease is renewed.
	time.Sleep(2 * ttl)
	if got := pop(t, a); got != "" {
		t.Errorf("a popped %s while b renews its lease", got)
	}
	if err := b.c.Hold(context.Background(), id); err != nil {
		t.Errorf("b's lease: %v", err)
	}
	// b finishes it: gone from the queue for good.
	err := b.db.Update(context.Background(), func(tx *store.Tx) error { return b.c.Remove(tx, id) })
	if err != nil {
		t.Fatal(err)
	}
	b.flush(t)
	st, _ := b.c.Stats(context.Background())
	if st.Queued() != 0 || st.InFlight != 0 {
		t.Errorf("after remove: %+v", st)
	}
}

func TestLeaseLostWhenTakenOver(t *testing.T) {
	r := redistest.Start(t)
	const ttl = time.Second
	a := newNode(t, r.URL, "a", ttl, true)
	b := newNode(t, r.URL, "b", ttl, true)
	id := a.submit(t, "packet", store.PriorityNormal, store.PushOptions{})
	if got := pop(t, a); got != id {
		t.Fatalf("a popped %q", got)
	}
	// Redis stopped longer than the TTL: when it returns the entry looks idle, and b may
	// take it over before a renews. Either a keeps it, or a learns it lost it: never both.
	r.Stop(t)
	time.Sleep(ttl + 500*time.Millisecond)
	r.Restart(t)
	got := ""
	for range 20 {
		if got = pop(t, b); got != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(ttl)
	a.mu.Lock()
	lost := append([]string(nil), a.lost...)
	a.mu.Unlock()
	switch got {
	case id:
		if len(lost) != 1 || lost[0] != id {
			t.Errorf("b took %s over, but a lost %v", id, lost)
		}
		if err := a.c.Hold(context.Background(), id); !errors.Is(err, redisq.ErrLeaseLost) {
			t.Errorf("a's Hold after losing: %v", err)
		}
	case "":
		if len(lost) != 0 {
			t.Errorf("nobody took it, yet a lost %v", lost)
		}
	default:
		t.Errorf("b popped %s", got)
	}
}

func TestSharedCacheAcrossNodes(t *testing.T) {
	r := redistest.Start(t)
	a := newNode(t, r.URL, "a", 30*time.Second, true)
	b := newNode(t, r.URL, "b", 30*time.Second, true)
	id := docID("cached")
	key := store.PageDataKey(id, 3)
	err := a.db.Update(context.Background(), func(tx *store.Tx) error {
		if err := tx.PutCache(key, "v1", map[string]string{"Account_Number": "123"}); err != nil {
			return err
		}
		return tx.PutCheckpoint(store.CheckpointKey(id, "ocr_extraction", 2), "v1", map[string]int{"page": 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	a.flush(t)
	// A miss on b reads the shared tier (no S3 here).
	var got map[string]string
	if err := b.db.GetCached(context.Background(), key, "v1", &got); err != nil || got["Account_Number"] != "123" {
		t.Fatalf("b's read-through: %v, %v", got, err)
	}
	// Another version is a miss.
	if err := b.db.GetCached(context.Background(), store.PageDataKey(id, 4), "v1", &got); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a page nobody made: %v", err)
	}
	// A takeover pulls the checkpoints too (the record is there already).
	n, err := b.db.PullShared(context.Background(), id)
	if err != nil || n != 1 {
		t.Fatalf("pull: %d, %v; want 1 (the checkpoint)", n, err)
	}
	got = nil
	err = b.db.View(context.Background(), func(tx *store.Tx) error {
		r, err := tx.Cache(key)
		if err != nil {
			return err
		}
		if err := r.Decode("v1", &got); err != nil {
			return err
		}
		_, err = tx.Checkpoint(store.CheckpointKey(id, "ocr_extraction", 2))
		return err
	})
	if err != nil || got["Account_Number"] != "123" {
		t.Errorf("b's copy: %v, %v", got, err)
	}
	// A reprocess on a drops its records: b's copies go too.
	err = a.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.DeleteCache(store.PageDataPrefix(id))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a.flush(t)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var left error
		_ = b.db.View(context.Background(), func(tx *store.Tx) error { _, left = tx.Cache(key); return nil })
		if errors.Is(left, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b still holds the record a dropped: %v", left)
		}
	}
	if err := b.db.GetCached(context.Background(), key, "v1", &got); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b reads the dropped record through: %v", err)
	}
	err = a.db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.PutCache(store.OCRKey(id), "v1", map[string]int{"pages": 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	a.flush(t)
	// The records expire: memory on Redis is bounded.
	ttl, err := r.Do(context.Background(), "TTL", "idp:cache:"+id)
	if secs, _ := strconv.Atoi(ttl); err != nil || secs < 3600 {
		t.Errorf("TTL of the cache hash: %q %v", ttl, err)
	}
}

// TestHandOverQueue: a node that queued documents alone and then joins hands its queue over,
// records first, so that another node can take them.
func TestHandOverQueue(t *testing.T) {
	r := redistest.Start(t)
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bq := store.NewBoltQueue(db)
	now, later := docID("now"), docID("later")
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		for _, id := range []string{now, later} {
			d := store.Document{ID: id, FileName: id + ".pdf", Status: store.StatusQueued, Priority: store.PriorityNormal}
			if err := tx.PutDocument(&d); err != nil {
				return err
			}
		}
		if err := bq.Push(tx, now, store.PriorityNormal, store.PushOptions{}); err != nil {
			return err
		}
		return bq.Push(tx, later, store.PriorityLow, store.PushOptions{NotBefore: time.Now().Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := redisq.Open(context.Background(), db, redisq.Options{URL: r.URL, NodeID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := db.AttachShared(c, c.Wake); err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	// The delayed one cannot be made ready (its upload cannot be sent): it stays, and the
	// next hand-over moves it.
	n, err := db.HandOverQueue(context.Background(), c, func(_ context.Context, id string) error {
		if id == later {
			return errors.New("bucket unreachable")
		}
		return nil
	})
	if err == nil || n != 1 {
		t.Fatalf("handed over %d, %v; want 1 and the error of the other", n, err)
	}
	if local, _ := bq.Stats(context.Background()); local.Queued() != 1 || local.Delayed != 1 {
		t.Errorf("the local queue holds %+v; want the delayed one", local)
	}
	if n, err := db.HandOverQueue(context.Background(), c, func(context.Context, string) error { return nil }); n != 1 || err != nil {
		t.Errorf("second hand-over: %d, %v", n, err)
	}
	if local, _ := bq.Stats(context.Background()); local.Queued() != 0 {
		t.Errorf("the local queue still holds %+v", local)
	}
	(&node{db: db, c: c}).flush(t)
	st, _ := c.Stats(context.Background())
	if st.ByPriority != [3]int{0, 1, 1} || st.Delayed != 1 {
		t.Errorf("shared queue after the hand-over: %+v", st)
	}
	b := newNode(t, r.URL, "b", 30*time.Second, true)
	if id := pop(t, b); id != now {
		t.Fatalf("b popped %q, want %s", id, now)
	}
	err = b.db.View(context.Background(), func(tx *store.Tx) error { _, err := tx.Document(now); return err })
	if err != nil {
		t.Errorf("b has no record of the handed-over document: %v", err)
	}
}
