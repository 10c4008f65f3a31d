// Package s3 is the blob tier in an S3 bucket, AWS or an S3-compatible server (versitygw,
// MinIO, Ceph), through aws-sdk-go-v2. It implements store.Blob; SDK errors are mapped here,
// at the edge, to fs.ErrNotExist, store.ErrForbidden and store.ErrNoBucket, and no SDK type
// leaves the package. It imports nothing of idp but store.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/idp/idp/store"
)

// Config configures New. Credentials come from the standard AWS chain only
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, SSO, an
// instance role), never from here.
type Config struct {
	// Bucket is required.
	Bucket string
	// Prefix is put before every key ("idp/prod" stores "idp/prod/page_data/..."). Optional.
	Prefix string
	// Endpoint is the URL of an S3-compatible server (versitygw, MinIO, Ceph); empty means
	// AWS. With an endpoint, request checksums are computed and response checksums validated
	// only when an operation requires them: the SDK's default CRC32 trailers break some
	// S3-compatible servers.
	Endpoint string
	// PathStyle addresses the bucket as endpoint/bucket/key rather than bucket.endpoint/key
	// (most S3-compatible servers want it).
	PathStyle bool
	// Region overrides AWS_REGION and the profile's region; with neither, us-east-1.
	Region string
	// Timeout bounds one call: Stat, Delete and each List page as a whole; Put and Get as a
	// stall (no byte moved for this long), so a large original is not cut off while it
	// flows. Zero means 30s.
	Timeout time.Duration
	// MaxAttempts is the SDK retryer's tries per call (transient errors only: throttling,
	// 5xx, a dropped connection). Zero means 3.
	MaxAttempts int
	// MaxBackoff caps the SDK retryer's wait between tries. Zero means 2s.
	MaxBackoff time.Duration
	// HTTPClient replaces the SDK's HTTP client (tests count requests with it).
	HTTPClient *http.Client
}

// Blob is a store.Blob in an S3 bucket (AWS or an S3-compatible server) under an optional prefix.
// SDK error types never leave it: a missing key is fs.ErrNotExist, refused credentials
// store.ErrForbidden, a missing bucket store.ErrNoBucket.
type Blob struct {
	client  *awss3.Client
	bucket  string
	prefix  string // "" or ends with "/"
	timeout time.Duration
}

var _ store.Blob = (*Blob)(nil)

// New makes the client. It does no I/O beyond reading the AWS configuration files, so
// an unreachable server or bad credentials show up on the first call, not here.
func New(ctx context.Context, c Config) (*Blob, error) {
	if c.Bucket == "" {
		return nil, errors.New("s3: a bucket is required")
	}
	prefix := strings.Trim(c.Prefix, "/")
	if prefix != "" {
		if err := store.CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("s3 prefix: %w", err)
		}
		prefix += "/"
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 2 * time.Second
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return awsretry.NewStandard(func(o *awsretry.StandardOptions) {
				o.MaxAttempts = c.MaxAttempts
				o.MaxBackoff = c.MaxBackoff
			})
		}),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTPClient))
	}
	if c.Endpoint != "" {
		opts = append(opts,
			config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %s", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
	})
	return &Blob{client: client, bucket: c.Bucket, prefix: prefix, timeout: c.Timeout}, nil
}

// String names the bucket and prefix for logs.
func (s *Blob) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *Blob) objectKey(key string) string { return s.prefix + key }

// Put implements store.Blob. A body that is not an io.ReadSeeker is read into memory first (the
// request is signed over its content, and a retry must send it again).
func (s *Blob) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	body, ok := r.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("s3 put %s: read body: %w", key, err)
		}
		body = bytes.NewReader(b)
	}
	ctx, w := newWatchdog(ctx, s.timeout)
	defer w.stop()
	in := &awss3.PutObjectInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(s.objectKey(key)),
		Body:     &watchedSeeker{ReadSeeker: body, w: w},
		Metadata: meta,
	}
	if ct := contentType(key); ct != "" {
		in.ContentType = aws.String(ct)
	}
	_, err := s.client.PutObject(ctx, in)
	return s3Error(ctx, "put", key, err)
}

// Get implements store.Blob. The call's timeout covers the body too, as a stall: the body must keep
// flowing; closing it releases the request.
func (s *Blob) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	ctx, w := newWatchdog(ctx, s.timeout)
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		w.stop()
		return nil, s3Error(ctx, "get", key, err)
	}
	return &watchedBody{ctx: ctx, rc: out.Body, w: w, key: key}, nil
}

// Stat implements store.Blob. Metadata keys come back in lower case.
func (s *Blob) Stat(ctx context.Context, key string) (store.BlobInfo, error) {
	if err := store.CheckKey(key); err != nil {
		return store.BlobInfo{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return store.BlobInfo{}, s3Error(ctx, "stat", key, err)
	}
	info := store.BlobInfo{Key: key, Size: aws.ToInt64(out.ContentLength), Metadata: out.Metadata}
	if out.LastModified != nil {
		info.ModTime = *out.LastModified
	}
	return info, nil
}

// List implements store.Blob. S3 lists keys in byte order, which is the order of Go strings.
// Metadata is empty (a listing does not carry it).
func (s *Blob) List(ctx context.Context, prefix string, fn func(store.BlobInfo) error) error {
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)}
	pages := awss3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		pctx, cancel := context.WithTimeout(ctx, s.timeout)
		page, err := pages.NextPage(pctx)
		cancel()
		if err != nil {
			return s3Error(pctx, "list", prefix, err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if store.CheckKey(key) != nil || strings.HasSuffix(key, "/") {
				continue // a "directory" marker or a key we could not have written
			}
			info := store.BlobInfo{Key: key, Size: aws.ToInt64(o.Size)}
			if o.LastModified != nil {
				info.ModTime = *o.LastModified
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements store.Blob. S3 answers a delete of a missing key with success.
func (s *Blob) Delete(ctx context.Context, key string) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	return s3Error(ctx, "delete", key, err)
}

// CreateBucket makes the bucket; one that exists and is ours is not an error. For tests and
// first setup of an S3-compatible server.
func (s *Blob) CreateBucket(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(s.bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if errors.As(err, &owned) {
		return nil
	}
	return s3Error(ctx, "create bucket", s.bucket, err)
}

func contentType(key string) string {
	switch path.Ext(key) {
	case ".json":
		return "application/json"
	case ".pdf":
		return "application/pdf"
	}
	return ""
}

// s3Error turns an SDK error into one of ours: the sentinel a caller can test, and the SDK's
// text for people. No SDK type is wrapped.
func s3Error(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(context.Cause(ctx), errStalled):
		return fmt.Errorf("s3 %s %s: %w (no byte moved for the call's time limit)", op, key, context.DeadlineExceeded)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("s3 %s %s: %w", op, key, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("s3 %s %s: %w (the call's time limit)", op, key, context.DeadlineExceeded)
	}
	code, status := "", 0
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	var sentinel error
	switch {
	case code == "NoSuchKey" || code == "NotFound" || (status == http.StatusNotFound && code != "NoSuchBucket"):
		sentinel = fs.ErrNotExist
	case code == "NoSuchBucket":
		sentinel = store.ErrNoBucket
	case status == http.StatusForbidden || status == http.StatusUnauthorized || forbiddenCodes[code]:
		sentinel = store.ErrForbidden
	case strings.Contains(err.Error(), "get identity:"):
		// The credentials chain found nothing usable: no keys, an expired SSO session.
		sentinel = store.ErrForbidden
	}
	msg := err.Error()
	if sentinel == nil {
		return fmt.Errorf("s3 %s %s: %s", op, key, msg)
	}
	return fmt.Errorf("s3 %s %s: %w: %s", op, key, sentinel, msg)
}

var forbiddenCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"ExpiredToken": true, "InvalidToken": true, "TokenRefreshRequired": true,
	"AllAccessDisabled": true, "AccountProblem": true, "InvalidSecurity": true,
}

// errStalled is the cause of a watchdog's cancel.
var errStalled = errors.New("no progress within the time limit")

// watchdog cancels a call's context once no byte has moved for its limit. Put and Get use it
// so that every call has a time limit without a large object being cut off mid-flow.
type watchdog struct {
	limit  time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
	once   sync.Once
}

func newWatchdog(ctx context.Context, limit time.Duration) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{limit: limit, cancel: cancel}
	w.timer = time.AfterFunc(limit, func() { cancel(errStalled) })
	return ctx, w
}

func (w *watchdog) progress() { w.timer.Reset(w.limit) }

func (w *watchdog) stop() {
	w.once.Do(func() {
		w.timer.Stop()
		w.cancel(nil)
	})
}

type watchedSeeker struct {
	io.ReadSeeker
	w *watchdog
}

func (r *watchedSeeker) Read(p []byte) (int, error) {
	n, err := r.ReadSeeker.Read(p)
	if n > 0 {
		r.w.progress()
	}
	return n, err
}

type watchedBody struct {
	ctx context.Context
	rc  io.ReadCloser
	w   *watchdog
	key string
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.progress()
	}
	if err != nil && err != io.EOF {
		return n, s3Error(b.ctx, "get", b.key, err)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.w.stop()
	return err
}
