package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/idp/idp/store"
	"github.com/idp/idp/store/redisq"
)

// redisOptions make several `idp serve` nodes one service (--redis-url): the queue, the hot
// cache, the events and the registry of nodes on Redis, the bucket shared. Without
// --redis-url none of it runs.
type redisOptions struct {
	url      string
	prefix   string
	nodeID   string
	leaseTTL time.Duration
	cacheTTL time.Duration
	// addr is the node's HTTP address, for the registry (set by serve).
	addr string
}

// AddFlags adds the flags of many nodes.
func (o *redisOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.url, "redis-url", "", "Redis (or Valkey) that several nodes share: redis://[:PASSWORD@]HOST:PORT[/DB], rediss:// for TLS; needs --s3-bucket; prefer IDP_REDIS_URL when it holds a password")
	fs.StringVar(&o.prefix, "redis-prefix", "idp:", "prefix of every Redis key and channel: one Redis can serve several clusters")
	fs.StringVar(&o.nodeID, "node-id", "", "this node's name in the cluster (default: kept in {data-dir}/node_id, made from the host name once)")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", 30*time.Second, "how long a document stays with a node that stopped renewing its lease (died) before another node takes it over")
	fs.DurationVar(&o.cacheTTL, "redis-cache-ttl", 24*time.Hour, "how long a document's records stay on Redis after their last write (S3 keeps them for good)")
}

func (o *redisOptions) enabled() bool { return o != nil && o.url != "" }

// check refuses a configuration that cannot work, before anything is opened.
func (o *redisOptions) check(s3 *s3Options) error {
	if !o.enabled() {
		return nil
	}
	if !s3.enabled() {
		return errors.New("--redis-url needs --s3-bucket: several nodes share every upload and result through the bucket (see README, \"Many nodes\")")
	}
	if o.leaseTTL < time.Second {
		return errors.New("--lease-ttl must be at least 1s")
	}
	if o.cacheTTL < time.Minute {
		return errors.New("--redis-cache-ttl must be at least 1m")
	}
	return nil
}

// node returns the node id: --node-id, or the one kept in the data directory, made once.
func (o *redisOptions) node(dataDir string) (string, error) {
	if o.nodeID != "" {
		return o.nodeID, nil
	}
	path := filepath.Join(dataDir, "node_id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var r [3]byte
	_, _ = rand.Read(r[:])
	id := host + "-" + hex.EncodeToString(r[:])
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep the node id: %w", err)
	}
	return id, nil
}

// open connects this node to the cluster and attaches the shared tier to db; nil without
// --redis-url. The client is started by the caller once the processor exists.
func (o *redisOptions) open(db *store.DB, files *store.DirBlob, dataDir string, workers int, logger *slog.Logger) (*redisq.Client, error) {
	if !o.enabled() {
		return nil, nil
	}
	id, err := o.node(dataDir)
	if err != nil {
		return nil, err
	}
	// go-redis logs its connection pool's troubles through a logger of its own, to stderr
	// by default: through slog instead, at debug (the client logs each outage once itself).
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{logger.With("component", "go-redis")}) })
	c, err := redisq.Open(context.Background(), db, redisq.Options{
		URL: o.url, Prefix: o.prefix, NodeID: id, Addr: advertised(o.addr), LeaseTTL: o.leaseTTL, CacheTTL: o.cacheTTL,
		Workers: workers, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	if err := db.AttachShared(c, c.Wake); err != nil {
		c.Close()
		return nil, err
	}
	// What this node queued while it ran alone goes to the shared queue, its uploads to the
	// bucket first. One that cannot be sent now stays in the local queue, which no worker
	// reads: the next start tries again.
	moved, err := db.HandOverQueue(context.Background(), c, func(ctx context.Context, id string) error {
		return putOriginal(ctx, db, files, id)
	})
	if moved > 0 || err != nil {
		logger.Info("Handed the local queue over to the shared queue", "documents", moved, "err", err)
	}
	logger.Info("Joined the cluster on Redis", "node", id, "lease_ttl", o.leaseTTL, "redis_cache_ttl", o.cacheTTL)
	return c, nil
}

// redisLogOnce sets go-redis's logger, which is the package's own global, once per process.
var redisLogOnce sync.Once

// redisLogger prints go-redis's log lines through slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}

// redisStatus is the cluster's part of the processor status and metrics: the nodes, this
// node's counters whole under "redis", and its numbers flat under "redis_*". Nil on one node.
func redisStatus(c *redisq.Client) map[string]any {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st := c.Counters(ctx)
	out := map[string]any{
		"node":                  st.NodeID,
		"redis":                 st,
		"redis_up":              st.Up,
		"redis_errors":          st.Errors,
		"redis_takeovers":       st.Takeovers,
		"redis_leases_lost":     st.LeasesLost,
		"redis_lease_renewals":  st.Renewals,
		"redis_leases_held":     st.Held,
		"redis_journal_pending": st.JournalSize,
	}
	if nodes, err := c.Nodes(ctx); err == nil {
		out["nodes"] = nodes
	} else {
		out["nodes_error"] = err.Error()
	}
	return out
}

// putOriginal puts a document's upload in the bucket unless it is there already.
func putOriginal(ctx context.Context, db *store.DB, files *store.DirBlob, id string) error {
	var d store.Document
	err := db.View(ctx, func(tx *store.Tx) error {
		var err error
		d, err = tx.Document(id)
		return err
	})
	if err != nil {
		return err
	}
	return db.PutOriginal(ctx, id, files.Path(store.OriginalKey(id)), d.SHA256, d.FileName)
}

// nodeID is this node's id in the cluster, "" on one node.
func (a *app) nodeID() string {
	if a.cluster == nil {
		return ""
	}
	return a.cluster.NodeID()
}

// advertised is the address other nodes reach this one at: --addr, with the host name in
// place of an unspecified host (":5015", "0.0.0.0:5015").
func advertised(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			return net.JoinHostPort(h, port)
		}
	}
	return addr
}
