package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
)

// uploaded is one accepted file of an upload.
type uploaded struct {
	DocID    string `json:"doc_id"`
	FileName string `json:"file_name"`
	Status   string `json:"status"`
	Priority int    `json:"priority"`
	Existing bool   `json:"existing"`
}

// rejected is one refused file of an upload.
type rejected struct {
	FileName string `json:"file_name"`
	Error    string `json:"error"`
	Code     int    `json:"code"`
}

// upload takes one or many PDFs (multipart/form-data, any field name; an optional form
// field "priority" of 0, 1 or 2 before the files). Files are streamed to disk as they come.
// Without a priority, loan documents get 0. 201 when at least one file was accepted; else
// the status of the first refusal (400 not a PDF, 413 too large).
func (s *server) upload(w http.ResponseWriter, r *http.Request) {
	// A big upload may take longer than the server's read timeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(15 * time.Minute))
	r.Body = http.MaxBytesReader(w, r.Body, s.MaxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		replyError(w, http.StatusBadRequest, "want multipart/form-data with one or more PDF files: "+err.Error())
		return
	}
	opts := pipeline.SubmitOptions{AutoPriority: true}
	if r.URL.Query().Has("password") {
		// A query string ends up in proxies' and browsers' logs.
		replyError(w, http.StatusBadRequest, "send the password as a form field, not in the URL")
		return
	}
	if v := r.URL.Query().Get("priority"); v != "" {
		if opts, err = priorityOption(v); err != nil {
			replyError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	var accepted []uploaded
	var refused []rejected
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				refused = append(refused, rejected{Error: fmt.Sprintf("upload larger than %d bytes", s.MaxUploadBytes), Code: http.StatusRequestEntityTooLarge})
				break
			}
			replyError(w, http.StatusBadRequest, "bad multipart body: "+err.Error())
			return
		}
		if part.FileName() == "" {
			switch part.FormName() {
			case "priority":
				v, _ := io.ReadAll(io.LimitReader(part, 16))
				password := opts.Password
				if opts, err = priorityOption(string(v)); err != nil {
					replyError(w, http.StatusBadRequest, err.Error())
					return
				}
				opts.Password = password
			case "password":
				// For the encrypted PDFs that follow; kept in memory only, never echoed.
				v, _ := io.ReadAll(io.LimitReader(part, maxPassword))
				opts.Password = string(v)
			}
			part.Close()
			continue
		}
		acc, rej := s.submitPart(r, part, opts)
		part.Close()
		if rej != nil {
			s.audit(r, auditUpload, "file", rej.FileName, "refused", rej.Error)
			refused = append(refused, *rej)
			continue
		}
		s.audit(r, auditUpload, "doc_id", acc.DocID, "file", acc.FileName, "existing", acc.Existing, "priority", acc.Priority)
		accepted = append(accepted, acc)
	}
	if len(accepted) == 0 && len(refused) == 0 {
		replyError(w, http.StatusBadRequest, "no file in the upload")
		return
	}
	if len(accepted) == 0 {
		replyJSON(w, refused[0].Code, map[string]any{"success": false, "error": refused[0].Error, "rejected": refused})
		return
	}
	replyJSON(w, http.StatusCreated, map[string]any{"success": true, "documents": accepted, "rejected": refused})
}

func priorityOption(v string) (pipeline.SubmitOptions, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > int(store.MaxPriority) {
		return pipeline.SubmitOptions{}, fmt.Errorf("priority %q: want 0 (high), 1 (normal) or 2 (low)", v)
	}
	return pipeline.SubmitOptions{Priority: store.Priority(n)}, nil
}

func (s *server) submitPart(r *http.Request, part *multipart.Part, opts pipeline.SubmitOptions) (uploaded, *rejected) {
	name := part.FileName()
	sub, err := s.Processor.Submit(r.Context(), name, part, opts)
	if err != nil {
		code := http.StatusInternalServerError
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, pipeline.ErrNotPDF):
			code = http.StatusBadRequest
		case errors.Is(err, pipeline.ErrTooLarge), errors.As(err, &mbe):
			code = http.StatusRequestEntityTooLarge
		case errors.Is(err, pipeline.ErrUnavailable), errors.Is(err, pipeline.ErrBucketUnavailable):
			code = http.StatusServiceUnavailable
		default:
			s.log.Error("Upload failed", "file", name, "err", err)
		}
		return uploaded{}, &rejected{FileName: name, Error: err.Error(), Code: code}
	}
	d := sub.Document
	return uploaded{DocID: d.ID, FileName: d.FileName, Status: string(d.Status), Priority: int(d.Priority), Existing: sub.Existing}, nil
}

// docView is a document as the API shows it. Its id is "doc_id", as everywhere in the API;
// the document record's own "id" stays beside it as an alias for one release (deprecated).
type docView struct {
	DocID string `json:"doc_id"`
	store.Document
}

// docSummary is one document of a listing, with its stage bars: a list refresh is one request.
type docSummary struct {
	docView
	Stage    string                          `json:"stage"`
	Progress int                             `json:"progress"`
	Accounts int                             `json:"accounts"`
	Stages   map[string]pipeline.StageReport `json:"stages"`
}

// list pages through documents, newest first: ?status=completed&limit=50&offset=0. Its cost
// is that of the page (and the offset), not of the number of documents.
func (s *server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, offset := 50, 0
	var err error
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 500 {
			replyError(w, http.StatusBadRequest, "limit must be 1 to 500")
			return
		}
	}
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			replyError(w, http.StatusBadRequest, "offset must be 0 or more")
			return
		}
	}
	status := q.Get("status")
	switch store.Status(status) {
	case "", store.StatusQueued, store.StatusProcessing, store.StatusCompleted, store.StatusFailed:
	default:
		replyError(w, http.StatusBadRequest, "status must be queued, processing, completed or failed")
		return
	}
	docs, total, err := s.Processor.List(r.Context(), store.Status(status), offset, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]docSummary, 0, len(docs))
	for _, d := range docs {
		out = append(out, docSummary{docView: docView{DocID: d.Document.ID, Document: d.Document}, Stage: d.Status.Stage,
			Progress: d.Status.Progress, Accounts: len(d.Status.Accounts), Stages: d.Status.Stages})
	}
	replyJSON(w, http.StatusOK, map[string]any{"success": true, "total": total, "limit": limit, "offset": offset, "documents": out})
}

func (s *server) document(w http.ResponseWriter, r *http.Request, id string) error {
	var d store.Document
	err := s.DB.View(r.Context(), func(tx *store.Tx) error {
		var err error
		d, err = tx.Document(id)
		return err
	})
	if err != nil {
		return err
	}
	st, err := s.Processor.Status(r.Context(), id)
	if err != nil {
		return err
	}
	tokens, err := s.Processor.DocumentTokens(r.Context(), id)
	if err != nil {
		return err
	}
	replyJSON(w, http.StatusOK, map[string]any{"success": true, "document": docView{DocID: d.ID, Document: d}, "status": st,
		"accounts": st.Accounts, "tokens": tokens})
	return nil
}

func (s *server) delete(w http.ResponseWriter, r *http.Request, id string) error {
	if err := s.Processor.Delete(r.Context(), id); err != nil {
		return err
	}
	s.audit(r, auditDelete, "doc_id", id)
	replyJSON(w, http.StatusOK, map[string]any{"success": true, "deleted": id})
	return nil
}

func (s *server) result(w http.ResponseWriter, r *http.Request, id string) error {
	res, err := s.Processor.Result(r.Context(), id)
	if err != nil {
		return err
	}
	replyJSON(w, http.StatusOK, res)
	return nil
}

// pageImage renders a page as PNG (?dpi=, 30 to 200, default 100), cached on disk.
func (s *server) pageImage(w http.ResponseWriter, r *http.Request, id string) error {
	page, err := intParam(r, "page_num")
	if err != nil {
		return err
	}
	dpi := 100
	if v := r.URL.Query().Get("dpi"); v != "" {
		if dpi, err = strconv.Atoi(v); err != nil || dpi < 30 || dpi > 200 {
			return fmt.Errorf("%w: dpi must be 30 to 200", errBadRequest)
		}
	}
	png, err := s.Processor.PageImage(r.Context(), id, page, dpi)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	_, _ = w.Write(png)
	return nil
}

// maxPassword bounds a password form field.
const maxPassword = 1024

// reprocess drops cached results (all, or ?from_stage=NAME onwards) and queues the document
// at the front of high priority. A form field "password" in the body opens an encrypted PDF
// (kept in memory only, never echoed).
func (s *server) reprocess(w http.ResponseWriter, r *http.Request, id string) error {
	from := r.URL.Query().Get("from_stage")
	if r.URL.Query().Has("password") {
		return fmt.Errorf("%w: send the password as a form field, not in the URL", errBadRequest)
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if password := r.PostFormValue("password"); password != "" {
		if len(password) > maxPassword {
			return fmt.Errorf("%w: the password is longer than %d bytes", errBadRequest, maxPassword)
		}
		if _, err := s.Processor.Status(r.Context(), id); err != nil {
			return err
		}
		s.Processor.SetPassword(id, password)
	}
	if err := s.Processor.Reprocess(r.Context(), id, from); err != nil {
		return err
	}
	s.audit(r, auditReprocess, "doc_id", id, "from_stage", from)
	replyJSON(w, http.StatusOK, map[string]any{"success": true, "doc_id": id, "from_stage": from, "status": store.StatusQueued})
	return nil
}

func (s *server) backgroundStatus(w http.ResponseWriter, r *http.Request, id string) error {
	st, err := s.Processor.Status(r.Context(), id)
	if err != nil {
		return err
	}
	replyJSON(w, http.StatusOK, map[string]any{"success": true, "status": st})
	return nil
}

func (s *server) force(w http.ResponseWriter, r *http.Request, id string) error {
	res, err := s.Processor.Force(r.Context(), id)
	if err != nil {
		return err
	}
	s.audit(r, auditForce, "doc_id", id, "status", res.Status)
	replyJSON(w, http.StatusOK, map[string]any{"success": true, "doc_id": id, "status": res.Status,
		"queue_position": res.QueuePosition, "message": res.Message})
	return nil
}

func (s *server) processorStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Processor.ProcessorStatus(r.Context())
	if err != nil {
		return err
	}
	out := map[string]any{"success": true, "status": st}
	if s.Extra != nil {
		for k, v := range s.Extra() {
			out[k] = v
		}
	}
	replyJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) restart(w http.ResponseWriter, r *http.Request) error {
	// The new pool outlives this request.
	if err := s.Processor.Restart(context.WithoutCancel(r.Context())); err != nil {
		return err
	}
	s.audit(r, auditRestart)
	replyJSON(w, http.StatusOK, map[string]any{"success": true, "message": "workers restarted; the queue is kept"})
	return nil
}
