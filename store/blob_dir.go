package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DirBlob keeps blobs as files under a root directory. A put writes a temporary file, syncs it
// and renames it into place, so a crash never leaves a partial object under the key.
type DirBlob struct{ root string }

var _ Blob = (*DirBlob)(nil)

// metaSuffix names the sidecar file that holds an object's metadata.
const metaSuffix = ".idpmeta"

// NewDirBlob returns a blob store rooted at root (created on first put).
func NewDirBlob(root string) *DirBlob { return &DirBlob{root: filepath.Clean(root)} }

// Path is the file that holds key; it is valid only for keys that pass checkKey.
func (d *DirBlob) Path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

// Put implements Blob.
func (d *DirBlob) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := d.Path(key)
	if err := writeFileAtomic(p, r); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if len(meta) == 0 {
		if err := os.Remove(p + metaSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("put %s: %w", key, err)
		}
		return nil
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(p+metaSuffix, strings.NewReader(string(b))); err != nil {
		return fmt.Errorf("put %s metadata: %w", key, err)
	}
	return nil
}

func writeFileAtomic(p string, r io.Reader) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	// The rename is durable only once the directory entry is.
	dirf, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer dirf.Close()
	return dirf.Sync()
}

// Get implements Blob.
func (d *DirBlob) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(d.Path(key))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return f, nil
}

// Stat implements Blob.
func (d *DirBlob) Stat(ctx context.Context, key string) (BlobInfo, error) {
	if err := CheckKey(key); err != nil {
		return BlobInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return BlobInfo{}, err
	}
	p := d.Path(key)
	st, err := os.Stat(p)
	if err != nil {
		return BlobInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	if st.IsDir() {
		return BlobInfo{}, fmt.Errorf("stat %s: %w", key, fs.ErrNotExist)
	}
	info := BlobInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}
	if b, err := os.ReadFile(p + metaSuffix); err == nil {
		if err := json.Unmarshal(b, &info.Metadata); err != nil {
			return info, fmt.Errorf("stat %s: metadata: %w", key, err)
		}
	}
	return info, nil
}

// List implements Blob.
func (d *DirBlob) List(ctx context.Context, prefix string, fn func(BlobInfo) error) error {
	var infos []BlobInfo
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.HasSuffix(p, metaSuffix) || strings.HasPrefix(e.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		st, err := e.Info()
		if err != nil {
			return err
		}
		infos = append(infos, BlobInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, info := range infos {
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Blob.
func (d *DirBlob) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := d.Path(key)
	for _, f := range []string{p, p + metaSuffix} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", key, err)
		}
	}
	// Leave no empty directories behind, up to the root.
	for dir := filepath.Dir(p); dir != d.root && strings.HasPrefix(dir, d.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}
