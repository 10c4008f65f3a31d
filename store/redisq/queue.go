package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idp/idp/store"
)

// The queue on Redis Streams. Each priority has two streams, read in this order: the forced
// (front) one, then the ordinary one; priority 0's before priority 1's. A node reads with
// XREADGROUP in the one consumer group, as itself: the entry is then pending under its name
// (the Pending Entries List) until it acknowledges it. That pending entry is the lease. The
// node renews it with XCLAIM to itself, which resets the entry's idle time; a node that
// dies stops renewing, and once the entry has been idle for the lease's TTL, another node
// claims it with XAUTOCLAIM and takes the document over. Nothing here is invented on top of
// the engine but two fields of the document's hash: the token of its latest push (a stream
// entry whose token is not the document's current one is stale: moved, removed or pushed
// again, and is dropped when read) and the node that holds it (for status).
//
// Delayed retries wait in a sorted set per priority (score: due time) and are moved to the
// ordinary stream when due, under WATCH, by whichever node pops first.
//
// Push and Remove are journaled in the caller's bbolt transaction (store.Tx.JournalShared)
// and applied by the journal writer after the commit, in commit order: a push is never lost,
// even while Redis is down, and never runs ahead of the document record it follows.

var _ store.Queue = (*Client)(nil)

// lease is a document this node holds: its stream entry and the token it was pushed with.
type lease struct {
	stream  string
	entry   string
	token   string
	prio    store.Priority
	renewed time.Time
}

// queueOp is a journaled Push or Remove.
type queueOp struct {
	Op        string         `json:"op"` // "push" or "remove"
	ID        string         `json:"id"`
	Priority  store.Priority `json:"priority"`
	Front     bool           `json:"front,omitempty"`
	NotBefore time.Time      `json:"not_before,omitzero"`
}

func (c *Client) journalQueue(tx *store.Tx, op queueOp) error {
	v, err := json.Marshal(op)
	if err != nil {
		return err
	}
	return tx.JournalShared(store.SharedOp{Kind: store.SharedQueue, DocID: op.ID, Value: v})
}

// Push implements store.Queue: journaled in tx, applied after the commit.
func (c *Client) Push(tx *store.Tx, id string, prio store.Priority, opts store.PushOptions) error {
	if !store.ValidID(id) {
		return fmt.Errorf("%q: %w", id, store.ErrInvalidID)
	}
	if prio > store.MaxPriority {
		return fmt.Errorf("priority %d: must be 0 (high), 1 (normal) or 2 (low)", prio)
	}
	return c.journalQueue(tx, queueOp{Op: "push", ID: id, Priority: prio, Front: opts.Front, NotBefore: opts.NotBefore})
}

// Remove implements store.Queue: journaled in tx, applied after the commit.
func (c *Client) Remove(tx *store.Tx, id string) error {
	return c.journalQueue(tx, queueOp{Op: "remove", ID: id})
}

// applyQueue carries out a journaled queue operation on Redis.
func (c *Client) applyQueue(ctx context.Context, raw []byte) error {
	var op queueOp
	if err := json.Unmarshal(raw, &op); err != nil {
		return nil // not ours to retry forever: a corrupt entry is skipped
	}
	switch op.Op {
	case "push":
		return c.push(ctx, op)
	case "remove":
		return c.remove(ctx, op.ID)
	}
	return nil
}

// push queues op.ID: a new token makes every older entry of the document stale, and a lease
// this node holds on it is given up (the document goes back to waiting).
func (c *Client) push(ctx context.Context, op queueOp) error {
	c.mu.Lock()
	held := c.held[op.ID]
	c.mu.Unlock()
	old, err := c.rdb.HMGet(ctx, c.docKey(op.ID), "entry", "node").Result()
	if err != nil {
		return err
	}
	if held != nil {
		if err := c.release(ctx, op.ID, held); err != nil {
			return err
		}
	}
	tok := token()
	s := c.stream(op.Priority, op.Front)
	var add *redis.StringCmd
	_, err = c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, c.docKey(op.ID), "token", tok, "priority", int(op.Priority))
		if held != nil {
			pipe.HDel(ctx, c.docKey(op.ID), "node")
		}
		for p := store.Priority(0); p <= store.MaxPriority; p++ {
			pipe.ZRem(ctx, c.delayedKey(p), op.ID)
		}
		if !op.NotBefore.IsZero() && op.NotBefore.After(time.Now()) {
			pipe.ZAdd(ctx, c.delayedKey(op.Priority), redis.Z{Score: float64(op.NotBefore.UnixMilli()), Member: op.ID})
			pipe.HDel(ctx, c.docKey(op.ID), "entry")
		} else {
			add = pipe.XAdd(ctx, &redis.XAddArgs{Stream: s, Values: []any{"doc", op.ID, "token", tok}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if add != nil {
		if err := c.rdb.HSet(ctx, c.docKey(op.ID), "entry", s+"|"+add.Val()).Err(); err != nil {
			return err
		}
	}
	// The older entry, if it waits unread, is dropped now rather than when it is read.
	if e, _ := old[0].(string); e != "" && (held == nil || e != held.stream+"|"+held.entry) {
		if n, _ := old[1].(string); n == "" {
			if s, id, ok := strings.Cut(e, "|"); ok {
				c.rdb.XDel(ctx, s, id)
			}
		}
	}
	return nil
}

// remove drops op.ID from the queue, or lets go of it when this node holds it.
func (c *Client) remove(ctx context.Context, id string) error {
	c.mu.Lock()
	held := c.held[id]
	c.mu.Unlock()
	if held != nil {
		if err := c.release(ctx, id, held); err != nil {
			return err
		}
		// The token goes only if no other node pushed the document meanwhile.
		return c.rdb.Watch(ctx, func(tx *redis.Tx) error {
			cur, err := tx.HGet(ctx, c.docKey(id), "token").Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				if cur == held.token {
					pipe.HDel(ctx, c.docKey(id), "token", "entry")
				}
				pipe.HDel(ctx, c.docKey(id), "node")
				return nil
			})
			return err
		}, c.docKey(id))
	}
	vals, err := c.rdb.HMGet(ctx, c.docKey(id), "entry", "node").Result()
	if err != nil {
		return err
	}
	_, err = c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HDel(ctx, c.docKey(id), "token", "entry")
		for p := store.Priority(0); p <= store.MaxPriority; p++ {
			pipe.ZRem(ctx, c.delayedKey(p), id)
		}
		if e, _ := vals[0].(string); e != "" {
			if n, _ := vals[1].(string); n == "" {
				if s, eid, ok := strings.Cut(e, "|"); ok {
					pipe.XDel(ctx, s, eid)
				}
			}
		}
		return nil
	})
	return err
}

// release acknowledges and deletes the entry this node holds for id.
func (c *Client) release(ctx context.Context, id string, l *lease) error {
	_, err := c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.XAck(ctx, l.stream, group, l.entry)
		pipe.XDel(ctx, l.stream, l.entry)
		return nil
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.held[id] == l {
		delete(c.held, id)
	}
	c.mu.Unlock()
	return nil
}

// Position implements store.Queue: the queued items ahead of id, counted on Redis. tx is not
// used; a Redis that does not answer makes id look not queued.
func (c *Client) Position(_ *store.Tx, id string) (int, store.Priority, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	vals, err := c.rdb.HMGet(ctx, c.docKey(id), "token", "entry", "priority", "node").Result()
	if err != nil {
		_ = c.failed(err)
		return 0, 0, false
	}
	tok, _ := vals[0].(string)
	entry, _ := vals[1].(string)
	ps, _ := vals[2].(string)
	node, _ := vals[3].(string)
	prio64, _ := strconv.Atoi(ps)
	prio := store.Priority(prio64)
	if tok == "" || node != "" {
		return 0, 0, false
	}
	pos := 0
	for p := store.Priority(0); p < prio; p++ {
		pos += c.undelivered(ctx, p)
	}
	if entry == "" { // delayed: behind everything of its priority
		return pos + c.undelivered(ctx, prio), prio, true
	}
	s, eid, _ := strings.Cut(entry, "|")
	if s == c.stream(prio, false) {
		pos += c.undeliveredIn(ctx, c.stream(prio, true))
	}
	last := "0-0"
	if groups, err := c.rdb.XInfoGroups(ctx, s).Result(); err == nil {
		for _, g := range groups {
			if g.Name == group {
				last = g.LastDeliveredID
			}
		}
	}
	ahead, err := c.rdb.XRangeN(ctx, s, "("+last, eid, 10000).Result()
	if err == nil && len(ahead) > 0 {
		pos += len(ahead) - 1
	}
	return pos, prio, true
}

// undelivered counts the entries of a priority's streams not yet read.
func (c *Client) undelivered(ctx context.Context, p store.Priority) int {
	n := 0
	for _, s := range c.streams(p) {
		n += c.undeliveredIn(ctx, s)
	}
	return n
}

// undeliveredIn is a stream's length less its pending entries: acknowledged entries are
// deleted, so what is left is waiting or held.
func (c *Client) undeliveredIn(ctx context.Context, s string) int {
	n, err := c.rdb.XLen(ctx, s).Result()
	if err != nil {
		return 0
	}
	pend, err := c.rdb.XPending(ctx, s, group).Result()
	if err == nil {
		n -= pend.Count
	}
	return int(max(n, 0))
}

// InFlight implements store.Queue: whether any node holds id. tx is not used.
func (c *Client) InFlight(_ *store.Tx, id string) bool {
	c.mu.Lock()
	_, mine := c.held[id]
	c.mu.Unlock()
	if mine {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	node, err := c.rdb.HGet(ctx, c.docKey(id), "node").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		_ = c.failed(err)
	}
	return node != ""
}

// Holder is the node that holds id, "" when none does.
func (c *Client) Holder(ctx context.Context, id string) string {
	node, err := c.rdb.HGet(ctx, c.docKey(id), "node").Result()
	if err != nil {
		return ""
	}
	return node
}

// Pop implements store.Queue. In each priority, from the highest: a document whose holder's
// lease ran out is taken over first (XAUTOCLAIM), then the forced stream is read, then the
// ordinary one (XREADGROUP). The document's record, progress, records and checkpoints are
// brought into this node's database before Pop returns.
func (c *Client) Pop(ctx context.Context) (store.QueueItem, error) {
	var item store.QueueItem
	if err := c.promoteDue(ctx); err != nil {
		return item, c.failed(err)
	}
	for p := store.Priority(0); p <= store.MaxPriority; p++ {
		for _, s := range c.streams(p) {
			msgs, _, err := c.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: s, Group: group, Consumer: c.opts.NodeID, MinIdle: c.opts.LeaseTTL, Start: "0-0", Count: 4,
			}).Result()
			if err != nil {
				return item, c.failed(err)
			}
			for _, m := range msgs {
				it, ok, err := c.take(ctx, s, p, m, true)
				if err != nil {
					return item, err
				}
				if ok {
					return it, nil
				}
			}
		}
		for _, s := range c.streams(p) {
			for {
				res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
					Group: group, Consumer: c.opts.NodeID, Streams: []string{s, ">"}, Count: 1, Block: -1,
				}).Result()
				if errors.Is(err, redis.Nil) || (err == nil && (len(res) == 0 || len(res[0].Messages) == 0)) {
					break
				}
				if err != nil {
					return item, c.failed(err)
				}
				it, ok, err := c.take(ctx, s, p, res[0].Messages[0], false)
				if err != nil {
					return item, err
				}
				if ok {
					return it, nil
				}
			}
		}
	}
	c.ok()
	// Nothing due: when does the first delayed item come due?
	for p := store.Priority(0); p <= store.MaxPriority; p++ {
		zs, err := c.rdb.ZRangeWithScores(ctx, c.delayedKey(p), 0, 0).Result()
		if err == nil && len(zs) > 0 {
			due := time.UnixMilli(int64(zs[0].Score))
			if item.NotBefore.IsZero() || due.Before(item.NotBefore) {
				item.NotBefore = due
			}
		}
	}
	return item, store.ErrQueueEmpty
}

// take makes a read (or claimed) entry this node's document, unless it is stale.
func (c *Client) take(ctx context.Context, s string, p store.Priority, m redis.XMessage, takeover bool) (store.QueueItem, bool, error) {
	id, _ := m.Values["doc"].(string)
	tok, _ := m.Values["token"].(string)
	c.mu.Lock()
	mine := c.held[id]
	c.mu.Unlock()
	if mine != nil && mine.entry == m.ID {
		// Our own lease, idle too long while Redis was away: claiming it renewed it.
		c.mu.Lock()
		mine.renewed = time.Now()
		c.mu.Unlock()
		return store.QueueItem{}, false, nil
	}
	vals, err := c.rdb.HMGet(ctx, c.docKey(id), "token", "node").Result()
	if err != nil {
		return store.QueueItem{}, false, c.failed(err)
	}
	cur, _ := vals[0].(string)
	prev, _ := vals[1].(string)
	if !store.ValidID(id) || cur != tok || mine != nil {
		// Stale: the document was pushed again, removed, or is ours under another entry.
		_, err := c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.XAck(ctx, s, group, m.ID)
			pipe.XDel(ctx, s, m.ID)
			return nil
		})
		return store.QueueItem{}, false, c.failed(err)
	}
	now := time.Now()
	err = c.rdb.HSet(ctx, c.docKey(id), "node", c.opts.NodeID, "held_since", now.UnixMilli(), "entry", s+"|"+m.ID).Err()
	if err != nil {
		return store.QueueItem{}, false, c.failed(err)
	}
	c.mu.Lock()
	c.held[id] = &lease{stream: s, entry: m.ID, token: tok, prio: p, renewed: now}
	c.mu.Unlock()
	if takeover {
		c.takeovers.Add(1)
		c.log.Warn("Taking over a document whose lease ran out", "doc_id", id, "from_node", prev, "lease_ttl", c.opts.LeaseTTL)
	}
	if _, err := c.adopt(ctx, id, true); err != nil {
		c.log.Error("Cannot bring the document's state from Redis", "doc_id", id, "err", err)
	}
	if n, err := c.db.PullShared(ctx, id); err != nil {
		c.log.Warn("Cannot bring the document's shared records; missing pages are computed", "doc_id", id, "err", err)
	} else if n > 0 {
		c.log.Info("Resuming with records and checkpoints from the shared cache", "doc_id", id, "records", n)
	}
	c.ok()
	return store.QueueItem{ID: id, Priority: p}, true, nil
}

// promoteDue moves the delayed items that came due to their priority's ordinary stream.
func (c *Client) promoteDue(ctx context.Context) error {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for p := store.Priority(0); p <= store.MaxPriority; p++ {
		ids, err := c.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: c.delayedKey(p), Start: "-inf", Stop: now, ByScore: true, Count: 16}).Result()
		if err != nil {
			return err
		}
		for _, id := range ids {
			err := c.rdb.Watch(ctx, func(tx *redis.Tx) error {
				if _, err := tx.ZScore(ctx, c.delayedKey(p), id).Result(); err != nil {
					return nil // promoted by another node meanwhile
				}
				tok, err := tx.HGet(ctx, c.docKey(id), "token").Result()
				if err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
				s := c.stream(p, false)
				_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
					pipe.ZRem(ctx, c.delayedKey(p), id)
					if tok != "" {
						pipe.XAdd(ctx, &redis.XAddArgs{Stream: s, Values: []any{"doc", id, "token", tok}})
					}
					return nil
				})
				return err
			}, c.delayedKey(p), c.docKey(id))
			if err != nil && !errors.Is(err, redis.TxFailedErr) {
				return err
			}
		}
	}
	return nil
}

// Ack implements store.Queue: this node lets go of id.
func (c *Client) Ack(ctx context.Context, id string) error {
	c.mu.Lock()
	l := c.held[id]
	c.mu.Unlock()
	if l == nil {
		return nil
	}
	if err := c.release(ctx, id, l); err != nil {
		return c.failed(err)
	}
	return c.failed(c.rdb.HDel(ctx, c.docKey(id), "node").Err())
}

// Recover implements store.Queue: the entries pending under this node's name (it was
// killed and started again with the same id before another node took them) go back to the
// front of their priority.
func (c *Client) Recover(ctx context.Context) ([]string, error) {
	var ids []string
	for p := store.Priority(0); p <= store.MaxPriority; p++ {
		for _, s := range c.streams(p) {
			pend, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
				Stream: s, Group: group, Start: "-", End: "+", Count: 10000, Consumer: c.opts.NodeID,
			}).Result()
			if err != nil {
				return nil, c.failed(err)
			}
			for _, pe := range pend {
				msgs, err := c.rdb.XRange(ctx, s, pe.ID, pe.ID).Result()
				if err != nil {
					return nil, c.failed(err)
				}
				l := &lease{stream: s, entry: pe.ID, prio: p}
				var id string
				if len(msgs) == 1 {
					id, _ = msgs[0].Values["doc"].(string)
					l.token, _ = msgs[0].Values["token"].(string)
				}
				cur, _ := c.rdb.HGet(ctx, c.docKey(id), "token").Result()
				if id == "" || cur != l.token {
					_ = c.release(ctx, id, l)
					continue
				}
				c.mu.Lock()
				c.held[id] = l
				c.mu.Unlock()
				if err := c.push(ctx, queueOp{Op: "push", ID: id, Priority: p, Front: true}); err != nil {
					return nil, c.failed(err)
				}
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// Stats implements store.Queue: the whole cluster's queue.
func (c *Client) Stats(ctx context.Context) (store.QueueStats, error) {
	var st store.QueueStats
	type cmds struct {
		lens  []*redis.IntCmd
		pends []*redis.XPendingCmd
		delay *redis.IntCmd
	}
	var all [store.MaxPriority + 1]cmds
	_, err := c.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for p := range all {
			for _, s := range c.streams(store.Priority(p)) {
				all[p].lens = append(all[p].lens, pipe.XLen(ctx, s))
				all[p].pends = append(all[p].pends, pipe.XPending(ctx, s, group))
			}
			all[p].delay = pipe.ZCard(ctx, c.delayedKey(store.Priority(p)))
		}
		return nil
	})
	if err != nil {
		return st, c.failed(err)
	}
	for p, cm := range all {
		for i := range cm.lens {
			pend := cm.pends[i].Val().Count
			st.ByPriority[p] += int(max(cm.lens[i].Val()-pend, 0))
			st.InFlight += int(pend)
		}
		d := int(cm.delay.Val())
		st.ByPriority[p] += d
		st.Delayed += d
	}
	return st, nil
}

// renewLeases renews every lease this node holds; a lease another node took, or whose
// document was pushed again elsewhere, is lost: the work on it stops.
func (c *Client) renewLeases(ctx context.Context) error {
	c.mu.Lock()
	ids := make(map[string]*lease, len(c.held))
	for id, l := range c.held {
		ids[id] = l
	}
	c.mu.Unlock()
	if len(ids) == 0 {
		return nil // nothing asked of Redis: nothing learnt of it
	}
	for id, l := range ids {
		lost := false
		var err error
		for range 3 {
			err = c.rdb.Watch(ctx, func(tx *redis.Tx) error {
				pend, err := tx.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: l.stream, Group: group, Start: l.entry, End: l.entry, Count: 1}).Result()
				if err != nil {
					return err
				}
				cur, err := tx.HGet(ctx, c.docKey(id), "token").Result()
				if err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
				if len(pend) == 0 || pend[0].Consumer != c.opts.NodeID || cur != l.token {
					lost = true
					return nil
				}
				_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
					pipe.XClaimJustID(ctx, &redis.XClaimArgs{Stream: l.stream, Group: group, Consumer: c.opts.NodeID, Messages: []string{l.entry}})
					return nil
				})
				return err
			}, l.stream, c.docKey(id))
			if !errors.Is(err, redis.TxFailedErr) {
				break
			}
		}
		if err != nil {
			return c.failed(err)
		}
		c.mu.Lock()
		if c.held[id] != l {
			c.mu.Unlock()
			continue // released meanwhile
		}
		if lost {
			delete(c.held, id)
		} else {
			l.renewed = time.Now()
			c.renewals.Add(1)
		}
		c.mu.Unlock()
		if lost {
			c.leaseLost.Add(1)
			c.log.Warn("Lease lost: another node took the document over, or it was pushed again; stopping work on it", "doc_id", id)
			if c.onLost != nil {
				c.onLost(id)
			}
		}
	}
	c.ok()
	return nil
}

// ErrLeaseLost means this node no longer holds the document.
var ErrLeaseLost = errors.New("lease lost: another node holds the document")

// Hold waits until Redis answers and this node's lease on id is fresh (renewed within half
// its TTL): while Redis is away, a page that has not started waits here, so that no page is
// worked on by two nodes at once when the lease runs out. It returns ErrLeaseLost when the
// lease is gone.
func (c *Client) Hold(ctx context.Context, id string) error {
	for {
		c.mu.Lock()
		l := c.held[id]
		fresh := l != nil && time.Since(l.renewed) < c.opts.LeaseTTL/2
		c.mu.Unlock()
		if fresh && time.Since(time.Unix(0, c.lastOK.Load())) > time.Second {
			// Nothing has been heard from Redis for a second: ask before a page starts.
			_ = c.Ready(ctx)
		}
		fresh = fresh && c.Up()
		if l == nil {
			return fmt.Errorf("document %s: %w", id, ErrLeaseLost)
		}
		if fresh {
			return nil
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
