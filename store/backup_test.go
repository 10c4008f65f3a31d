package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestBackupIsConsistentUnderWrites: a snapshot taken while a writer commits holds whole
// transactions only (each writes a document and its cache record together) and passes
// VerifyBackup.
func TestBackupIsConsistentUnderWrites(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, Options{})
	put := func(n int) error {
		return db.Update(ctx, func(tx *Tx) error {
			if err := tx.PutDocument(&Document{ID: id(n), FileName: "f.pdf", Status: StatusCompleted}); err != nil {
				return err
			}
			return tx.PutCache(OCRKey(id(n)), "v1", map[string]string{"pad": string(make([]byte, 2000))})
		})
	}
	for n := range 200 {
		if err := put(n); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 200; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := put(n); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	dir := t.TempDir()
	var paths []string
	for i := range 3 {
		path := filepath.Join(dir, "b"+string(rune('0'+i))+".db")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.Backup(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Size() != n {
			t.Errorf("backup wrote %d bytes, the file has %d", n, st.Size())
		}
		paths = append(paths, path)
	}
	close(stop)
	wg.Wait()

	for _, path := range paths {
		info, err := VerifyBackup(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Documents < 200 || info.ByStatus[StatusCompleted] != info.Documents {
			t.Errorf("%s: %+v", path, info)
		}
		b, err := openFile(path)
		if err != nil {
			t.Fatal(err)
		}
		err = b.View(ctx, func(tx *Tx) error {
			docs, err := tx.Documents()
			if err != nil {
				return err
			}
			records := 0
			if err := tx.CacheEntries("ocr_cache/", func(CacheEntry) error { records++; return nil }); err != nil {
				return err
			}
			if records != len(docs) {
				t.Errorf("%s: %d documents but %d cache records: not one transaction's view", path, len(docs), records)
			}
			return nil
		})
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
	}

	// A cancelled backup stops.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Backup(cctx, &bytesSink{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled backup: %v", err)
	}
}

type bytesSink struct{ n int }

func (b *bytesSink) Write(p []byte) (int, error) { b.n += len(p); return len(p), nil }

// openFile opens a database file (not a data directory) read-only.
func openFile(path string) (*DB, error) {
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	return &DB{bolt: b, now: time.Now}, nil
}

func TestVerifyBackupRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("this is not a database at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, Options{})
	if err := db.Update(context.Background(), func(tx *Tx) error {
		for n := range 300 {
			if err := tx.PutDocument(&Document{ID: id(n), Status: StatusQueued}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	whole := filepath.Join(dir, "whole.db")
	f, _ := os.Create(whole)
	if _, err := db.Backup(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(whole)
	cut := filepath.Join(dir, "cut.db")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	flipped := filepath.Join(dir, "flipped.db")
	bad := append([]byte(nil), b...)
	for i := 3 * 4096; i < len(bad) && i < 5*4096; i++ {
		bad[i] ^= 0xff
	}
	if err := os.WriteFile(flipped, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{garbage, cut, flipped, dir} {
		if _, err := VerifyBackup(path); err == nil {
			t.Errorf("VerifyBackup(%s) passed", filepath.Base(path))
		}
	}
	if info, err := VerifyBackup(whole); err != nil || info.Documents != 300 {
		t.Errorf("VerifyBackup(whole) = %+v, %v", info, err)
	}
}

// TestRestore: refused while the database is held; then the backup replaces the database,
// the old one is kept, missing originals are named, and the file belongs to the data
// directory's owner.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	db, err := Open(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	files := NewDirBlob(data)
	for n, status := range []Status{StatusCompleted, StatusQueued} {
		if err := db.Update(ctx, func(tx *Tx) error {
			return tx.PutDocument(&Document{ID: id(n), Status: status})
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Only the first document's original is on disk.
	if err := os.MkdirAll(filepath.Dir(files.Path(OriginalKey(id(0)))), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.Path(OriginalKey(id(0))), []byte("%PDF-1.4"), 0o600); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	f, _ := os.Create(backup)
	if _, err := db.Backup(ctx, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// After the backup, the database moves on.
	if err := db.Update(ctx, func(tx *Tx) error {
		return tx.PutDocument(&Document{ID: id(9), Status: StatusQueued})
	}); err != nil {
		t.Fatal(err)
	}

	now := time.Date(2026, 12, 1, 10, 15, 0, 0, time.UTC)
	if _, err := Restore(ctx, backup, data, now); !errors.Is(err, ErrLocked) {
		t.Fatalf("restore while the database is held: %v", err)
	}
	db.Close()

	wantUID := os.Geteuid()
	if os.Geteuid() == 0 {
		// As root, restore gives the file to the data directory's owner (a service user).
		wantUID = 4242
		if err := os.Chown(data, wantUID, wantUID); err != nil {
			t.Fatal(err)
		}
	}
	info, err := Restore(ctx, backup, data, now)
	if err != nil {
		t.Fatal(err)
	}
	if info.Documents != 2 || info.Previous != filepath.Join(data, "idp.db.pre-restore-20261201T101500Z") {
		t.Errorf("restore: %+v", info)
	}
	if len(info.MissingOriginals) != 1 || info.MissingOriginals[0] != id(1) {
		t.Errorf("missing originals: %v, want [%s]", info.MissingOriginals, id(1))
	}
	st, err := os.Stat(filepath.Join(data, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if uid := int(st.Sys().(*syscall.Stat_t).Uid); uid != wantUID || st.Mode().Perm() != 0o600 {
		t.Errorf("restored file: uid %d mode %v, want uid %d mode 0600", uid, st.Mode().Perm(), wantUID)
	}
	db, err = Open(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(ctx, func(tx *Tx) error {
		if _, err := tx.Document(id(9)); !errors.Is(err, ErrNotFound) {
			t.Errorf("a document written after the backup is still there: %v", err)
		}
		d, err := tx.Document(id(0))
		if err != nil || d.Status != StatusCompleted {
			t.Errorf("document 0 after restore: %+v %v", d, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if prev, err := VerifyBackup(info.Previous); err != nil || prev.Documents != 3 {
		t.Errorf("the kept database: %+v %v", prev, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(data, ".restore-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	if _, err := Restore(ctx, filepath.Join(dir, "nope.db"), data, now); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("restore of a missing file: %v", err)
	}
}
