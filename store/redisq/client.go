// Package redisq is the Redis side of many nodes (--redis-url): the shared queue
// (store.Queue on Redis Streams with consumer groups), the shared hot cache (the reader and
// writer of the store's shared tier), the event channel between nodes (pub/sub) and the
// registry of nodes. It works with Redis 7 and Valkey (one instance, not Redis Cluster: a
// push is a MULTI over several keys). It imports store and retry; nothing else of idp.
//
// Keys, under Options.Prefix ("idp:" by default):
//
//	q:{prio}:front, q:{prio}   streams, one per priority and kind (forced first), group "idp"
//	delayed:{prio}             sorted set: doc id -> due time (Unix ms) of a retry waiting out its backoff
//	doc:{id}                   hash: the document record, each stage's progress, the queue token,
//	                           the node that holds it
//	cache:{id}                 hash: the document's cached records and checkpoints, with a TTL
//	nodes                      hash: node id -> its heartbeat
//	events                     pub/sub channel of the processors' events
package redisq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idp/idp/store"
)

// ErrUnavailable means Redis cannot be reached now; the call can be tried again later.
var ErrUnavailable = errors.New("redis unavailable")

// Options configure Open.
type Options struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// for TLS.
	URL string
	// Prefix is put before every key and the channel; "idp:" when empty.
	Prefix string
	// NodeID names this node in the consumer group, the registry and the events. Required.
	NodeID string
	// Addr is this node's HTTP address, shown in the registry.
	Addr string
	// LeaseTTL is how long a document stays with a node that stopped renewing its lease
	// before another node takes it over. Zero means 30s.
	LeaseTTL time.Duration
	// CacheTTL bounds how long a document's records stay on Redis after their last write.
	// Zero means 24h.
	CacheTTL time.Duration
	// Workers is this node's number of workers, shown in the registry.
	Workers int
	Logger  *slog.Logger
}

// Client is one node's connection to the cluster.
type Client struct {
	rdb  *redis.Client
	db   *store.DB
	opts Options
	log  *slog.Logger

	downSince atomic.Int64 // unix nanoseconds of the first failure of the current outage; 0 when up
	lastOK    atomic.Int64 // unix nanoseconds of the last call that succeeded
	errs      atomic.Int64 // Redis calls that failed
	takeovers atomic.Int64 // documents taken over from a node whose lease ran out
	leaseLost atomic.Int64 // leases this node lost
	renewals  atomic.Int64 // lease renewals

	mu      sync.Mutex
	held    map[string]*lease // documents this node holds, by id
	onLost  func(id string)
	busy    func() int
	wake    chan struct{} // pokes the journal writer
	out     chan []byte   // events to publish
	closed  chan struct{} // closed by Close: ends the subscriptions
	stop    context.CancelFunc
	wg      sync.WaitGroup
	subs    sync.WaitGroup // the subscriptions' goroutines
	started bool
}

// Open connects to Redis and makes sure the consumer groups exist. db is this node's
// database: popped documents are adopted into it, and its shared journal is what the writer
// sends. Start runs the background work.
func Open(ctx context.Context, db *store.DB, opts Options) (*Client, error) {
	if opts.NodeID == "" {
		return nil, errors.New("redisq: a node id is required")
	}
	if opts.Prefix == "" {
		opts.Prefix = "idp:"
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 30 * time.Second
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	// Short limits: a Redis that is away must not hold a page commit or a request for long.
	ro.DialTimeout = 2 * time.Second
	ro.ReadTimeout = 2 * time.Second
	ro.WriteTimeout = 2 * time.Second
	ro.MaxRetries = 1
	c := &Client{
		rdb: redis.NewClient(ro), db: db, opts: opts,
		log:  opts.Logger.With("component", "redis", "node", opts.NodeID),
		held: map[string]*lease{}, wake: make(chan struct{}, 1), out: make(chan []byte, 4096), closed: make(chan struct{}),
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.rdb.Ping(pctx).Err(); err != nil {
		_ = c.rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", ro.Addr, err)
	}
	for p := store.Priority(0); p <= store.MaxPriority; p++ {
		for _, s := range c.streams(p) {
			err := c.rdb.XGroupCreateMkStream(pctx, s, group, "0").Err()
			if err != nil && !isBusyGroup(err) {
				_ = c.rdb.Close()
				return nil, fmt.Errorf("create consumer group on %s: %w", s, err)
			}
		}
	}
	return c, nil
}

func isBusyGroup(err error) bool {
	return err != nil && len(err.Error()) >= 9 && err.Error()[:9] == "BUSYGROUP"
}

// group is the one consumer group every node reads the streams in.
const group = "idp"

func (c *Client) key(parts ...string) string {
	k := c.opts.Prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

func (c *Client) stream(p store.Priority, front bool) string {
	if front {
		return c.key("q", strconv.Itoa(int(p)), "front")
	}
	return c.key("q", strconv.Itoa(int(p)))
}

// streams are a priority's streams in the order they are read: forced first.
func (c *Client) streams(p store.Priority) []string {
	return []string{c.stream(p, true), c.stream(p, false)}
}

func (c *Client) delayedKey(p store.Priority) string { return c.key("delayed", strconv.Itoa(int(p))) }
func (c *Client) docKey(id string) string            { return c.key("doc", id) }
func (c *Client) cacheKey(id string) string          { return c.key("cache", id) }
func (c *Client) nodesKey() string                   { return c.key("nodes") }
func (c *Client) eventsChannel() string              { return c.key("events") }

// NodeID is this node's id.
func (c *Client) NodeID() string { return c.opts.NodeID }

// LeaseTTL is the lease's time to live.
func (c *Client) LeaseTTL() time.Duration { return c.opts.LeaseTTL }

// OnLeaseLost sets what is called when this node learns that a document it works on was
// taken over (its lease ran out) or superseded: the work must stop. Set it before Start.
func (c *Client) OnLeaseLost(fn func(id string)) { c.onLost = fn }

// SetBusy sets how the registry learns this node's busy workers. Set it before Start.
func (c *Client) SetBusy(fn func() int) { c.busy = fn }

// failed records a failed Redis call: the first of an outage is logged.
func (c *Client) failed(err error) error {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return err
	}
	c.errs.Add(1)
	if c.downSince.CompareAndSwap(0, time.Now().UnixNano()) {
		c.log.Warn("Redis unreachable: uploads and forces answer 503, work in flight waits after its current pages", "err", err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// ok records a successful Redis call: the end of an outage is logged.
func (c *Client) ok() {
	c.lastOK.Store(time.Now().UnixNano())
	if since := c.downSince.Swap(0); since != 0 {
		c.log.Info("Redis reachable again", "down_for", time.Since(time.Unix(0, since)).Round(time.Millisecond))
		c.poke()
	}
}

// Ready is nil when Redis answers now; else an error that wraps ErrUnavailable.
func (c *Client) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return c.failed(err)
	}
	c.ok()
	return nil
}

// Up reports whether the last Redis call succeeded.
func (c *Client) Up() bool { return c.downSince.Load() == 0 }

// Close stops the background work and closes the connection.
func (c *Client) Close() error {
	c.Stop()
	c.mu.Lock()
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	c.mu.Unlock()
	err := c.rdb.Close()
	c.subs.Wait()
	return err
}

func token() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Counters count what this node's connection saw.
type Counters struct {
	NodeID      string `json:"node_id"`
	Up          bool   `json:"up"`
	Errors      int64  `json:"errors"`
	Takeovers   int64  `json:"takeovers"`
	LeasesLost  int64  `json:"leases_lost"`
	Renewals    int64  `json:"lease_renewals"`
	Held        int    `json:"held"`
	JournalSize int    `json:"journal_pending"`
}

// Counters reports the counters.
func (c *Client) Counters(ctx context.Context) Counters {
	c.mu.Lock()
	held := len(c.held)
	c.mu.Unlock()
	n, _ := c.db.SharedBacklog(ctx)
	return Counters{NodeID: c.opts.NodeID, Up: c.Up(), Errors: c.errs.Load(), Takeovers: c.takeovers.Load(),
		LeasesLost: c.leaseLost.Load(), Renewals: c.renewals.Load(), Held: held, JournalSize: n}
}
