// Package blobtest is the conformance suite of store.Blob: every implementation (the local
// directory, the in-memory fake, S3) runs the same test body. It imports nothing of idp but
// store.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/idp/idp/store"
)

// Run is the conformance suite every store.Blob implementation passes. newBlob returns an
// empty blob store for one subtest.
func Run(t *testing.T, newBlob func(t *testing.T) store.Blob) {
	ctx := context.Background()
	get := func(t *testing.T, b store.Blob, key string) ([]byte, error) {
		t.Helper()
		rc, err := b.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}

	t.Run("missing is ErrNotExist", func(t *testing.T) {
		b := newBlob(t)
		if _, err := b.Get(ctx, "nope/x.json"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("get: %v", err)
		}
		if _, err := b.Stat(ctx, "nope/x.json"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat: %v", err)
		}
		if err := b.Delete(ctx, "nope/x.json"); err != nil {
			t.Errorf("delete of a missing key: %v", err)
		}
	})

	t.Run("put get stat overwrite", func(t *testing.T) {
		b := newBlob(t)
		key := "page_data/abc/page_0.json"
		meta := map[string]string{"sha256": "00ff"}
		if err := b.Put(ctx, key, strings.NewReader("one"), meta); err != nil {
			t.Fatal(err)
		}
		if got, err := get(t, b, key); err != nil || string(got) != "one" {
			t.Fatalf("get = %q, %v", got, err)
		}
		// Idempotent: the same put again is harmless; another put replaces.
		for _, body := range []string{"one", "two!"} {
			if err := b.Put(ctx, key, strings.NewReader(body), meta); err != nil {
				t.Fatal(err)
			}
		}
		info, err := b.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.Key != key || info.Size != 4 || info.Metadata["sha256"] != "00ff" {
			t.Errorf("stat = %+v", info)
		}
	})

	t.Run("list by prefix in order", func(t *testing.T) {
		b := newBlob(t)
		keys := []string{"a/2.json", "a/1.json", "b/1.json", "a/sub/3.json"}
		for _, k := range keys {
			if err := b.Put(ctx, k, bytes.NewReader([]byte(k)), nil); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		err := b.List(ctx, "a/", func(i store.BlobInfo) error {
			if i.Size != int64(len(i.Key)) {
				t.Errorf("%s size = %d", i.Key, i.Size)
			}
			got = append(got, i.Key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := "a/1.json,a/2.json,a/sub/3.json"; strings.Join(got, ",") != want {
			t.Errorf("list = %v, want %s", got, want)
		}
		if err := b.Delete(ctx, "a/1.json"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Stat(ctx, "a/1.json"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat after delete: %v", err)
		}
	})

	t.Run("keys cannot escape", func(t *testing.T) {
		b := newBlob(t)
		for _, k := range []string{"../x", "/etc/passwd", "a/../../x", "a//b", "", "a/./b"} {
			if err := b.Put(ctx, k, strings.NewReader("x"), nil); err == nil {
				t.Errorf("put %q succeeded", k)
			}
		}
	})
}
