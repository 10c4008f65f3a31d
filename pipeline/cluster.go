package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/idp/idp/store"
)

// Many nodes (--redis-url): the queue is shared (Deps.Queue is then the Redis one), the
// store journals what other nodes need (store.DB.AttachShared), and Deps.Cluster is the rest
// of what the processor asks of the other nodes. Everything here is a no-op on one node.

// Cluster is what the processor needs of the other nodes when several share the queue and
// the hot cache. store/redisq implements it; cmd wires it.
type Cluster interface {
	// NodeID names this node in events and statuses.
	NodeID() string
	// Ready is nil when the shared queue takes writes now; else why not.
	Ready(ctx context.Context) error
	// Adopt brings the cluster's record and progress of a document into this node's
	// database, and returns the node that holds it ("" when none does).
	Adopt(ctx context.Context, id string) (holder string, err error)
	// Hold waits while this node's lease on a document it works on is not confirmed (the
	// shared queue is away); an error when the lease is lost.
	Hold(ctx context.Context, id string) error
	// Holder is the node that holds a document now, "" when none does; NodeAddr is a live
	// node's HTTP address ("" when it is not alive).
	Holder(ctx context.Context, id string) string
	NodeAddr(ctx context.Context, node string) string
	// Publish sends an encoded event to every node; Subscribe receives every node's.
	Publish(b []byte)
	Subscribe(ctx context.Context, fn func(b []byte))
}

// HolderAddr is the HTTP address of the other node that holds id now, "" when this node or
// none does: a page to extract now is that node's to do, since it has the document open and
// its pages under way.
func (p *Processor) HolderAddr(ctx context.Context, id string) string {
	if p.cluster == nil {
		return ""
	}
	node := p.cluster.Holder(ctx, id)
	if node == "" || node == p.cluster.NodeID() {
		return ""
	}
	return p.cluster.NodeAddr(ctx, node)
}

// ErrUnavailable means a write needs the shared queue and it cannot be reached now (the
// HTTP API answers 503).
var ErrUnavailable = errors.New("the shared queue (Redis) is unreachable; try again shortly")

// ready refuses a write that needs the shared queue while it is away.
func (p *Processor) ready(ctx context.Context) error {
	if p.cluster == nil {
		return nil
	}
	if err := p.cluster.Ready(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// adopt brings the cluster's state of id into bbolt before it is read or changed here, and
// returns its holder. While the shared queue is away the local state answers.
func (p *Processor) adopt(ctx context.Context, id string) string {
	if p.cluster == nil || !store.ValidID(id) {
		return ""
	}
	holder, err := p.cluster.Adopt(ctx, id)
	if err != nil {
		p.log.Debug("Cannot read the document's state from the cluster; answering from this node", "doc_id", id, "err", err)
	}
	return holder
}

// LeaseLost stops the work on id at once: another node has taken it over (this node's lease
// ran out), or it was pushed again elsewhere. Its record is the new holder's to write.
func (p *Processor) LeaseLost(id string) { p.cancelActive(id) }

// docKey carries the document a try works on, for holdPage.
type docKey struct{}

func withDoc(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, docKey{}, id)
}

// holdPage waits, before a page of a background try starts, until this node's lease on the
// document is confirmed: while Redis is away, running pages finish and no new one starts.
func (p *Processor) holdPage(ctx context.Context) error {
	if p.cluster == nil {
		return nil
	}
	id, _ := ctx.Value(docKey{}).(string)
	if id == "" {
		return nil // a page someone asked for, not a background try
	}
	return p.cluster.Hold(ctx, id)
}

// shareOriginal puts an upload in the bucket before it is queued, so that any node can
// process it: with several nodes the outbox, which sends it later, is not enough.
func (p *Processor) shareOriginal(ctx context.Context, id, path, sum, fileName string) error {
	if p.cluster == nil || p.db.Remote() == nil {
		return nil
	}
	if err := p.db.PutOriginal(ctx, id, path, sum, fileName); err != nil {
		if ctx.Err() != nil {
			return err
		}
		// No other node could read the file: the upload is refused, as when Redis is away.
		return fmt.Errorf("%w: the bucket cannot take the upload now, so no node could process it (%w)", ErrBucketUnavailable, err)
	}
	return nil
}

// ErrBucketUnavailable means an upload could not be put in the bucket, which several nodes
// need before it is queued (the HTTP API answers 503).
var ErrBucketUnavailable = errors.New("the bucket (S3) is unreachable; try again shortly")

// relayEvents makes the broker send this node's events to the other nodes and deliver
// theirs to its subscribers.
func (p *Processor) relayEvents(ctx context.Context) {
	c, self := p.cluster, p.cluster.NodeID()
	p.events.setRelay(func(e Event) {
		if e.Node != self {
			return
		}
		if b, err := json.Marshal(e); err == nil {
			c.Publish(b)
		}
	})
	// Every node learns of every document: what another node queued or finished is adopted
	// here too, so that this node's list shows it. One goroutine does it, in order; when it
	// falls behind, an adoption is left to the next read of the document.
	adopt := make(chan string, 1024)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-adopt:
				p.adopt(ctx, id)
			}
		}
	}()
	c.Subscribe(ctx, func(b []byte) {
		var e Event
		if json.Unmarshal(b, &e) != nil || e.Node == self {
			return
		}
		p.events.deliver(e)
		if e.Type == EventQueued || e.Type == EventRequeued {
			p.Wake() // idle workers here take it now, not at their next poll
		}
		switch e.Type {
		case EventQueued, EventCompleted, EventFailed:
			select {
			case adopt <- e.DocID:
			default:
			}
		}
	})
}
