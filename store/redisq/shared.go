package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idp/idp/store"
)

// The shared hot cache and the documents' state on Redis: the journal writer sends what each
// commit changed (store.SharedOp), and the reader answers a node's misses.

var _ store.SharedReader = (*Client)(nil)

// Fields of the cache hash: records and checkpoints under their store keys.
const (
	recordField     = "r:"
	checkpointField = "c:"
	progressField   = "progress/"
)

// Poke wakes the journal writer: the store calls it after a commit that journaled something.
func (c *Client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Wake is the function to give store.DB.AttachShared.
func (c *Client) Wake() { c.poke() }

// writeJournal sends the shared journal to Redis in order, a batch at a time, until it is
// empty; it returns the first error (the rest waits for the next round).
func (c *Client) writeJournal(ctx context.Context) error {
	for {
		ops, err := c.db.DrainShared(ctx, 256)
		if err != nil || len(ops) == 0 {
			return err
		}
		var done uint64
		pipe := c.rdb.Pipeline()
		flush := func() error {
			if pipe.Len() == 0 {
				return nil
			}
			_, err := pipe.Exec(ctx)
			return err
		}
		for _, op := range ops {
			if op.Kind == store.SharedQueue || op.Kind == store.SharedDropRecords || op.Kind == store.SharedDropCheckpoints {
				// These read before they write: what is pipelined so far goes first.
				if err := flush(); err != nil {
					return err
				}
				if err := c.applyOne(ctx, op); err != nil {
					return err
				}
			} else {
				c.queueWrite(ctx, pipe, op)
			}
			done = op.Seq
		}
		if err := flush(); err != nil {
			return err
		}
		if err := c.db.SharedDone(ctx, done); err != nil {
			return fmt.Errorf("mark shared journal sent: %w", err)
		}
	}
}

// queueWrite adds one plain write to pipe.
func (c *Client) queueWrite(ctx context.Context, pipe redis.Pipeliner, op store.SharedOp) {
	doc, cache := c.docKey(op.DocID), c.cacheKey(op.DocID)
	set := func(key, field string) {
		if op.Value == nil {
			pipe.HDel(ctx, key, field)
			return
		}
		pipe.HSet(ctx, key, field, op.Value)
	}
	switch op.Kind {
	case store.SharedRecord:
		set(cache, recordField+op.Key)
		pipe.Expire(ctx, cache, c.opts.CacheTTL)
	case store.SharedCheckpoint:
		set(cache, checkpointField+op.Key)
		pipe.Expire(ctx, cache, c.opts.CacheTTL)
	case store.SharedProgress:
		set(doc, progressField+op.Key)
	case store.SharedDocument:
		set(doc, "doc")
	case store.SharedDropDocument:
		pipe.Del(ctx, doc, cache)
		for p := store.Priority(0); p <= store.MaxPriority; p++ {
			pipe.ZRem(ctx, c.delayedKey(p), op.DocID)
		}
		c.announceDrop(ctx, pipe, op)
	}
}

// drop tells the other nodes what this one dropped, so that they drop their copies too.
type drop struct {
	Node  string `json:"node"`
	Kind  string `json:"kind"`
	DocID string `json:"doc_id"`
	Key   string `json:"key,omitempty"`
}

func (c *Client) dropsChannel() string { return c.key("drops") }

func (c *Client) announceDrop(ctx context.Context, pipe redis.Pipeliner, op store.SharedOp) {
	b, err := json.Marshal(drop{Node: c.opts.NodeID, Kind: op.Kind, DocID: op.DocID, Key: op.Key})
	if err == nil {
		pipe.Publish(ctx, c.dropsChannel(), b)
	}
}

// applyDrop drops here what another node dropped.
func (c *Client) applyDrop(ctx context.Context, b []byte) {
	var d drop
	if json.Unmarshal(b, &d) != nil || d.Node == c.opts.NodeID {
		return
	}
	if err := c.db.DropShared(ctx, d.Kind, d.DocID, d.Key); err != nil {
		c.log.Warn("Cannot drop what another node dropped", "doc_id", d.DocID, "kind", d.Kind, "err", err)
	}
}

// applyOne carries out an operation that reads before it writes.
func (c *Client) applyOne(ctx context.Context, op store.SharedOp) error {
	switch op.Kind {
	case store.SharedQueue:
		return c.applyQueue(ctx, op.Value)
	case store.SharedDropRecords, store.SharedDropCheckpoints:
		prefix := recordField + op.Key
		if op.Kind == store.SharedDropCheckpoints {
			prefix = checkpointField + op.Key
		}
		fields, err := c.rdb.HKeys(ctx, c.cacheKey(op.DocID)).Result()
		if err != nil {
			return err
		}
		var drop []string
		for _, f := range fields {
			if strings.HasPrefix(f, prefix) {
				drop = append(drop, f)
			}
		}
		_, err = c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			if len(drop) > 0 {
				pipe.HDel(ctx, c.cacheKey(op.DocID), drop...)
			}
			c.announceDrop(ctx, pipe, op)
			return nil
		})
		return err
	}
	return nil
}

// runWriter sends the journal whenever a commit pokes it, and retries while Redis is away.
func (c *Client) runWriter(ctx context.Context) {
	wait := 100 * time.Millisecond
	for {
		err := c.writeJournal(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			_ = c.failed(err)
			wait = min(wait*2, 2*time.Second)
		default:
			c.ok()
			wait = 5 * time.Second // a poke comes sooner; this only catches a lost one
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.wake:
			if err == nil {
				wait = 100 * time.Millisecond
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// SharedRecords implements store.SharedReader.
func (c *Client) SharedRecords(ctx context.Context, docID string, keys []string) (map[string][]byte, error) {
	fields := make([]string, len(keys))
	for i, k := range keys {
		fields[i] = recordField + k
	}
	vals, err := c.rdb.HMGet(ctx, c.cacheKey(docID), fields...).Result()
	if err != nil {
		return nil, c.failed(err)
	}
	out := map[string][]byte{}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[keys[i]] = []byte(s)
		}
	}
	return out, nil
}

// SharedDoc implements store.SharedReader.
func (c *Client) SharedDoc(ctx context.Context, docID string) (records, checkpoints map[string][]byte, err error) {
	all, err := c.rdb.HGetAll(ctx, c.cacheKey(docID)).Result()
	if err != nil {
		return nil, nil, c.failed(err)
	}
	records, checkpoints = map[string][]byte{}, map[string][]byte{}
	for f, v := range all {
		if k, ok := strings.CutPrefix(f, recordField); ok {
			records[k] = []byte(v)
		} else if k, ok := strings.CutPrefix(f, checkpointField); ok {
			checkpoints[k] = []byte(v)
		}
	}
	return records, checkpoints, nil
}

// Adopt brings the cluster's state of a document (its record and its stages' progress) into
// this node's database, unless this node holds it (then its own state is the newer), and
// returns the node that holds it. A document Redis does not know is left as it is.
func (c *Client) Adopt(ctx context.Context, id string) (holder string, err error) {
	return c.adopt(ctx, id, false)
}

func (c *Client) adopt(ctx context.Context, id string, taking bool) (string, error) {
	if !store.ValidID(id) {
		return "", nil
	}
	c.mu.Lock()
	_, mine := c.held[id]
	c.mu.Unlock()
	if mine && !taking {
		return c.opts.NodeID, nil
	}
	all, err := c.rdb.HGetAll(ctx, c.docKey(id)).Result()
	if err != nil {
		return "", c.failed(err)
	}
	raw, ok := all["doc"]
	if !ok {
		return all["node"], nil
	}
	var d store.Document
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return "", fmt.Errorf("decode document %s from redis: %w", id, err)
	}
	prog := map[string]store.StageProgress{}
	for f, v := range all {
		if name, ok := strings.CutPrefix(f, progressField); ok {
			var sp store.StageProgress
			if json.Unmarshal([]byte(v), &sp) == nil {
				prog[name] = sp
			}
		}
	}
	// The record is taken when it is newer than this node's; the progress, which only the
	// holder writes, whenever it differs (this node does not hold the document).
	var newer, differs bool
	err = c.db.View(ctx, func(tx *store.Tx) error {
		local, err := tx.Document(id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		newer = err != nil || d.UpdatedAt.After(local.UpdatedAt)
		differs = false
		for name, sp := range prog {
			lp, err := tx.Progress(id, name)
			if err != nil {
				return err
			}
			a, _ := json.Marshal(lp)
			b, _ := json.Marshal(sp)
			differs = differs || string(a) != string(b)
		}
		return nil
	})
	if err != nil || (!newer && !differs) {
		return all["node"], err
	}
	err = c.db.UpdateLocal(ctx, func(tx *store.Tx) error {
		if newer {
			if err := tx.PutDocument(&d); err != nil {
				return err
			}
			if err := tx.ClearProgress(id); err != nil {
				return err
			}
		}
		for name, sp := range prog {
			if err := tx.PutProgress(id, name, sp); err != nil {
				return err
			}
		}
		return nil
	})
	return all["node"], err
}
