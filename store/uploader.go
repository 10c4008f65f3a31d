package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idp/idp/retry"
)

// UploaderOptions configure NewUploader. Zero values take the defaults shown.
type UploaderOptions struct {
	Logger *slog.Logger
	// Concurrency is how many uploads run at once (8).
	Concurrency int
	// BatchSize is how many entries one round takes from the head of the outbox (64).
	BatchSize int
	// PollInterval is how often an idle uploader looks at the outbox without being woken
	// by a commit (5s).
	PollInterval time.Duration
	// MinBackoff and MaxBackoff shape the wait after a failed round: retry.Backoff,
	// MinBackoff * failures^4, capped at MaxBackoff, jittered to between half and all of it
	// (1s, 5m). Commits do not wake a backing-off uploader.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// ForbiddenBackoff is the wait after S3 refused the credentials or the bucket is
	// missing: a person must act, so there is no point asking often (10m).
	ForbiddenBackoff time.Duration
	// LogInterval is how often a non-empty backlog is logged (1m).
	LogInterval time.Duration
	// CacheMaxBytes bounds the hot tier: when the cached records take more, those safe in
	// S3 are evicted, longest in sync first, down to 90% of it. Zero means unbounded.
	CacheMaxBytes int64
	// EvictInterval is how often the hot tier's size is checked (10s).
	EvictInterval time.Duration
	// Import copies the records of the bucket's completed documents into bbolt when the
	// uploader starts (DB.ImportDocuments), retried with the same backoff until it works.
	Import bool
	// Clock and Rand replace time and randomness (tests).
	Clock retry.Clock
	Rand  func() float64
}

func (o UploaderOptions) withDefaults() UploaderOptions {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 64
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.ForbiddenBackoff <= 0 {
		o.ForbiddenBackoff = 10 * time.Minute
	}
	if o.LogInterval <= 0 {
		o.LogInterval = time.Minute
	}
	if o.EvictInterval <= 0 {
		o.EvictInterval = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = retry.System{}
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o
}

// Uploader states, as Stats reports them.
const (
	// UploaderIdle: not started, or stopped.
	UploaderIdle = "idle"
	// UploaderOK: the last round worked (or none has run yet).
	UploaderOK = "ok"
	// UploaderRetrying: the last round failed (S3 down, slow, or erring); it is retried with
	// backoff. LastError says why.
	UploaderRetrying = "retrying"
	// UploaderForbidden: S3 refused the credentials (403) or the bucket does not exist. A
	// person must fix the configuration; meanwhile the uploader asks again only every
	// ForbiddenBackoff, and nothing leaves the outbox.
	UploaderForbidden = "forbidden"
)

// Uploader drains the outbox of a database to its attached blob tier, in
// order, with retries and backoff, and keeps the hot tier within its bound. S3 being slow or
// down only makes the backlog grow; nothing waits for it and nothing is lost.
//
// Uploads are idempotent: an object is the exact bytes of its source, with their SHA-256 in
// its metadata ("sha256"), so sending it again after a crash is harmless; an original already
// in the bucket with the same SHA-256 is not sent again.
type Uploader struct {
	db   *DB
	r    *remote
	opts UploaderOptions
	log  *slog.Logger

	drainMu sync.Mutex // one round at a time: the loop's and Flush's

	mu        sync.Mutex
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	state     string
	lastErr   string
	lastErrAt time.Time
	failures  int
	next      time.Time

	uploaded atomic.Int64
	bytes    atomic.Int64
	deleted  atomic.Int64
	evicted  atomic.Int64
}

// NewUploader makes the uploader of db, which must have a remote attached.
func NewUploader(db *DB, opts UploaderOptions) (*Uploader, error) {
	if db.remote == nil {
		return nil, errors.New("outbox: no remote attached to the database")
	}
	opts = opts.withDefaults()
	return &Uploader{db: db, r: db.remote, opts: opts, log: opts.Logger.With("component", "uploader"), state: UploaderIdle}, nil
}

// Start runs the uploader until Stop or until ctx ends. It first queues what bbolt holds and
// S3 is not known to (DB.QueueUnsynced); then the loop imports the bucket's documents when
// asked, and runs rounds whenever a commit queues work (or every PollInterval), with backoff
// after failures.
func (o *Uploader) Start(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cancel != nil {
		return errors.New("outbox already started")
	}
	queued, err := o.db.QueueUnsynced(ctx)
	if err != nil {
		return fmt.Errorf("outbox: queue what S3 lacks: %w", err)
	}
	if queued > 0 {
		o.log.Info("Queued the upload of what was stored before S3 was configured", "writes", queued)
	}
	ctx, cancel := context.WithCancel(ctx)
	o.cancel = cancel
	o.state = UploaderOK
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		o.loop(ctx)
	}()
	o.log.Info("Uploader started", "remote", blobName(o.r.blob), "cache_max_bytes", o.opts.CacheMaxBytes)
	return nil
}

// Stop stops the loop and waits for it. Pending entries stay in the outbox for the next
// start (or for Flush).
func (o *Uploader) Stop() {
	o.mu.Lock()
	cancel := o.cancel
	o.cancel = nil
	o.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	o.wg.Wait()
	o.mu.Lock()
	o.state = UploaderIdle
	o.mu.Unlock()
}

// Shutdown stops the loop, then sends what is pending within ctx, unless S3 was failing (then
// it stays in the outbox for the next start). It returns the flush's error.
func (o *Uploader) Shutdown(ctx context.Context) error {
	o.mu.Lock()
	failing := o.state == UploaderRetrying || o.state == UploaderForbidden
	o.mu.Unlock()
	o.Stop()
	if failing {
		return nil
	}
	return o.Flush(ctx)
}

// Flush sends what is pending now, until the outbox is empty, a round fails, or ctx ends.
// A stopping process calls it (after Stop) to leave as little behind as it can.
func (o *Uploader) Flush(ctx context.Context) error {
	for {
		n, err := o.round(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

func (o *Uploader) loop(ctx context.Context) {
	clock := o.opts.Clock
	imported := !o.opts.Import
	var lastLog, lastEvict time.Time
	timer := clock.After(0)
	backingOff := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.r.wake:
			if backingOff {
				continue // a failing S3 is not asked again before its backoff is over
			}
		case <-timer:
		}
		now := clock.Now()
		var err error
		if !imported {
			if _, err = o.db.ImportDocuments(ctx); err == nil {
				imported = true
			}
		}
		if err == nil {
			err = o.Flush(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		delay := o.opts.PollInterval
		backingOff = err != nil
		if err != nil {
			delay = o.failed(err)
		} else {
			o.succeeded()
			if o.opts.CacheMaxBytes > 0 && now.Sub(lastEvict) >= o.opts.EvictInterval {
				lastEvict = now
				if _, err := o.Evict(ctx); err != nil && ctx.Err() == nil {
					o.log.Error("Cache eviction failed", "err", err)
				}
			}
		}
		if now.Sub(lastLog) >= o.opts.LogInterval {
			if st, err := o.Stats(ctx); err == nil && st.Pending > 0 {
				lastLog = now
				o.log.Info("S3 outbox backlog", "pending", st.Pending, "oldest_age", time.Duration(st.OldestAgeSeconds*float64(time.Second)).Round(time.Second),
					"state", st.State, "last_error", st.LastError)
			}
		}
		o.mu.Lock()
		o.next = now.Add(delay)
		o.mu.Unlock()
		timer = clock.After(delay)
	}
}

// failed records a failed round and returns the wait before the next. A refusal is logged
// once, as an error; other failures once when they start, then at debug level.
func (o *Uploader) failed(err error) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failures++
	o.lastErr, o.lastErrAt = err.Error(), o.opts.Clock.Now()
	forbidden := errors.Is(err, ErrForbidden) || errors.Is(err, ErrNoBucket)
	var delay time.Duration
	switch {
	case forbidden:
		delay = retry.Backoff(1, o.opts.ForbiddenBackoff, o.opts.ForbiddenBackoff, o.opts.Rand())
		if o.state != UploaderForbidden {
			o.log.Error("S3 refused the uploads: check the credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE), the bucket and its policy. "+
				"Results are kept in the outbox and sent once S3 accepts them; asking again only every few minutes",
				"err", err, "retry_in", delay.Round(time.Second))
		} else {
			o.log.Debug("S3 still refuses the uploads", "err", err, "retry_in", delay.Round(time.Second))
		}
		o.state = UploaderForbidden
		// Read-through would only be refused too.
		o.r.downUntil.Store(o.opts.Clock.Now().Add(delay).UnixNano())
	default:
		delay = retry.Backoff(o.failures, o.opts.MinBackoff, o.opts.MaxBackoff, o.opts.Rand())
		if o.state != UploaderRetrying {
			o.log.Warn("S3 upload failed; results stay in the outbox and are retried with backoff", "err", err, "retry_in", delay.Round(time.Millisecond))
		} else {
			o.log.Debug("S3 upload failed again", "err", err, "failures", o.failures, "retry_in", delay.Round(time.Millisecond))
		}
		o.state = UploaderRetrying
	}
	return delay
}

func (o *Uploader) succeeded() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == UploaderRetrying || o.state == UploaderForbidden {
		o.log.Info("S3 uploads work again", "after_failures", o.failures)
		o.r.downUntil.Store(0)
	}
	o.state, o.failures = UploaderOK, 0
}

// UploaderStats is the uploader's state and the backlog, for the processor status, /metrics and
// the logs.
type UploaderStats struct {
	// Remote names the bucket and prefix.
	Remote string `json:"remote"`
	// State is one of UploaderIdle, UploaderOK, UploaderRetrying, UploaderForbidden.
	State string `json:"state"`
	// Pending is how many writes wait in the outbox; OldestAgeSeconds how long the oldest
	// has waited.
	Pending          int     `json:"pending"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// Failures counts consecutive failed rounds; LastError is the latest failure's text.
	Failures    int        `json:"failures"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	// Since the uploader was made: objects and bytes sent, objects deleted, records evicted
	// from the hot tier.
	Uploaded      int64 `json:"uploaded"`
	UploadedBytes int64 `json:"uploaded_bytes"`
	Deleted       int64 `json:"deleted"`
	Evicted       int64 `json:"evicted"`
	// ReadThrough counts the misses served from S3.
	ReadThrough ReadThroughStats `json:"read_through"`
}

// Stats reports the backlog and the uploader's state.
func (o *Uploader) Stats(ctx context.Context) (UploaderStats, error) {
	o.mu.Lock()
	st := UploaderStats{Remote: blobName(o.r.blob), State: o.state, Failures: o.failures, LastError: o.lastErr}
	if !o.lastErrAt.IsZero() {
		t := o.lastErrAt
		st.LastErrorAt = &t
	}
	if o.state != UploaderIdle && !o.next.IsZero() {
		t := o.next
		st.NextAttempt = &t
	}
	o.mu.Unlock()
	st.Uploaded, st.UploadedBytes = o.uploaded.Load(), o.bytes.Load()
	st.Deleted, st.Evicted = o.deleted.Load(), o.evicted.Load()
	st.ReadThrough = o.db.ReadThroughStats()
	err := o.db.View(ctx, func(tx *Tx) error {
		n, oldest, err := tx.OutboxBacklog()
		st.Pending = n
		if n > 0 && !oldest.IsZero() {
			st.OldestAgeSeconds = max(0, o.opts.Clock.Now().Sub(oldest).Seconds())
		}
		return err
	})
	return st, err
}

// job is one outbox entry being sent.
type job struct {
	seq   uint64
	e     outboxEntry
	body  []byte // opRecord, opDocMeta
	path  string // opOriginal
	sha   string
	size  int64
	drop  bool // nothing to send any more (source gone): forget the entry
	err   error
	tried bool // send ran (a cancelled round leaves the rest untried)
}

// round sends one batch from the head of the outbox and records the outcome. It returns how
// many entries it took (0: the outbox is empty) and the first failure.
func (o *Uploader) round(ctx context.Context) (int, error) {
	o.drainMu.Lock()
	defer o.drainMu.Unlock()
	var jobs []*job
	err := o.db.View(ctx, func(tx *Tx) error {
		seqs, entries, err := tx.outboxBatch(o.opts.BatchSize)
		if err != nil {
			return err
		}
		jobs = jobs[:0]
		for i, e := range entries {
			j := &job{seq: seqs[i], e: e}
			switch e.Op {
			case opRecord:
				v := tx.bucket(bucketCache).Get([]byte(e.Key))
				if v == nil {
					j.drop = true
				} else {
					j.body = clone(v)
				}
			case opDocMeta:
				b, err := tx.docMeta(e.DocID)
				if errors.Is(err, ErrNotFound) {
					j.drop = true
				} else if err != nil {
					return err
				}
				j.body = b
			case opOriginal:
				d, err := tx.Document(e.DocID)
				if errors.Is(err, ErrNotFound) {
					j.drop = true
				} else if err != nil {
					return err
				}
				j.path, j.sha, j.size = o.r.files.Path(e.Key), d.SHA256, d.Size
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	_ = forEach(ctx, len(jobs), o.opts.Concurrency, func(ctx context.Context, i int) error {
		j := jobs[i]
		if !j.drop {
			j.err = o.send(ctx, j)
		}
		j.tried = true
		return nil // one failure does not cancel the others: what worked is recorded
	})
	var first error
	for _, j := range jobs {
		if !j.tried {
			// The round was cancelled (a stop) before this one was sent.
			j.err = fmt.Errorf("not sent: %w", context.Cause(ctx))
		}
		if j.err != nil && first == nil {
			first = j.err
		}
	}
	err = o.db.Update(context.WithoutCancel(ctx), func(tx *Tx) error {
		ob, ids := tx.bucket(bucketOutbox), tx.bucket(bucketOutboxKeys)
		for _, j := range jobs {
			seq := seqKey(j.seq)
			current := bytes.Equal(ids.Get([]byte(j.e.Key)), seq) // not replaced by a later change meanwhile
			if j.err != nil {
				if !current {
					continue
				}
				j.e.Attempts++
				j.e.LastError = j.err.Error()
				now := tx.now
				j.e.LastTry = &now
				v, err := json.Marshal(j.e)
				if err != nil {
					return err
				}
				if err := ob.Put(seq, v); err != nil {
					return err
				}
				continue
			}
			// What S3 holds now, even when a later change of the key is already queued; but
			// not a key dropped meanwhile (its remote copy is about to be deleted, and a
			// synced mark would spare it).
			if !j.drop && j.e.Op != opDeletePrefix && (current || !tx.deletePending(j.e.Key)) {
				if err := tx.putSynced(j.e.Key, syncedEntry{SHA256: j.sha, Size: j.size, SyncedAt: tx.now}); err != nil {
					return err
				}
			}
			if current {
				if err := ob.Delete(seq); err != nil {
					return err
				}
				if err := ids.Delete([]byte(j.e.Key)); err != nil {
					return err
				}
				if err := tx.addCount(countOutbox, -1); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(jobs), first
}

// send does one entry's remote write.
func (o *Uploader) send(ctx context.Context, j *job) error {
	b := o.r.blob
	switch j.e.Op {
	case opRecord, opDocMeta:
		j.sha, j.size = sha256Hex(j.body), int64(len(j.body))
		if err := b.Put(ctx, j.e.Key, bytes.NewReader(j.body), map[string]string{"sha256": j.sha}); err != nil {
			return err
		}
		o.r.forgetMissing(j.e.Key) // a read-through once found nothing here; now there is
		o.uploaded.Add(1)
		o.bytes.Add(j.size)
	case opOriginal:
		// An original is large and never changes: skip it when S3 has these bytes.
		if info, err := b.Stat(ctx, j.e.Key); err == nil && j.sha != "" && info.Metadata["sha256"] == j.sha {
			return nil
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		f, err := os.Open(j.path)
		if errors.Is(err, fs.ErrNotExist) {
			o.log.Warn("Original to upload is gone from the data directory", "doc_id", j.e.DocID)
			j.drop = true
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		if err := b.Put(ctx, j.e.Key, f, map[string]string{"sha256": j.sha}); err != nil {
			return err
		}
		o.uploaded.Add(1)
		o.bytes.Add(j.size)
	case opDeletePrefix:
		return o.deletePrefix(ctx, j)
	default:
		o.log.Error("Unknown outbox operation dropped", "op", j.e.Op, "key", j.e.Key)
		j.drop = true
	}
	return nil
}

// deletePrefix deletes the remote keys under a prefix that this database neither holds nor
// means to send: those hold results that were dropped here.
func (o *Uploader) deletePrefix(ctx context.Context, j *job) error {
	var keys []string
	if err := o.r.blob.List(ctx, j.e.Key, func(i BlobInfo) error { keys = append(keys, i.Key); return nil }); err != nil {
		return err
	}
	var doomed []string
	err := o.db.View(ctx, func(tx *Tx) error {
		c, syn := tx.bucket(bucketCache), tx.bucket(bucketSynced)
		for _, k := range keys {
			kb := []byte(k)
			if c.Get(kb) != nil || syn.Get(kb) != nil || tx.pendingOp(k) != "" {
				continue // written again since the prefix was dropped
			}
			doomed = append(doomed, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return forEach(ctx, len(doomed), o.opts.Concurrency, func(ctx context.Context, i int) error {
		if err := o.r.blob.Delete(ctx, doomed[i]); err != nil {
			return err
		}
		o.deleted.Add(1)
		return nil
	})
}

// Evict keeps the hot tier within CacheMaxBytes: when the cached records take more, the
// records already safe in S3 (synced, nothing pending) are removed, longest in sync first,
// until they take 90% of it. A record not yet in S3 is never evicted, so the bound can be
// exceeded while S3 is down. It returns how many records it evicted.
func (o *Uploader) Evict(ctx context.Context) (int, error) {
	limit := o.opts.CacheMaxBytes
	if limit <= 0 {
		return 0, nil
	}
	type cand struct {
		key  string
		size int64
		at   time.Time
	}
	var total int64
	var cands []cand
	err := o.db.View(ctx, func(tx *Tx) error {
		c := tx.bucket(bucketCache)
		total = bucketSize(c)
		if total <= limit {
			return nil
		}
		cur := c.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			s, ok := tx.synced(string(k))
			if !ok || s.Size != int64(len(v)) || tx.pendingOp(string(k)) != "" {
				continue
			}
			cands = append(cands, cand{string(k), int64(len(k) + len(v)), s.SyncedAt})
		}
		return nil
	})
	if err != nil || total <= limit {
		return 0, err
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		return a.at.Before(b.at) || (a.at.Equal(b.at) && a.key < b.key)
	})
	target := limit - limit/10
	var doomed []cand
	for _, c := range cands {
		if total <= target {
			break
		}
		doomed = append(doomed, c)
		total -= c.size
	}
	n := 0
	err = o.db.Update(ctx, func(tx *Tx) error {
		n = 0
		c := tx.bucket(bucketCache)
		for _, d := range doomed {
			if tx.pendingOp(d.key) != "" {
				continue // rewritten meanwhile
			}
			if err := c.Delete([]byte(d.key)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	o.evicted.Add(int64(n))
	if n > 0 {
		o.log.Info("Evicted records already in S3 from the hot cache", "records", n, "cache_bytes", total, "limit_bytes", limit)
	}
	if total > limit {
		o.log.Warn("Hot cache over its bound: the rest is not in S3 yet", "cache_bytes", total, "limit_bytes", limit)
	}
	return n, nil
}

// blobName names a blob store for logs and stats: its String method, else its type.
func blobName(b Blob) string {
	if s, ok := b.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", b)
}
