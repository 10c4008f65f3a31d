package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// TestCountsSurviveKill9 kills the real binary with SIGKILL at several moments of processing a
// batch of documents, and checks after each kill that the counts the store keeps (documents
// by status and priority, the queue, the listing indexes) agree with its records; then lets
// the batch finish and checks again.
func TestCountsSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var files []string
	for i := range 8 {
		p, err := gen.SignatureCard(uint64(900 + i))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("card-%d.pdf", i))
		if err := os.WriteFile(f, p.PDF, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// Every kill costs the documents in flight a try: allow more than the kills.
	args := append([]string{"process", "--data-dir", data, "--log-format", "json", "--progress", "never", "--max-attempts", "9"}, files...)
	check := func(when string) store.DocCounts {
		t.Helper()
		db, err := store.Open(data, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.CheckCounts(context.Background()); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var c store.DocCounts
		err = db.View(context.Background(), func(tx *store.Tx) error {
			c, err = tx.DocumentCounts()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.Total() != len(files) {
			t.Fatalf("%s: %d documents counted, want %d", when, c.Total(), len(files))
		}
		return c
	}
	// Each kill comes at the n-th log line that starts with the prefix.
	kills := []struct {
		prefix string
		n      int
	}{{"OCR'd page", 2}, {"Processed and cached page", 3}, {"Completed full pipeline", 2}}
	for _, k := range kills {
		seen := 0
		_, err := runUntil(t, func(l logLine) os.Signal {
			if strings.HasPrefix(l.Msg, k.prefix) {
				if seen++; seen == k.n {
					return syscall.SIGKILL
				}
			}
			return nil
		}, args...)
		if err == nil {
			t.Fatalf("the run to be killed at %q #%d finished first", k.prefix, k.n)
		}
		c := check(fmt.Sprintf("after a kill -9 at %q #%d", k.prefix, k.n))
		t.Logf("after a kill at %q #%d: %d completed of %d", k.prefix, k.n, c.Status(store.StatusCompleted), len(files))
	}
	if _, err := runUntil(t, func(logLine) os.Signal { return nil }, args...); err != nil {
		t.Fatalf("the last run: %v", err)
	}
	if c := check("at the end"); c.Status(store.StatusCompleted) != len(files) {
		t.Errorf("at the end: %v, want all %d completed", c, len(files))
	}
}
