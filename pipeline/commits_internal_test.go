package pipeline

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/idp/idp/store"
)

// TestCarriedCommit checks what a document's carried writes promise: they land in the same
// commit as the write that takes them, their announcements run only once that commit is
// done (in the order they were carried, before the taker's own), and a commit that fails
// announces nothing and keeps them carried for the try's end.
func TestCarriedCommit(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		carry     []string // keys carried, in order
		write     string   // the taker's own key; "" for none
		failWrite bool     // the taker's write fails
		wantKeys  []string // keys in the cache after the commit
		wantSaid  []string // announcements made
		wantErr   error
		wantLeft  int // writes still carried
	}{
		{"carried writes land with the taker's, announced first", []string{"a", "b"}, "c", false,
			[]string{"a", "b", "c"}, []string{"a", "b", "c"}, nil, 0},
		{"nothing carried", nil, "c", false, []string{"c"}, []string{"c"}, nil, 0},
		{"carried writes alone (a failed try's end)", []string{"a"}, "", false, []string{"a"}, []string{"a"}, nil, 0},
		{"a failed commit writes and announces nothing, and keeps what was carried", []string{"a", "b"}, "c", true,
			nil, nil, errBoom, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var said []string
			put := func(key string) func(tx *store.Tx) error {
				return func(tx *store.Tx) error { return tx.PutCache(key, "v1", key) }
			}
			say := func(key string) func() { return func() { said = append(said, key) } }
			var c carried
			for _, k := range tt.carry {
				c.add(put(k), say(k))
			}
			if len(said) != 0 {
				t.Fatalf("announced before any commit: %v", said)
			}
			var write func(tx *store.Tx) error
			var reported func()
			if tt.write != "" {
				write, reported = put(tt.write), say(tt.write)
				if tt.failWrite {
					write = func(tx *store.Tx) error { return errBoom }
				}
			}
			err = c.commit(context.Background(), db, write, reported)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("commit: %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(said, tt.wantSaid) {
				t.Errorf("announced %v, want %v", said, tt.wantSaid)
			}
			if len(c.writes) != tt.wantLeft {
				t.Errorf("%d writes still carried, want %d", len(c.writes), tt.wantLeft)
			}
			var keys []string
			for _, k := range []string{"a", "b", "c"} {
				var v string
				switch err := db.GetCached(context.Background(), k, "v1", &v); {
				case err == nil:
					keys = append(keys, k)
				case !errors.Is(err, store.ErrNotFound):
					t.Fatalf("read %s: %v", k, err)
				}
			}
			if !slices.Equal(keys, tt.wantKeys) {
				t.Errorf("cached %v, want %v", keys, tt.wantKeys)
			}
		})
	}
}

// TestPageCommitsOfOnePage checks that a stage with one page to make carries its write
// instead of committing it: nothing is written or reported before the stage's end commits.
func TestPageCommitsOfOnePage(t *testing.T) {
	tests := []struct {
		name        string
		todo        int
		wantCarried bool
	}{
		{"one page: carried to the stage's end", 1, true},
		{"two pages: committed as they come", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var c carried
			reported := false
			commits := newPageCommits(db, tt.todo, &c)
			commits.add(context.Background(), func(tx *store.Tx) error { return tx.PutCache("page", "v1", 1) },
				func() { reported = true })
			if err := commits.wait(); err != nil {
				t.Fatal(err)
			}
			var v int
			err = db.GetCached(context.Background(), "page", "v1", &v)
			if got := errors.Is(err, store.ErrNotFound); got != tt.wantCarried {
				t.Fatalf("page not yet written: %v, want %v (err %v)", got, tt.wantCarried, err)
			}
			if reported == tt.wantCarried {
				t.Fatalf("reported %v before the stage's end", reported)
			}
			if !tt.wantCarried {
				return
			}
			if err := c.commit(context.Background(), db, nil, nil); err != nil {
				t.Fatal(err)
			}
			if !reported {
				t.Error("not reported after the stage's end committed")
			}
			if err := db.GetCached(context.Background(), "page", "v1", &v); err != nil {
				t.Errorf("not written by the stage's end: %v", err)
			}
		})
	}
}
