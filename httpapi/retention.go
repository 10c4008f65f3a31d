package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/idp/idp/pipeline"
)

// sweep runs one retention sweep now (`idp cache gc` through the server): ?retain=90d, or the
// server's --retain; ?dry_run=true lists what it would delete.
func (s *server) sweep(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	retain := s.Processor.Config().Retain
	if v := q.Get("retain"); v != "" {
		d, err := pipeline.ParseRetention(v)
		if err != nil {
			return fmt.Errorf("%w: %w", errBadRequest, err)
		}
		retain = d
	}
	if retain <= 0 {
		return fmt.Errorf("%w: the server has no --retain: give retain=, e.g. retain=90d", errBadRequest)
	}
	dry := false
	if v := q.Get("dry_run"); v != "" {
		var err error
		if dry, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%w: dry_run must be true or false", errBadRequest)
		}
	}
	start := time.Now()
	docs, err := s.Processor.Sweep(r.Context(), pipeline.SweepOptions{Retain: retain, DryRun: dry})
	s.audit(r, auditSweep, "retain", pipeline.FormatRetention(retain), "dry_run", dry, "documents", len(docs),
		"duration_ms", time.Since(start).Milliseconds())
	if docs == nil {
		docs = []pipeline.Swept{}
	}
	out := map[string]any{"success": true, "retain": pipeline.FormatRetention(retain), "dry_run": dry, "documents": docs}
	if err != nil {
		if len(docs) == 0 {
			return err
		}
		// Some were deleted: say which, with the failure.
		s.log.Error("Retention sweep partly failed", "deleted", len(docs), "err", err)
		out["success"], out["error"] = false, err.Error()
		replyJSON(w, http.StatusInternalServerError, out)
		return nil
	}
	replyJSON(w, http.StatusOK, out)
	return nil
}
