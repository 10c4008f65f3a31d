package cmd

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp/idp/httpapi"
	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
)

// TestCommandsGoThroughTheServer: while a server holds the database, `idp status` and `idp
// reprocess` ask its API instead.
func TestCommandsGoThroughTheServer(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file, _ := writePacket(t, dir, 11)
	out, _, err := run(t, "process", "--data-dir", data, "--log-level", "warn", file)
	if err != nil {
		t.Fatal(err)
	}
	id := decodeResults(t, out)[0].DocID

	// A server holds the database.
	logger := slog.New(slog.DiscardHandler)
	e := idptest.NewEnv(t, data, pipeline.Config{PageWorkers: 1}, func(d *pipeline.Deps) { d.Logger = logger })
	proc, db := e.Proc, e.DB
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Deps{Processor: proc, DB: db, Token: "tok", Logger: logger}))
	defer srv.Close()

	out, _, err = run(t, "status", id, "--data-dir", data, "--server", srv.URL, "--api-token", "tok")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Status struct {
			Stage string `json:"stage"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Status.Stage != "completed" {
		t.Errorf("status through the server: %v\n%s", err, out)
	}
	if _, _, err := run(t, "status", id, "--data-dir", data, "--server", srv.URL); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("status without the token: %v", err)
	}

	out, _, err = run(t, "reprocess", id, "--from-stage", "llm_extraction", "--data-dir", data, "--server", srv.URL, "--api-token", "tok")
	if err != nil || !strings.Contains(out, "by the server") {
		t.Fatalf("reprocess through the server: %v %s", err, out)
	}
	s, err := proc.Status(context.Background(), id)
	if err != nil || s.Status != "queued" || s.Stages[stage.LLMExtraction].Status != "pending" || s.Stages[stage.OCRExtraction].Status != "completed" {
		t.Errorf("after reprocess through the server: %+v %v", s, err)
	}
	if _, _, err := run(t, "reprocess", id, "--data-dir", data, "--server", "http://127.0.0.1:1", "--api-token", "tok"); err == nil ||
		!strings.Contains(err.Error(), "does not answer") {
		t.Errorf("reprocess with no server: %v", err)
	}
}
