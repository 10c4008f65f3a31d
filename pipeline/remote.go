package pipeline

import (
	"context"

	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// The S3 tier as the pipeline sees it: the store writes every cached record through to S3
// and reads a miss back (store.DB.AttachRemote). What is here covers the reads that do not
// go through DB.GetCached, so that a machine with an empty data directory and the same
// bucket serves pages and results without computing them again.

// OriginalPath is the local path of a document's uploaded file, fetched from S3 first when
// the data directory lacks it (an imported document, a lost data directory). A file that is
// nowhere is fs.ErrNotExist.
func (p *Processor) OriginalPath(ctx context.Context, id string) (string, error) {
	return p.db.FetchOriginal(ctx, p.files, id)
}

// readThroughPages brings back from S3 the stage 4 records of a document that bbolt lacks,
// before stage 4 counts which pages are done.
func (p *Processor) readThroughPages(ctx context.Context, id string, n int, version string) {
	if p.db.Remote() == nil {
		return
	}
	have := 0
	_ = p.db.View(ctx, func(tx *store.Tx) error {
		return tx.CacheEntries(store.PageDataPrefix(id), func(e store.CacheEntry) error {
			if e.Record.Version == version {
				have++
			}
			return nil
		})
	})
	if have < n {
		p.db.ReadThroughPrefix(ctx, store.PageDataPrefix(id), version)
	}
}

// readThroughResult brings back from S3 the records of a completed document that Result
// found missing (key -> version), and reports whether it brought any.
func (p *Processor) readThroughResult(ctx context.Context, missing map[string]string) bool {
	return len(missing) > 0 && p.db.ReadThrough(ctx, missing) > 0
}

// remoteAccounts reads through the accounts of a completed document that bbolt lacks (an
// imported or evicted record), for Status. Without S3 it is the empty list.
func (p *Processor) remoteAccounts(ctx context.Context, id string) []stage.Account {
	var split AccountSplit
	if p.db.Remote() == nil || p.db.GetCached(ctx, store.AccountsKey(id), p.versions.split, &split) != nil || split.Accounts == nil {
		return []stage.Account{}
	}
	return split.Accounts
}
