package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/idp/idp/store"
)

// Errors of Submit: the input is refused and no document is made.
var (
	// ErrTooLarge: the file is over MaxFileBytes.
	ErrTooLarge = errors.New("file too large")
	// ErrNotPDF: the file does not start like a PDF, or is empty.
	ErrNotPDF = errors.New("not a PDF")
)

// SubmitOptions modify Submit.
type SubmitOptions struct {
	Priority store.Priority
	// Front puts the document ahead of everything of its priority.
	Front bool
	// AutoPriority ignores Priority and decides: high for a loan document (by its file name
	// or the text layer of its first pages), normal otherwise. The priority is raised again
	// after OCR if the text shows a loan document.
	AutoPriority bool
	// Password opens an encrypted PDF. It is kept in memory only (see SetPassword).
	Password string
}

// Submitted is the outcome of Submit.
type Submitted struct {
	Document store.Document
	// Existing is true when the same bytes were submitted before: the existing document is
	// returned and nothing is queued again.
	Existing bool
}

// Submit stores an uploaded file under the data directory and queues it. The file is
// streamed to disk and hashed on the way; the same bytes always make the same document.
func (p *Processor) Submit(ctx context.Context, fileName string, r io.Reader, opts SubmitOptions) (Submitted, error) {
	var out Submitted
	tmpDir := filepath.Join(filepath.Dir(p.db.Path()), "tmp")
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return out, err
	}
	tmp, err := os.CreateTemp(tmpDir, "upload-*")
	if err != nil {
		return out, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	h := sha256.New()
	head := &headBuffer{max: 1024}
	limited := io.LimitReader(r, p.cfg.MaxFileBytes+1)
	n, err := io.Copy(io.MultiWriter(tmp, h, head), limited)
	if err != nil {
		return out, fmt.Errorf("read upload: %w", err)
	}
	if n > p.cfg.MaxFileBytes {
		return out, fmt.Errorf("%w: over %d bytes (--max-file-mb)", ErrTooLarge, p.cfg.MaxFileBytes)
	}
	if err := SniffPDF(head.Bytes()); err != nil {
		return out, err
	}
	if err := tmp.Sync(); err != nil {
		return out, err
	}
	if err := tmp.Close(); err != nil {
		return out, err
	}
	if opts.AutoPriority {
		opts.Priority = store.PriorityNormal
		if p.sniffLoan(ctx, tmp.Name(), fileName, opts.Password) {
			opts.Priority = store.PriorityHigh
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	id := store.DocID(sum)
	if err := p.ready(ctx); err != nil {
		return out, err
	}
	p.adopt(ctx, id) // the same bytes uploaded to another node are that document
	if err := p.shareOriginal(ctx, id, tmp.Name(), sum, filepath.Base(fileName)); err != nil {
		return out, err
	}
	p.keys.set(id, opts.Password)
	key := store.OriginalKey(id)
	if _, err := os.Stat(p.files.Path(key)); errors.Is(err, os.ErrNotExist) {
		f, err := os.Open(tmp.Name())
		if err != nil {
			return out, err
		}
		err = p.files.Put(ctx, key, f, map[string]string{"sha256": sum, "file_name": fileName})
		f.Close()
		if err != nil {
			return out, fmt.Errorf("store upload: %w", err)
		}
	}
	err = p.db.Update(ctx, func(tx *store.Tx) error {
		d, err := tx.Document(id)
		if err == nil {
			out = Submitted{Document: d, Existing: true}
			if d.Status == store.StatusCompleted && !p.current(tx, d) {
				// Done under another configuration: run it again, reusing what is current.
				d.Status, d.Attempts, d.Stage = store.StatusQueued, 0, ""
				if err := tx.PutDocument(&d); err != nil {
					return err
				}
				out.Document = d
				return p.queue.Push(tx, id, min(opts.Priority, d.Priority), store.PushOptions{Front: opts.Front})
			}
			// A document waiting in the queue moves up if asked to; one that is done or
			// failed stays as it is (reprocess it to run it again).
			if d.Status == store.StatusQueued && (opts.Front || opts.Priority < d.Priority) {
				if opts.Priority < d.Priority {
					d.Priority = opts.Priority
					if err := tx.PutDocument(&d); err != nil {
						return err
					}
				}
				if !p.queue.InFlight(tx, id) {
					return p.queue.Push(tx, id, d.Priority, store.PushOptions{Front: opts.Front})
				}
			}
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		d = store.Document{ID: id, FileName: filepath.Base(fileName), SHA256: sum, Size: n, Priority: opts.Priority, Status: store.StatusQueued}
		if err := tx.PutDocument(&d); err != nil {
			return err
		}
		out = Submitted{Document: d}
		return p.queue.Push(tx, id, opts.Priority, store.PushOptions{Front: opts.Front})
	})
	if err != nil {
		return out, err
	}
	if !out.Existing {
		p.log.Info("Queued "+id, "doc_id", id, "file", out.Document.FileName, "priority", opts.Priority, "bytes", n)
		p.publish(Event{Type: EventQueued, DocID: id, Status: string(store.StatusQueued)})
	}
	p.Wake()
	return out, nil
}

// SniffPDF checks that a file starts like a PDF: "%PDF-" within its first 1024 bytes, as
// readers allow.
func SniffPDF(head []byte) error {
	if len(head) == 0 {
		return fmt.Errorf("%w: the file is empty", ErrNotPDF)
	}
	if !bytes.Contains(head[:min(len(head), 1024)], []byte("%PDF-")) {
		shown := head[:min(len(head), 8)]
		return fmt.Errorf("%w: no %%PDF- header (it starts with %q)", ErrNotPDF, shown)
	}
	return nil
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	buf bytes.Buffer
	max int
}

func (h *headBuffer) Write(b []byte) (int, error) {
	if room := h.max - h.buf.Len(); room > 0 {
		h.buf.Write(b[:min(room, len(b))])
	}
	return len(b), nil
}

func (h *headBuffer) Bytes() []byte { return h.buf.Bytes() }
