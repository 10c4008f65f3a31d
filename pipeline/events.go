package pipeline

import (
	"sync"
	"time"
)

// Event is something that happened to a document, for live views (server-sent events) and
// tests.
type Event struct {
	Type     string    `json:"type"`
	DocID    string    `json:"doc_id"`
	Stage    string    `json:"stage,omitempty"`
	Page     *int      `json:"page,omitempty"`
	Progress int       `json:"progress"`
	Done     int       `json:"pages_processed"`
	Total    int       `json:"total_pages"`
	Status   string    `json:"status,omitempty"`
	Error    string    `json:"error,omitempty"`
	Time     time.Time `json:"time"`
	// Node is the node the event happened on (several nodes; see Deps.Cluster).
	Node string `json:"node,omitempty"`
}

// Event types.
const (
	EventQueued     = "queued"
	EventStarted    = "started"
	EventStage      = "stage"     // a stage started or finished
	EventPage       = "page"      // a page of a stage is done
	EventCompleted  = "completed" // the whole pipeline is done
	EventFailed     = "failed"
	EventRequeued   = "requeued" // interrupted or waiting out a retry
	EventDeleted    = "deleted"
	EventPriorities = "priority"
)

// Broker fans events out to subscribers. A slow subscriber loses events rather than slowing
// the pipeline: its channel is buffered and a full buffer drops.
type Broker struct {
	mu    sync.Mutex
	subs  map[chan Event]struct{}
	relay func(Event) // sends this node's events to the other nodes (cluster.go)
}

// NewBroker returns a broker with no subscribers.
func NewBroker() *Broker { return &Broker{subs: map[chan Event]struct{}{}} }

// Subscribe returns a channel of events and a function that ends the subscription.
func (b *Broker) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
			close(ch)
		})
	}
}

// Publish sends e to every subscriber that has room.
func (b *Broker) Publish(e Event) {
	if b == nil {
		return
	}
	b.deliver(e)
	b.mu.Lock()
	relay := b.relay
	b.mu.Unlock()
	if relay != nil {
		relay(e)
	}
}

func (b *Broker) setRelay(fn func(Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.relay = fn
}

// deliver sends e to this node's subscribers that have room.
func (b *Broker) deliver(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
