package store_test

import (
	"testing"

	"github.com/idp/idp/store"
	"github.com/idp/idp/store/blobtest"
)

func TestDirBlob(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) store.Blob { return store.NewDirBlob(t.TempDir()) })
}

func TestMemBlob(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) store.Blob { return store.NewMemBlob() })
}
