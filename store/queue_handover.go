package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// HandOverQueue empties the bbolt queue into to: every queued item (in priority order, a
// delayed one with its due time) and every in-flight one (at the front of its priority) is
// pushed to to and removed here, with its document's record written again (so that a shared
// tier journals it). ready runs first for each document, outside any transaction (to put
// its upload where other nodes find it); a document it refuses stays here, and its error is
// returned. A node that joins several (--redis-url) hands over what it queued alone, so that
// nothing waits in a queue no worker reads. It returns how many items it moved.
func (db *DB) HandOverQueue(ctx context.Context, to Queue, ready func(ctx context.Context, id string) error) (int, error) {
	var ids []string
	err := db.View(ctx, func(tx *Tx) error {
		ids = ids[:0]
		for _, b := range [][]byte{bucketInflight, bucketQueueIDs} {
			if err := tx.bucket(b).ForEach(func(k, _ []byte) error { ids = append(ids, string(k)); return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	ok := map[string]bool{}
	var errs []error
	for _, id := range ids {
		if err := ready(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("document %s: %w", id, err))
			continue
		}
		ok[id] = true
	}
	n := 0
	err = db.Update(ctx, func(tx *Tx) error {
		n = 0
		type item struct {
			id   string
			prio Priority
			opts PushOptions
		}
		var items []item
		err := tx.bucket(bucketInflight).ForEach(func(k, v []byte) error {
			var e inflightEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode in-flight entry %s: %w", k, err)
			}
			items = append(items, item{string(k), e.Priority, PushOptions{Front: true}})
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bucketQueue, bucketQueueDelayed} {
			err := tx.bucket(b).ForEach(func(k, v []byte) error {
				var e queueEntry
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("decode queue entry: %w", err)
				}
				qkey := k
				if len(k) > queueKeyLen {
					qkey = k[8:]
				}
				opts := PushOptions{}
				if e.NotBefore.After(time.Time{}) {
					opts.NotBefore = e.NotBefore
				}
				items = append(items, item{e.ID, Priority(qkey[0]), opts})
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, it := range items {
			if !ok[it.id] {
				continue
			}
			if d, err := tx.Document(it.id); err == nil {
				if err := tx.PutDocument(&d); err != nil {
					return err
				}
			}
			if err := tx.dequeue(it.id); err != nil {
				return err
			}
			if err := tx.dropInflight(it.id); err != nil {
				return err
			}
			if err := to.Push(tx, it.id, it.prio, it.opts); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, errors.Join(append(errs, err)...)
}
