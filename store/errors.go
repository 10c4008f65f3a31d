package store

import "errors"

// Sentinel errors. Callers test them with errors.Is; the store wraps them with context.
var (
	// ErrNotFound means the document, record or key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrStale means a cached record exists but was made by another version of its stage; it
	// must be recomputed, never served as current.
	ErrStale = errors.New("cached record is stale")
	// ErrQueueEmpty means no queued item is due now.
	ErrQueueEmpty = errors.New("queue is empty")
	// ErrLocked means another process (usually a running `idp serve`) holds the database.
	ErrLocked = errors.New("database is held by another process")
	// ErrInvalidID means a document id is not of the server's own format.
	ErrInvalidID = errors.New("invalid document id")
	// ErrForbidden means the remote store refused us: HTTP 403 or 401, or credentials that
	// are missing, wrong or expired. Trying again will not help until someone fixes them.
	ErrForbidden = errors.New("remote store refused the credentials")
	// ErrNoBucket means the configured bucket does not exist.
	ErrNoBucket = errors.New("remote bucket does not exist")
)
