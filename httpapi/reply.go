package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// replyJSON writes v with status.
func replyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// replyError writes the contract's error shape.
func replyError(w http.ResponseWriter, status int, msg string) {
	replyJSON(w, status, map[string]any{"success": false, "error": msg})
}

// fail answers err with the status it deserves; unexpected errors are logged once, here.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrInvalidID), errors.Is(err, pipeline.ErrNotPDF), errors.Is(err, pipeline.ErrUnknownStage),
		errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound), errors.Is(err, pipeline.ErrPageRange):
		status = http.StatusNotFound
	case errors.Is(err, pipeline.ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, pipeline.ErrUnavailable), errors.Is(err, pipeline.ErrBucketUnavailable):
		status = http.StatusServiceUnavailable
	case stage.IsPermanent(err), errors.As(err, new(*stage.PageError)), errors.Is(err, stage.ErrEncrypted):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		return // the client went away
	}
	if status == http.StatusInternalServerError {
		s.log.Error("Request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		replyError(w, status, "internal error: "+err.Error())
		return
	}
	replyError(w, status, err.Error())
}

var errBadRequest = errors.New("bad request")

// errs adapts a handler that returns its error: fail answers it.
func (s *server) errs(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

// doc adapts a handler of one document: the {doc_id} of the path is checked first.
func (s *server) doc(h func(w http.ResponseWriter, r *http.Request, id string) error) http.HandlerFunc {
	return s.errs(func(w http.ResponseWriter, r *http.Request) error {
		id, err := docID(r)
		if err != nil {
			return err
		}
		if r.Method == http.MethodGet {
			s.Processor.Touch(id) // someone is looking at it: retention keeps it
		}
		return h(w, r, id)
	})
}

// docID reads and checks the {doc_id} of the path: only ids of the server's own format go
// further, so nothing in a path can name a file outside the data directory.
func docID(r *http.Request) (string, error) {
	id := r.PathValue("doc_id")
	if !store.ValidID(id) {
		return "", store.ErrInvalidID
	}
	return id, nil
}

func intParam(r *http.Request, name string) (int, error) {
	v, err := strconv.Atoi(r.PathValue(name))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%w: %s must be a whole number from 0", errBadRequest, name)
	}
	return v, nil
}
