package store

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Blob is the blob tier: uploaded originals and, with S3, the durable copy of every cached
// record. Implementations: DirBlob (a local directory), MemBlob (tests), S3.
//
// Keys are slash-separated relative paths ("documents/{id}/original.pdf"). Every method takes
// a context first; a missing key is reported as an error matching fs.ErrNotExist, and SDK
// error types never cross this interface.
type Blob interface {
	// Put stores the whole of r under key with its metadata, replacing what was there. It is
	// idempotent: putting the same bytes again is harmless, and a reader never sees a partial
	// object.
	Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error
	// Get opens key for reading. The caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes key without reading it.
	Stat(ctx context.Context, key string) (BlobInfo, error)
	// List calls fn for every key under prefix, in lexical order. Metadata may be empty.
	List(ctx context.Context, prefix string, fn func(BlobInfo) error) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// BlobInfo describes one stored object.
type BlobInfo struct {
	Key      string
	Size     int64
	ModTime  time.Time
	Metadata map[string]string
}

// CheckKey refuses keys that could leave the store's root.
func CheckKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") ||
		path.Clean(key) != key || key == "." || strings.HasPrefix(key, "../") || key == ".." {
		return fmt.Errorf("invalid blob key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == ".." || part == "." || part == "" {
			return fmt.Errorf("invalid blob key %q", key)
		}
	}
	return nil
}
