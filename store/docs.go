package store

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Status is where a document stands as a whole.
type Status string

// Document statuses.
const (
	// StatusQueued: waiting in the queue (new, re-queued, or waiting out a retry delay).
	StatusQueued Status = "queued"
	// StatusProcessing: a worker holds it.
	StatusProcessing Status = "processing"
	// StatusCompleted: every stage finished; all results are cached.
	StatusCompleted Status = "completed"
	// StatusFailed: it will not be retried without a reprocess; Error says why.
	StatusFailed Status = "failed"
)

// Priority orders the queue: lower runs first.
type Priority uint8

// Priorities.
const (
	PriorityHigh   Priority = 0 // loan documents, detected on upload
	PriorityNormal Priority = 1
	PriorityLow    Priority = 2 // batch
)

// MaxPriority is the lowest priority there is.
const MaxPriority = PriorityLow

// AttemptError records why one attempt ended badly.
type AttemptError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
}

// PageFailure is a page that could not be read, and why; its document goes on without it.
type PageFailure struct {
	Page   int    `json:"page"`
	Reason string `json:"reason"`
}

// Document is the metadata of one uploaded PDF.
type Document struct {
	ID         string         `json:"id"`
	FileName   string         `json:"file_name"`
	SHA256     string         `json:"sha256"`
	Size       int64          `json:"size"`
	Pages      int            `json:"pages"`
	Priority   Priority       `json:"priority"`
	Status     Status         `json:"status"`
	Stage      string         `json:"stage,omitempty"`
	Attempts   int            `json:"attempts"`
	Error      string         `json:"error,omitempty"`
	Errors     []AttemptError `json:"errors,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	StartedAt  *time.Time     `json:"started_at,omitempty"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	// Warnings are what was wrong with the file without stopping it (it was damaged and
	// repaired, a page was read at a lower resolution), as stage 1 last found them.
	Warnings []string `json:"warnings,omitempty"`
	// FailedPages are the pages stage 1 could not read (quarantined), with why.
	FailedPages []PageFailure `json:"failed_pages,omitempty"`
	// ResultsVersion names the configuration that made a completed document's results (the
	// processor sets it); empty when unknown (completed by an older idp, or imported).
	ResultsVersion string `json:"results_version,omitempty"`
}

// idLen is the length of the only shape of document id the server makes: the first 24
// lowercase hex digits of the file's SHA-256, so the same bytes are always the same document
// and an id is safe in a path or a key.
const idLen = 24

// DocID is the id of a document whose SHA-256 (hex) is sum.
func DocID(sha256Hex string) string { return sha256Hex[:idLen] }

// ValidID reports whether id has the server's own id format.
// It is on every request's path: a loop, not a regular expression.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkID(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%q: %w", id, ErrInvalidID)
	}
	return nil
}

// Document reads one document.
func (tx *Tx) Document(id string) (Document, error) {
	var d Document
	if err := checkID(id); err != nil {
		return d, err
	}
	b := tx.bucket(bucketDocs)
	if b == nil {
		return d, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	v := b.Get([]byte(id))
	if v == nil {
		return d, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	if err := json.Unmarshal(v, &d); err != nil {
		return d, fmt.Errorf("decode document %s: %w", id, err)
	}
	return d, nil
}

// PutDocument writes d, stamping UpdatedAt (and CreatedAt when new).
func (tx *Tx) PutDocument(d *Document) error {
	if err := checkID(d.ID); err != nil {
		return err
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = tx.now
	}
	// What came from the shared tier keeps the time its maker stamped: it orders the copies.
	if !tx.local || d.UpdatedAt.IsZero() {
		d.UpdatedAt = tx.now
	}
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode document %s: %w", d.ID, err)
	}
	b := tx.bucket(bucketDocs)
	var old *Document
	if ov := b.Get([]byte(d.ID)); ov != nil && tx.writeThrough() {
		old = &Document{}
		if err := json.Unmarshal(ov, old); err != nil {
			old = nil
		}
	}
	if err := tx.writeDocument(d, v); err != nil {
		return err
	}
	if err := tx.shareKey(SharedDocument, d.ID, ""); err != nil {
		return err
	}
	if !tx.writeThrough() {
		return tx.markUnsynced()
	}
	// Write-through: a new document's original, and its metadata object whenever what it
	// says (name, pages, status) changes.
	if old == nil {
		if err := tx.enqueue(opOriginal, OriginalKey(d.ID), d.ID); err != nil {
			return err
		}
	}
	if old == nil || old.Status != d.Status || old.Pages != d.Pages || old.FileName != d.FileName {
		return tx.enqueue(opDocMeta, DocMetaKey(d.ID), d.ID)
	}
	return nil
}

// writeDocument stores d's encoding v, and moves its counts and index entries with it.
func (tx *Tx) writeDocument(d *Document, v []byte) error {
	old, err := tx.storedIndexed(d.ID)
	if err != nil {
		return err
	}
	cur := indexedOf(d)
	if err := tx.reindex(d.ID, old, &cur); err != nil {
		return err
	}
	return tx.bucket(bucketDocs).Put([]byte(d.ID), v)
}

// UpdateDocument reads id, applies fn and writes it back.
func (tx *Tx) UpdateDocument(id string, fn func(d *Document) error) (Document, error) {
	d, err := tx.Document(id)
	if err != nil {
		return d, err
	}
	if err := fn(&d); err != nil {
		return d, err
	}
	return d, tx.PutDocument(&d)
}

// Documents lists every document, newest first. It reads them all: DocumentsPage and
// DocumentCounts are what a listing or a status wants.
func (tx *Tx) Documents() ([]Document, error) {
	var out []Document
	b := tx.bucket(bucketDocs)
	if b == nil {
		return nil, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var d Document
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode document %s: %w", k, err)
		}
		out = append(out, d)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// DeleteDocument removes the document record, its progress, its checkpoints and its cached
// records (and with S3, their remote copies). Its place in the queue is the queue's: the
// caller removes it with Queue.Remove in the same transaction.
func (tx *Tx) DeleteDocument(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	old, err := tx.storedIndexed(id)
	if err != nil {
		return err
	}
	if old != nil {
		if err := tx.reindex(id, old, nil); err != nil {
			return err
		}
	}
	if _, err := countDelete(tx.bucket(bucketProgress), []byte(id+"/")); err != nil {
		return err
	}
	if _, err := tx.DeleteCheckpoints(CheckpointPrefix(id)); err != nil {
		return err
	}
	for _, prefix := range DocCachePrefixes(id) {
		if _, err := tx.DeleteCache(prefix); err != nil {
			return err
		}
	}
	if tx.writeThrough() {
		if err := tx.unqueue(OriginalKey(id)); err != nil {
			return err
		}
		if err := tx.unqueue(DocMetaKey(id)); err != nil {
			return err
		}
		if err := tx.dropRemotePrefix(DocumentPrefix(id)); err != nil {
			return err
		}
	}
	if b := tx.bucket(bucketOpened); b != nil {
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
	}
	if err := tx.shareKey(SharedDropDocument, id, ""); err != nil {
		return err
	}
	return tx.bucket(bucketDocs).Delete([]byte(id))
}
