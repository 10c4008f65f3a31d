package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/idp/idp/store"
)

// events streams server-sent events: every document's (GET /api/events) or one document's
// (GET /api/document/{doc_id}/events) stage changes, pages done, completions and failures.
// A document stream starts with its current status; a comment line every 15 seconds keeps
// proxies from closing an idle stream.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("doc_id")
	if id != "" {
		if !store.ValidID(id) {
			s.fail(w, r, store.ErrInvalidID)
			return
		}
		if _, err := s.Processor.Status(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	rc := http.NewResponseController(w)
	// A stream outlives the server's write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	events, unsubscribe := s.Processor.Broker().Subscribe(512)
	defer unsubscribe()
	seq := 0
	send := func(kind string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		seq++
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, kind, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if id != "" {
		st, err := s.Processor.Status(r.Context(), id)
		if err != nil || send("status", st) != nil {
			return
		}
	} else if send("hello", map[string]any{"time": time.Now().UTC()}) != nil {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if id != "" && ev.DocID != id {
				continue
			}
			if send(ev.Type, ev) != nil {
				return
			}
		}
	}
}
