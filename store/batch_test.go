package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestBatch runs many concurrent Batch calls, some failing or panicking, and checks that each
// successful call's writes are in the file when it returns, and that a failing call writes
// nothing and gets its own error while its neighbours in the transaction go through.
func TestBatch(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, Options{})
	const n = 200
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Batch(ctx, func(tx *Tx) error {
				if err := tx.PutCheckpoint(fmt.Sprintf("k/%03d", i), "v", i); err != nil {
					return err
				}
				switch {
				case i%17 == 3:
					return fmt.Errorf("call %d: %w", i, boom)
				case i%29 == 5:
					panic("call panics")
				}
				return nil
			})
			if errs[i] != nil {
				return
			}
			// Committed: a new transaction sees it.
			err := db.View(ctx, func(tx *Tx) error {
				_, err := tx.Checkpoint(fmt.Sprintf("k/%03d", i))
				return err
			})
			if err != nil {
				t.Errorf("call %d returned but its write is not there: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case i%17 == 3:
			if !errors.Is(err, boom) {
				t.Errorf("call %d = %v, want its own error", i, err)
			}
		case i%29 == 5:
			if err == nil || !strings.Contains(err.Error(), "panic") {
				t.Errorf("call %d = %v, want the panic as an error", i, err)
			}
		case err != nil:
			t.Errorf("call %d = %v", i, err)
		}
		if err != nil {
			_ = db.View(ctx, func(tx *Tx) error {
				if _, err := tx.Checkpoint(fmt.Sprintf("k/%03d", i)); !errors.Is(err, ErrNotFound) {
					t.Errorf("failed call %d left its write: %v", i, err)
				}
				return nil
			})
		}
	}
	if err := db.Batch(ctx, func(*Tx) error { return nil }); err != nil {
		t.Errorf("a lone call after the others: %v", err)
	}
}
