package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Backup writes a consistent snapshot of the whole database to w: the copy of the file as
// one read transaction sees it (bbolt's Tx.WriteTo), which is itself a bbolt file. Writers go
// on meanwhile, but one that must grow the file waits for the copy to end: write w to a
// local file, not to a slow network peer. A cancelled ctx stops the copy.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx: ctx, w: w})
		return err
	})
	if cerr := ctx.Err(); err != nil && cerr != nil {
		err = cerr // bbolt does not wrap the writer's error of its first pages
	}
	if err != nil {
		return n, fmt.Errorf("snapshot of %s: %w", db.Path(), err)
	}
	return n, nil
}

// ctxWriter stops a copy when its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// BackupInfo describes a backup file that passed VerifyBackup.
type BackupInfo struct {
	Path      string         `json:"path"`
	Size      int64          `json:"size"`
	Documents int            `json:"documents"`
	ByStatus  map[Status]int `json:"by_status"`
	// MissingOriginals lists documents whose uploaded PDF is not in the data directory
	// (filled by Restore only).
	MissingOriginals []string `json:"missing_originals,omitempty"`
	// Previous is where Restore kept the database it replaced; empty when there was none.
	Previous string `json:"previous,omitempty"`
}

// ErrNotBackup means a file is not a usable idp database.
var ErrNotBackup = errors.New("not an idp database")

// VerifyBackup opens path read-only and checks it is a whole idp database: bbolt's
// consistency check over every page, the documents bucket, and every document decodable.
func VerifyBackup(path string) (BackupInfo, error) {
	info := BackupInfo{Path: path, ByStatus: map[Status]int{}}
	st, err := os.Stat(path)
	if err != nil {
		return info, err
	}
	if st.IsDir() {
		return info, fmt.Errorf("%s is a directory: %w", path, ErrNotBackup)
	}
	info.Size = st.Size()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return info, fmt.Errorf("%s: %w: %w", path, ErrNotBackup, err)
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			if len(errs) < 10 {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: the file is damaged: %w", ErrNotBackup, errors.Join(errs...))
		}
		docs := tx.Bucket(bucketDocs)
		if docs == nil || tx.Bucket(bucketCache) == nil {
			return fmt.Errorf("%w: it has no documents or cache bucket", ErrNotBackup)
		}
		return docs.ForEach(func(k, v []byte) error {
			var d Document
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("%w: document %s: %w", ErrNotBackup, k, err)
			}
			info.Documents++
			info.ByStatus[d.Status]++
			return nil
		})
	})
	if err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// Restore replaces the database of dataDir by the backup at path, after checking it with
// VerifyBackup. It refuses with ErrLocked while a process (a running `idp serve`) holds the
// database. The replaced database is kept beside it as idp.db.pre-restore-{time}; the new
// file gets the owner of dataDir (a service's user when root restores) and mode 0600.
func Restore(ctx context.Context, path, dataDir string, now time.Time) (BackupInfo, error) {
	info, err := VerifyBackup(path)
	if err != nil {
		return info, err
	}
	target := filepath.Join(dataDir, FileName)
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return info, fmt.Errorf("create data dir: %w", err)
	}
	// Fail fast while a server runs; the lock is taken again for the swap.
	held, err := lockFile(target)
	if err != nil {
		return info, err
	}
	held.release()

	tmp, err := copyForRestore(ctx, path, dataDir)
	if err != nil {
		return info, err
	}
	defer os.Remove(tmp) // gone by then when the rename succeeded

	held, err = lockFile(target)
	if err != nil {
		return info, err
	}
	defer held.release()
	if held.existed {
		info.Previous = target + ".pre-restore-" + now.UTC().Format("20060102T150405Z")
		if err := os.Rename(target, info.Previous); err != nil {
			return info, fmt.Errorf("keep the current database: %w", err)
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return info, fmt.Errorf("put the backup in place: %w", err)
	}
	if err := syncDir(dataDir); err != nil {
		return info, err
	}
	info.MissingOriginals, err = missingOriginals(target, dataDir)
	return info, err
}

// heldFile is the exclusive lock on a database file, as bbolt takes it (flock). db is nil
// when there was no file, or one too damaged to open: nothing holds such a file.
type heldFile struct {
	db      *bolt.DB
	existed bool
}

func (h heldFile) release() {
	if h.db != nil {
		_ = h.db.Close()
	}
}

// lockFile takes the exclusive lock of the database at path. It creates no file: a
// placeholder would be one that a server starting meanwhile could lock and run on.
func lockFile(path string) (heldFile, error) {
	var h heldFile
	if _, err := os.Stat(path); err == nil {
		h.existed = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return h, err
	} else {
		return h, nil
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 500 * time.Millisecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return h, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if err != nil {
		// A damaged database cannot be opened, and is what a restore is for: it is not
		// held by a server either (that would have failed to open it too).
		h.existed = true
		return h, nil
	}
	h.db = b
	return h, nil
}

// copyForRestore copies the backup into a temporary file of dataDir (synced, owned like
// dataDir) and returns its path.
func copyForRestore(ctx context.Context, path, dataDir string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(dataDir, ".restore-*.db")
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			dst.Close()
			os.Remove(dst.Name())
		}
	}()
	if _, err := io.Copy(ctxWriter{ctx: ctx, w: dst}, src); err != nil {
		return "", fmt.Errorf("restore: copy %s: %w", path, err)
	}
	if err := dst.Chmod(0o600); err != nil {
		return "", err
	}
	if err := chownLike(dst, dataDir); err != nil {
		return "", err
	}
	if err := dst.Sync(); err != nil {
		return "", err
	}
	if err := dst.Close(); err != nil {
		return "", err
	}
	ok = true
	return dst.Name(), nil
}

// chownLike gives f the owner of dir, so that a service running as dir's owner (systemd's
// DynamicUser, a dedicated user) can open what root restored. Only root can give files away;
// for anyone else the file is already theirs.
func chownLike(f *os.File, dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	if err := f.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
		return fmt.Errorf("give the restored database to the owner of %s: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// missingOriginals lists the documents of the database at dbPath whose original PDF is not
// under dataDir: an unfinished one cannot resume without it (unless S3 holds it), and a
// finished one cannot draw its page images.
func missingOriginals(dbPath, dataDir string) ([]string, error) {
	b, err := bolt.Open(dbPath, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	files := NewDirBlob(dataDir)
	var missing []string
	err = b.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDocs).ForEach(func(k, _ []byte) error {
			if _, err := os.Stat(files.Path(OriginalKey(string(k)))); errors.Is(err, os.ErrNotExist) {
				missing = append(missing, string(k))
			}
			return nil
		})
	})
	return missing, err
}
