// Package httpapi serves idp's HTTP API (the product's contract, uploads, listings,
// server-sent events, health and metrics) and its embedded web UI.
//
// It imports pipeline, stage and store, and no engine.
package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
)

// Deps are what the handlers need.
type Deps struct {
	Processor *pipeline.Processor
	DB        *store.DB
	// Token, when set, is required as "Authorization: Bearer <token>" on every /api call.
	Token string
	// Ready reports whether the server may answer the API: false until the resume of
	// in-flight work is done.
	Ready *atomic.Bool
	// MaxUploadBytes bounds one upload request (all its files).
	MaxUploadBytes int64
	// Extra reports more state for the processor status (for example the S3 outbox and the
	// LLM circuit breaker); nil for none.
	Extra   func() map[string]any
	Version string
	Logger  *slog.Logger
	// AnswerCacheBytes bounds the encoded cached-data answers kept in memory (default 64 MiB).
	AnswerCacheBytes int64
	// NodeID, with several nodes, labels every metric (node="..."); empty on one node.
	NodeID string
}

type server struct {
	Deps
	log *slog.Logger
	// auditLog records who changed what (audit.go).
	auditLog *slog.Logger
	answers  *answers
	health   *answer
}

// NewHandler returns the whole HTTP surface of idp.
func NewHandler(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Ready == nil {
		d.Ready = &atomic.Bool{}
		d.Ready.Store(true)
	}
	if d.MaxUploadBytes <= 0 {
		d.MaxUploadBytes = d.Processor.Config().MaxFileBytes*4 + 1<<20
	}
	if d.AnswerCacheBytes <= 0 {
		d.AnswerCacheBytes = 64 << 20
	}
	s := &server{Deps: d, log: d.Logger.With("component", "http"), auditLog: d.Logger.With("component", "audit"),
		answers: newAnswers(d.AnswerCacheBytes)}
	health, err := json.Marshal(map[string]any{"success": true, "status": "ok", "version": d.Version})
	if err != nil {
		panic(err) // a map of strings and a bool always encodes
	}
	s.health = newAnswer(0, append(health, '\n'))
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.apiOnly(h)) }

	// The contract of the product's description.
	api("GET /api/document/{doc_id}/background-status", s.doc(s.backgroundStatus))
	api("POST /api/document/{doc_id}/force-background-processing", s.doc(s.force))
	api("GET /api/background-processor/status", s.errs(s.processorStatus))
	api("POST /api/background-processor/restart", s.errs(s.restart))
	api("GET /api/document/{doc_id}/page/{page_num}/cached-data", s.doc(s.cachedData))
	api("GET /api/document/{doc_id}/page/{page_num}/extract", s.doc(s.extract))
	api("GET /api/document/{doc_id}/account/{account_index}/page/{page_num}/data", s.doc(s.accountPage))

	// Beyond the contract.
	api("POST /api/documents", s.upload)
	api("GET /api/documents", s.list)
	api("GET /api/document/{doc_id}", s.doc(s.document))
	api("DELETE /api/document/{doc_id}", s.doc(s.delete))
	api("GET /api/document/{doc_id}/result", s.doc(s.result))
	api("GET /api/document/{doc_id}/page/{page_num}/image", s.doc(s.pageImage))
	api("POST /api/document/{doc_id}/reprocess", s.doc(s.reprocess))
	api("GET /api/events", s.events)
	api("GET /api/document/{doc_id}/events", s.events)
	api("GET /api/backup", s.errs(s.backup))
	api("POST /api/retention/sweep", s.errs(s.sweep))
	mux.HandleFunc("GET /api/openapi.json", s.openAPI)
	mux.Handle("/api/", s.apiOnly(func(w http.ResponseWriter, r *http.Request) {
		replyError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	}))

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics())
	mux.Handle("/", uiHandler())
	return s.recoverer(mux)
}

// apiOnly guards an API handler: 503 until the server is ready, 401 without the token.
func (s *server) apiOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			s.auditDenial(r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="idp"`)
			replyError(w, http.StatusUnauthorized, "missing or wrong API token")
			return
		}
		if !s.Ready.Load() {
			w.Header().Set("Retry-After", "2")
			replyError(w, http.StatusServiceUnavailable, "not ready: resuming interrupted work")
			return
		}
		h(w, r)
	})
}

// authorized compares the bearer token in constant time. EventSource cannot set headers, so
// the event streams also take it as ?access_token=.
func (s *server) authorized(r *http.Request) bool {
	if s.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok && strings.HasSuffix(r.URL.Path, "/events") {
		got, ok = r.URL.Query().Get("access_token"), true
	}
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.Token)) == 1
}

func (s *server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("Handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				replyError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		// Asked first: the arguments of a log call are made even when the level drops it,
		// and this runs on every request.
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		h.ServeHTTP(w, r)
		s.log.Debug("HTTP", "method", r.Method, "path", r.URL.Path, "duration_ms", time.Since(start).Milliseconds())
	})
}

// healthz answers the same bytes every time: encoded once.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) { s.health.write(w, r) }

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.Ready.Load() {
		replyJSON(w, http.StatusServiceUnavailable, map[string]any{"success": false, "ready": false, "error": "resuming interrupted work"})
		return
	}
	replyJSON(w, http.StatusOK, map[string]any{"success": true, "ready": true})
}
