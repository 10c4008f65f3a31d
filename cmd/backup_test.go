package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/httpapi"
	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// gatedExtractor is the rule extractor (same name and version, so its results are current
// for a real `idp serve`) that lets a number of pages through and then holds the rest until
// the gate opens.
type gatedExtractor struct {
	rules.Extractor
	left atomic.Int64
	open chan struct{}
}

func (g *gatedExtractor) Extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	if g.left.Add(-1) < 0 {
		select {
		case <-g.open:
		case <-ctx.Done():
			return stage.Extraction{}, context.Cause(ctx)
		}
	}
	return g.Extractor.Extract(ctx, in)
}

// apiStatus is GET /api/document/{id}/background-status's status.
func apiStatus(t *testing.T, base, token, id string) pipeline.DocStatus {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/document/"+id+"/background-status", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Success bool               `json:"success"`
		Status  pipeline.DocStatus `json:"status"`
	}
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &body); err != nil || !body.Success {
		t.Fatalf("background-status of %s: %d %s", id, res.StatusCode, b)
	}
	return body.Status
}

// TestBackupRestoreRoundTrip takes a backup through a running server while one document is
// half extracted and another waits, lets that server finish and delete a document, restores
// the backup, and starts `idp serve` on it: what was completed at the backup is completed
// (nothing computed again), the rest resumes where it stood and completes.
func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	backup := filepath.Join(dir, "backups", "idp.db")
	if err := os.MkdirAll(filepath.Dir(backup), 0o700); err != nil {
		t.Fatal(err)
	}
	var packets [4]*gen.Packet
	for i := range packets {
		packets[i] = idptest.Generate(t, gen.Options{Seed: uint64(60 + i), Accounts: 2})
	}
	const cachedBefore = 2 // pages of the third document extracted before the backup
	gate := &gatedExtractor{open: make(chan struct{})}
	gate.left.Store(int64(packets[0].Truth.TotalPages + packets[1].Truth.TotalPages + cachedBefore))

	// The first server: one worker; two documents at high priority, one normal, one low.
	e := idptest.NewEnv(t, data, pipeline.Config{Workers: 1, PageWorkers: 1}, func(d *pipeline.Deps) { d.Extractor = gate })
	ids := []string{
		e.Submit(t, "first.pdf", packets[0].PDF, store.PriorityHigh),
		e.Submit(t, "second.pdf", packets[1].PDF, store.PriorityHigh),
		e.Submit(t, "half.pdf", packets[2].PDF, store.PriorityNormal),
		e.Submit(t, "waiting.pdf", packets[3].PDF, store.PriorityLow),
	}
	const token = "backup-token"
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Deps{Processor: e.Proc, DB: e.DB, Token: token, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	e.Start(t)
	e.Wait(t, 2*time.Minute, ids[0], ids[1])
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := e.Proc.Status(ctx, ids[2])
		if err != nil {
			t.Fatal(err)
		}
		if st.Stages[stage.LLMExtraction].PagesProcessed == cachedBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the third document did not reach extraction: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}

	out, _, err := run(t, "backup", backup, "--data-dir", data, "--server", srv.URL, "--api-token", token)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 documents", "2 completed", "1 processing", "1 queued", "through the server"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q: %s", want, out)
		}
	}
	if _, _, err := run(t, "backup", filepath.Join(dir, "x.db"), "--data-dir", data, "--server", srv.URL); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("backup through the server without the token: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); !os.IsNotExist(err) {
		t.Errorf("a refused backup left a file: %v", err)
	}
	if _, _, err := run(t, "restore", backup, "--data-dir", data); err == nil || !strings.Contains(err.Error(), "running server holds") {
		t.Fatalf("restore while the server runs: %v", err)
	}

	// The server goes on after the backup: it finishes everything and deletes the first
	// document. The restore takes all of that back.
	close(gate.open)
	e.Wait(t, 2*time.Minute, ids[2], ids[3])
	if err := e.Proc.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	e.Close()

	out, _, err = run(t, "restore", backup, "--data-dir", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"restored", "4 documents", "pre-restore", "warning: 1 documents have no uploaded PDF", ids[0]} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q:\n%s", want, out)
		}
	}

	s := startServe(t, "--addr", "127.0.0.1:0", "--data-dir", data)
	for _, id := range ids[:2] {
		if st := apiStatus(t, s.url, "", id); st.Status != "completed" {
			t.Errorf("%s was completed at the backup; after the restore: %+v", id, st)
		}
	}
	for _, id := range ids[2:] {
		waitCompletedAPI(t, s.url, "", id, 3*time.Minute)
	}
	// The first document is served from the restored records, though its PDF is gone.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/document/"+ids[0]+"/result", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var result stage.Result
	err = json.NewDecoder(res.Body).Decode(&result)
	res.Body.Close()
	if err != nil || len(result.Pages) != packets[0].Truth.TotalPages {
		t.Errorf("result of the restored first document: %d pages, %v", len(result.Pages), err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	started := map[string]bool{}
	resumed := map[string]bool{}
	extracted := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case strings.HasPrefix(l.Msg, "Starting complete pipeline"):
			started[l.DocID] = true
		case strings.HasPrefix(l.Msg, "Resuming interrupted document"):
			resumed[l.DocID] = true
		case strings.HasPrefix(l.Msg, "Processed and cached page"):
			extracted[l.DocID]++
		}
	}
	if started[ids[0]] || started[ids[1]] {
		t.Errorf("a document completed at the backup ran again: %v", started)
	}
	if !resumed[ids[2]] {
		t.Errorf("the document being processed at the backup was not resumed: %v", resumed)
	}
	if want := packets[2].Truth.TotalPages - cachedBefore; extracted[ids[2]] != want {
		t.Errorf("%d pages of the half-extracted document extracted after the restore, want %d", extracted[ids[2]], want)
	}
	if want := packets[3].Truth.TotalPages; extracted[ids[3]] != want {
		t.Errorf("%d pages of the waiting document extracted, want %d", extracted[ids[3]], want)
	}
}

// TestBackupDirect: with no server on the data directory, backup reads the file itself; a
// missing database and a backup that cannot be written are clear errors.
func TestBackupDirect(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file, _ := writePacket(t, dir, 12)
	if _, _, err := run(t, "process", "--data-dir", data, "--log-level", "warn", file); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "b.db")
	out, _, err := run(t, "backup", backup, "--data-dir", data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "1 documents (1 completed)") || !strings.Contains(out, "read directly from") {
		t.Errorf("backup output: %s", out)
	}
	if info, err := store.VerifyBackup(backup); err != nil || info.Documents != 1 {
		t.Errorf("the backup: %+v %v", info, err)
	}
	st, _ := os.Stat(backup)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
	}
	if _, _, err := run(t, "backup", "-", "--data-dir", data); err != nil {
		t.Errorf("backup to stdout: %v", err)
	}
	if _, _, err := run(t, "backup", filepath.Join(dir, "b2.db"), "--data-dir", filepath.Join(dir, "nothing")); err == nil || !strings.Contains(err.Error(), "no database in") {
		t.Errorf("backup of a missing database: %v", err)
	}
	if _, _, err := run(t, "backup", filepath.Join(dir, "no", "such", "dir", "b.db"), "--data-dir", data); err == nil {
		t.Error("backup into a missing directory succeeded")
	}
	if _, _, err := run(t, "restore", file, "--data-dir", data); err == nil || !strings.Contains(err.Error(), "not an idp database") {
		t.Errorf("restore of a PDF: %v", err)
	}
}
