package store

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"sort"
	"time"
)

// Where a cached record stands between bbolt and the blob tier (`idp cache dump --remote`).
const (
	// SyncLocalOnly: in bbolt only, and nothing queued to send it (written before S3 was
	// configured, or S3 holds other bytes under the key).
	SyncLocalOnly = "local only"
	// SyncPending: in bbolt, its upload waits in the outbox.
	SyncPending = "pending upload"
	// SyncInSync: the same bytes in bbolt and in the blob tier.
	SyncInSync = "in sync"
	// SyncRemoteOnly: in the blob tier only (evicted from bbolt, or written by another
	// machine); a read brings it back.
	SyncRemoteOnly = "remote only"
	// SyncPendingDelete: in the blob tier, dropped here (a reprocess); its delete waits in
	// the outbox.
	SyncPendingDelete = "pending delete"
)

// SyncState is one key's place.
type SyncState struct {
	Key   string
	State string
	// Size is the local record's size, or the remote object's when there is no local one.
	Size      int64
	Version   string    // the local record's; empty for a remote-only key
	CreatedAt time.Time // the local record's
}

// CompareRemote lists every key under prefixes in bbolt's cache and in blob, and tells where
// each stands. db may be open read-only; blob need not be attached to it. A key in both
// places that the synced index does not vouch for is checked against the SHA-256 in the
// object's metadata.
func CompareRemote(ctx context.Context, db *DB, blob Blob, prefixes []string) ([]SyncState, error) {
	type local struct {
		e       CacheEntry
		sha     string
		pending string
		synced  bool
	}
	locals := map[string]*local{}
	pendingDel := map[string]bool{}
	err := db.View(ctx, func(tx *Tx) error {
		for _, p := range prefixes {
			err := tx.CacheEntries(p, func(e CacheEntry) error {
				raw := tx.bucket(bucketCache).Get([]byte(e.Key))
				l := &local{e: e, sha: sha256Hex(raw), pending: tx.pendingOp(e.Key)}
				if s, ok := tx.synced(e.Key); ok && s.SHA256 == l.sha {
					l.synced = true
				}
				locals[e.Key] = l
				return nil
			})
			if err != nil {
				return err
			}
		}
		// Which remote prefixes are about to be deleted.
		if ob := tx.bucket(bucketOutbox); ob != nil {
			return ob.ForEach(func(_, v []byte) error {
				var e outboxEntry
				if err := json.Unmarshal(v, &e); err != nil {
					return err
				}
				if e.Op == opDeletePrefix {
					pendingDel[e.Key] = true
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	remotes := map[string]int64{}
	for _, p := range prefixes {
		err := blob.List(ctx, p, func(i BlobInfo) error {
			remotes[i.Key] = i.Size
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	deleted := func(key string) bool {
		if pendingDel[key] {
			return true
		}
		for i := 0; i < len(key); i++ {
			if key[i] == '/' && pendingDel[key[:i+1]] {
				return true
			}
		}
		return false
	}
	var out []SyncState
	for k, l := range locals {
		st := SyncState{Key: k, Size: int64(l.e.Size), Version: l.e.Record.Version, CreatedAt: l.e.Record.CreatedAt}
		_, inRemote := remotes[k]
		switch {
		case l.pending == opRecord:
			st.State = SyncPending
		case inRemote && l.synced:
			st.State = SyncInSync
		case inRemote:
			st.State = SyncLocalOnly
			info, err := blob.Stat(ctx, k)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			if err == nil && info.Metadata["sha256"] == l.sha {
				st.State = SyncInSync
			}
		default:
			st.State = SyncLocalOnly
		}
		out = append(out, st)
	}
	for k, size := range remotes {
		if _, ok := locals[k]; ok {
			continue
		}
		st := SyncState{Key: k, Size: size, State: SyncRemoteOnly}
		if deleted(k) {
			st.State = SyncPendingDelete
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
