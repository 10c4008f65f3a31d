package httpapi

import (
	"io"
	"net/http"
)

// Several nodes: a page to extract now is the work of the node that holds the document, which
// has it open and its pages under way. The node asked forwards the request there, once (the
// header stops a second hop), and does the work itself when that node cannot be reached.

const forwardedHeader = "X-Idp-Forwarded-By"

// forwardToHolder answers r from the node that holds id, and reports whether it did.
func (s *server) forwardToHolder(w http.ResponseWriter, r *http.Request, id string) bool {
	if r.Header.Get(forwardedHeader) != "" {
		return false
	}
	addr := s.Processor.HolderAddr(r.Context(), id)
	if addr == "" {
		return false
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addr+r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	// Every node of a cluster serves the same token.
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	req.Header.Set(forwardedHeader, s.NodeID)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.log.Warn("Cannot forward the page to the node that holds the document; extracting it here", "doc_id", id, "node_addr", addr, "err", err)
		return false
	}
	defer res.Body.Close()
	for _, h := range []string{"Content-Type", "ETag", "Cache-Control"} {
		if v := res.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set(forwardedHeader, addr)
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
	return true
}
