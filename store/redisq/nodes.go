package redisq

import (
	"context"
	"encoding/json"
	"sort"
	"time"
)

// The registry of nodes and the events between them, and the client's background work.

// heartbeatEvery is how often a node writes its heartbeat; a node silent for three of them
// is shown as not alive.
const heartbeatEvery = 2 * time.Second

// Node is one node as the registry shows it.
type Node struct {
	ID        string    `json:"id"`
	Addr      string    `json:"addr"`
	Workers   int       `json:"workers"`
	Busy      int       `json:"busy"`
	Heartbeat time.Time `json:"last_heartbeat"`
	Started   time.Time `json:"started"`
	Alive     bool      `json:"alive"`
}

func (c *Client) heartbeat(ctx context.Context, started time.Time) error {
	n := Node{ID: c.opts.NodeID, Addr: c.opts.Addr, Workers: c.opts.Workers, Heartbeat: time.Now(), Started: started}
	if c.busy != nil {
		n.Busy = c.busy()
	}
	v, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return c.rdb.HSet(ctx, c.nodesKey(), c.opts.NodeID, v).Err()
}

// Nodes lists the registry, by id.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	all, err := c.rdb.HGetAll(ctx, c.nodesKey()).Result()
	if err != nil {
		return nil, c.failed(err)
	}
	out := make([]Node, 0, len(all))
	for _, v := range all {
		var n Node
		if json.Unmarshal([]byte(v), &n) == nil {
			n.Alive = time.Since(n.Heartbeat) < 3*heartbeatEvery
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// NodeAddr is the HTTP address of a live node, "" when it is unknown or not alive.
func (c *Client) NodeAddr(ctx context.Context, node string) string {
	v, err := c.rdb.HGet(ctx, c.nodesKey(), node).Result()
	if err != nil {
		return ""
	}
	var n Node
	if json.Unmarshal([]byte(v), &n) != nil || time.Since(n.Heartbeat) >= 3*heartbeatEvery {
		return ""
	}
	return n.Addr
}

// Publish sends an event to the other nodes. It never blocks: an event that finds the
// outgoing buffer full (Redis away for long) is dropped, as a slow local subscriber's is.
func (c *Client) Publish(b []byte) {
	select {
	case c.out <- b:
	default:
	}
}

// Subscribe calls fn with every event another node (or this one) publishes, until ctx ends.
// go-redis reconnects the subscription after an outage.
func (c *Client) Subscribe(ctx context.Context, fn func([]byte)) {
	c.subscribe(ctx, c.eventsChannel(), fn)
}

func (c *Client) subscribe(ctx context.Context, channel string, fn func([]byte)) {
	ps := c.rdb.Subscribe(ctx, channel)
	c.subs.Add(1)
	go func() {
		defer c.subs.Done()
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.closed:
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				fn([]byte(m.Payload))
			}
		}
	}()
}

// Start runs the background work until Stop: the journal writer, the lease renewal, the
// heartbeat and the outgoing events.
func (c *Client) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return
	}
	c.started = true
	ctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	started := time.Now()
	c.subscribe(ctx, c.dropsChannel(), func(b []byte) { c.applyDrop(ctx, b) })
	c.wg.Add(3)
	go func() {
		defer c.wg.Done()
		c.runWriter(ctx)
	}()
	go func() {
		defer c.wg.Done()
		// Renew at a quarter of the TTL; retry every 500ms while Redis is away, so that the
		// lease is confirmed soon after it returns.
		every := max(c.opts.LeaseTTL/4, 100*time.Millisecond)
		var renewed, beat time.Time
		failing := false
		for {
			if now := time.Now(); failing || now.Sub(renewed) >= every {
				failing = c.renewLeases(ctx) != nil
				if !failing {
					renewed = now
				}
			}
			if now := time.Now(); now.Sub(beat) >= heartbeatEvery {
				if err := c.heartbeat(ctx, started); err != nil {
					_ = c.failed(err)
				} else {
					beat = now
				}
			}
			tick := min(every, heartbeatEvery)
			if failing {
				tick = min(tick, 500*time.Millisecond)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(tick):
			}
		}
	}()
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case b := <-c.out:
				if err := c.rdb.Publish(ctx, c.eventsChannel(), b).Err(); err != nil {
					_ = c.failed(err)
				}
			}
		}
	}()
}

// Stop ends the background work after one last send of the journal, and takes this node out
// of the registry.
func (c *Client) Stop() {
	c.mu.Lock()
	stop := c.stop
	c.stop = nil
	c.mu.Unlock()
	if stop == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.writeJournal(ctx); err != nil {
		c.log.Warn("Stopping with the shared journal not all sent; it is sent at the next start", "err", err)
	}
	_ = c.rdb.HDel(ctx, c.nodesKey(), c.opts.NodeID).Err()
	stop()
	c.wg.Wait()
}
