package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemBlob is an in-memory Blob for tests.
type MemBlob struct {
	mu      sync.Mutex
	objects map[string]memObject
}

type memObject struct {
	data []byte
	meta map[string]string
	mod  time.Time
}

var _ Blob = (*MemBlob)(nil)

// NewMemBlob returns an empty in-memory blob store.
func NewMemBlob() *MemBlob { return &MemBlob{objects: map[string]memObject{}} }

// Put implements Blob.
func (m *MemBlob) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = memObject{data: b, meta: maps.Clone(meta), mod: time.Now()}
	return nil
}

// Get implements Blob.
func (m *MemBlob) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Stat implements Blob.
func (m *MemBlob) Stat(ctx context.Context, key string) (BlobInfo, error) {
	if err := CheckKey(key); err != nil {
		return BlobInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return BlobInfo{}, fmt.Errorf("stat %s: %w", key, fs.ErrNotExist)
	}
	return BlobInfo{Key: key, Size: int64(len(o.data)), ModTime: o.mod, Metadata: maps.Clone(o.meta)}, nil
}

// List implements Blob.
func (m *MemBlob) List(ctx context.Context, prefix string, fn func(BlobInfo) error) error {
	m.mu.Lock()
	var infos []BlobInfo
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, BlobInfo{Key: k, Size: int64(len(o.data)), ModTime: o.mod, Metadata: maps.Clone(o.meta)})
		}
	}
	m.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Blob.
func (m *MemBlob) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}
