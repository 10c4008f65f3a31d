package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// backupWriteTime bounds sending one backup to the client (the server's write timeout is
// shorter, and a database can be large).
const backupWriteTime = time.Hour

// backup streams a consistent snapshot of the database (`idp backup` through the server).
// The snapshot is first written to an unlinked temporary file beside the database, so the
// read transaction lasts as long as a local copy, not as long as a slow client: a writer
// that must grow the database waits for it.
func (s *server) backup(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	f, err := os.CreateTemp(filepath.Dir(s.DB.Path()), ".backup-*.db")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	// Unlinked at once: the open file keeps its bytes, and a crash leaves nothing behind.
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	n, err := s.DB.Backup(r.Context(), f)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(backupWriteTime))
	name := "idp-" + start.UTC().Format("20060102T150405Z") + ".db"
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	sent, err := io.Copy(w, f)
	if err != nil {
		// The status is sent; the client sees a short body against Content-Length.
		s.log.Warn("Backup not sent whole", "sent", sent, "size", n, "err", err)
		return nil
	}
	s.audit(r, auditBackup, "bytes", n, "duration_ms", time.Since(start).Milliseconds())
	return nil
}
