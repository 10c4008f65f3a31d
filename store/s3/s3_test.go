package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/idp/idp/store"
	"github.com/idp/idp/store/blobtest"
	"github.com/idp/idp/store/s3/s3test"
)

// newTestS3 is a Blob on srv under its own prefix.
func newTestS3(t *testing.T, srv *s3test.Server, prefix string) *Blob {
	t.Helper()
	b, err := New(context.Background(), Config{
		Bucket: srv.Bucket, Prefix: prefix, Endpoint: srv.Endpoint, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestS3Blob(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t)
	n := 0
	blobtest.Run(t, func(t *testing.T) store.Blob {
		n++
		return newTestS3(t, srv, fmt.Sprintf("conformance/%d", n))
	})

	t.Run("prefix is applied and hidden", func(t *testing.T) {
		ctx := context.Background()
		b := newTestS3(t, srv, "/tenant/a/")
		if err := b.Put(ctx, "page_data/x/page_0.json", strings.NewReader("{}"), nil); err != nil {
			t.Fatal(err)
		}
		objs := srv.Objects(t, "tenant/")
		if _, ok := objs["tenant/a/page_data/x/page_0.json"]; !ok || len(objs) != 1 {
			t.Errorf("bucket holds %v", keysOf(objs))
		}
		var got []string
		if err := b.List(ctx, "", func(i store.BlobInfo) error { got = append(got, i.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != "page_data/x/page_0.json" {
			t.Errorf("list = %v", got)
		}
	})

	t.Run("wrong credentials are store.ErrForbidden", func(t *testing.T) {
		s3test.SetCredentials(t, srv.AccessKey, "wrong-secret")
		b := newTestS3(t, srv, "forbidden")
		ctx := context.Background()
		err := b.Put(ctx, "k.json", strings.NewReader("x"), nil)
		if !errors.Is(err, store.ErrForbidden) {
			t.Errorf("put: %v, want store.ErrForbidden", err)
		}
		if _, err := b.Get(ctx, "k.json"); !errors.Is(err, store.ErrForbidden) {
			t.Errorf("get: %v, want store.ErrForbidden", err)
		}
		if _, err := b.Stat(ctx, "k.json"); !errors.Is(err, store.ErrForbidden) {
			t.Errorf("stat: %v, want store.ErrForbidden", err)
		}
		if err := b.List(ctx, "", func(store.BlobInfo) error { return nil }); !errors.Is(err, store.ErrForbidden) {
			t.Errorf("list: %v, want store.ErrForbidden", err)
		}
		srv.SetEnv(t)
	})

	t.Run("missing bucket is store.ErrNoBucket", func(t *testing.T) {
		b, err := New(context.Background(), Config{Bucket: "no-such-bucket", Endpoint: srv.Endpoint, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		err = b.Put(context.Background(), "k.json", strings.NewReader("x"), nil)
		if !errors.Is(err, store.ErrNoBucket) || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("put: %v, want store.ErrNoBucket", err)
		}
	})

	t.Run("server down is neither missing nor forbidden", func(t *testing.T) {
		b, err := New(context.Background(), Config{Bucket: srv.Bucket, Endpoint: "http://127.0.0.1:1", PathStyle: true, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Get(context.Background(), "k.json")
		if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, store.ErrForbidden) {
			t.Errorf("get: %v", err)
		}
	})

	t.Run("get reads a large body", func(t *testing.T) {
		ctx := context.Background()
		b := newTestS3(t, srv, "large")
		body := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
		if err := b.Put(ctx, "documents/x/original.pdf", strings.NewReader(body), map[string]string{"sha256": "ab"}); err != nil {
			t.Fatal(err)
		}
		rc, err := b.Get(ctx, "documents/x/original.pdf")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != body {
			t.Errorf("read %d bytes, %v", len(got), err)
		}
	})
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
