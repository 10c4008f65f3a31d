package cmd

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/idp/idp/store"
	"github.com/idp/idp/store/s3"
)

// s3Options configure the S3 tier. Without --s3-bucket none of it runs and bbolt alone is the
// store. Credentials come only from the standard AWS environment and profiles.
type s3Options struct {
	bucket     string
	prefix     string
	endpoint   string
	pathStyle  bool
	timeout    time.Duration
	cacheMaxMB int64
}

// AddFlags adds the flags that name the bucket.
func (o *s3Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.bucket, "s3-bucket", "", "S3 bucket that every cached result and upload is written through to (empty: no S3, bbolt alone); credentials from the standard AWS environment or profile")
	fs.StringVar(&o.prefix, "s3-prefix", "", "key prefix inside the bucket, e.g. idp/prod")
	fs.StringVar(&o.endpoint, "s3-endpoint", "", "URL of an S3-compatible server (versitygw, MinIO); empty for AWS")
	fs.BoolVar(&o.pathStyle, "s3-path-style", false, "address the bucket as ENDPOINT/BUCKET (most S3-compatible servers want it)")
	fs.DurationVar(&o.timeout, "s3-timeout", 30*time.Second, "time limit of one S3 call (for uploads and downloads: with no byte moving)")
}

// AddCacheFlags adds the bound of the hot tier.
func (o *s3Options) AddCacheFlags(fs *pflag.FlagSet) {
	fs.Int64Var(&o.cacheMaxMB, "cache-max-mb", 1024, "bound of the hot cache in bbolt, in MiB; only records already in S3 are evicted (no effect without --s3-bucket; 0: unbounded)")
}

func (o *s3Options) enabled() bool { return o.bucket != "" }

func (o *s3Options) blob(ctx context.Context) (*s3.Blob, error) {
	return s3.New(ctx, s3.Config{
		Bucket: o.bucket, Prefix: o.prefix, Endpoint: o.endpoint, PathStyle: o.pathStyle, Timeout: o.timeout,
	})
}

// attach makes S3 the durable tier of db and makes its uploader (not started: Start it once
// the rest is built); nil without a bucket.
func (o *s3Options) attach(db *store.DB, files *store.DirBlob, logger *slog.Logger) (*store.Uploader, error) {
	if !o.enabled() {
		if o.cacheMaxMB > 0 {
			logger.Debug("No --s3-bucket: the hot cache is not bounded (nothing is safe to evict)")
		}
		return nil, nil
	}
	if o.cacheMaxMB < 0 {
		return nil, errors.New("--cache-max-mb must not be negative")
	}
	ctx := context.Background()
	blob, err := o.blob(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.AttachRemote(blob, store.RemoteOptions{Files: files, Logger: logger}); err != nil {
		return nil, err
	}
	return store.NewUploader(db, store.UploaderOptions{Logger: logger, CacheMaxBytes: o.cacheMaxMB << 20, Import: true})
}

// flushTimeout bounds what a stopping process spends sending its outbox.
const flushTimeout = 30 * time.Second

// shutdownOutbox stops the uploader and sends what is pending, for a while.
func shutdownOutbox(up *store.Uploader, logger *slog.Logger) {
	if up == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	err := up.Shutdown(ctx)
	st, serr := up.Stats(context.Background())
	switch {
	case serr != nil:
		logger.Error("Cannot read the outbox", "err", serr)
	case st.Pending > 0:
		logger.Warn("Stopping with uploads pending; they are sent at the next start on this data directory",
			"pending", st.Pending, "err", err)
	default:
		logger.Info("Uploader stopped; nothing pending", "uploaded", st.Uploaded, "uploaded_bytes", st.UploadedBytes)
	}
}

// s3Status is the S3 tier's part of the processor status and metrics: the whole of
// store.OutboxStats under "s3", and its numbers flat (metrics keep numbers only) under
// "s3_*". Nil without a bucket.
func s3Status(up *store.Uploader) map[string]any {
	if up == nil {
		return nil
	}
	st, err := up.Stats(context.Background())
	if err != nil {
		return map[string]any{"s3_error": err.Error()}
	}
	return map[string]any{
		"s3":                           st,
		"s3_outbox_pending":            st.Pending,
		"s3_outbox_oldest_age_seconds": st.OldestAgeSeconds,
		"s3_failing":                   st.State == store.UploaderRetrying || st.State == store.UploaderForbidden,
		"s3_forbidden":                 st.State == store.UploaderForbidden,
		"s3_uploaded":                  st.Uploaded,
		"s3_evicted":                   st.Evicted,
		"s3_read_through":              st.ReadThrough.Records,
	}
}

// joinStatus merges the status parts of the optional components; nil when all are nil.
func joinStatus(parts ...map[string]any) map[string]any {
	var out map[string]any
	for _, p := range parts {
		for k, v := range p {
			if out == nil {
				out = map[string]any{}
			}
			out[k] = v
		}
	}
	return out
}
