package httpapi

import (
	"net/http"
	"strings"
)

// Audited actions: what changes or takes away documents.
const (
	auditUpload    = "upload"
	auditDelete    = "delete"
	auditReprocess = "reprocess"
	auditForce     = "force"
	auditRestart   = "restart"
	auditBackup    = "backup"
	auditSweep     = "retention_sweep"
	auditDenied    = "denied"
)

// audit logs who did what: the action, the caller's address and whether the API token was
// used, with attrs (the document, the file). The token itself is never logged.
// X-Forwarded-For is logged as the caller sent it: behind a reverse proxy it names the
// client, but only the proxy's own address (remote_addr) is verified.
func (s *server) audit(r *http.Request, action string, attrs ...any) {
	args := make([]any, 0, 8+len(attrs))
	args = append(args, "action", action, "remote_addr", r.RemoteAddr, "token_used", s.Token != "")
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		args = append(args, "forwarded_for", xff)
	}
	args = append(args, attrs...)
	s.auditLog.Info("Audit: "+action, args...)
}

// auditDenial logs a refused call that would have changed something (or taken a backup);
// refused reads are not logged, so that a browser without the token does not flood the log.
func (s *server) auditDenial(r *http.Request) {
	if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/backup") {
		return
	}
	s.auditLog.Warn("Audit: denied", "action", auditDenied, "method", r.Method, "path", r.URL.Path,
		"remote_addr", r.RemoteAddr, "forwarded_for", r.Header.Get("X-Forwarded-For"),
		"token_sent", r.Header.Get("Authorization") != "")
}
