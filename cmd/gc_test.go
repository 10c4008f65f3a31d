package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/httpapi"
	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
)

// age moves the completion of documents of data back in time.
func age(t *testing.T, data string, by time.Duration, ids ...string) {
	t.Helper()
	db, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		for _, id := range ids {
			_, err := tx.UpdateDocument(id, func(d *store.Document) error {
				at := d.FinishedAt.Add(-by)
				d.FinishedAt = &at
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// processed runs `idp process` on a new packet into data and returns its id.
func processed(t *testing.T, data string, seed uint64) string {
	t.Helper()
	file, _ := writePacket(t, t.TempDir(), seed)
	out, _, err := run(t, "process", "--data-dir", data, "--log-level", "warn", file)
	if err != nil {
		t.Fatal(err)
	}
	return decodeResults(t, out)[0].DocID
}

func TestCacheGCOffline(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	oldID := processed(t, data, 21)
	newID := processed(t, data, 22)
	age(t, data, 100*24*time.Hour, oldID)

	if _, _, err := run(t, "cache", "gc", "--data-dir", data); err == nil || !strings.Contains(err.Error(), "--retain is needed") {
		t.Errorf("gc without --retain: %v", err)
	}
	if _, _, err := run(t, "cache", "gc", "--data-dir", data, "--retain", "90"); err == nil || !strings.Contains(err.Error(), "90d") {
		t.Errorf("gc --retain 90 (no unit): %v", err)
	}
	out, _, err := run(t, "cache", "gc", "--data-dir", data, "--retain", "90d", "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, oldID) || strings.Contains(out, newID) || !strings.Contains(out, "1 documents would be deleted (retain 90d)") ||
		!strings.Contains(out, "100d") {
		t.Errorf("dry run:\n%s", out)
	}
	original := store.NewDirBlob(data).Path(store.OriginalKey(oldID))
	if _, err := os.Stat(original); err != nil {
		t.Fatalf("a dry run deleted the original: %v", err)
	}

	t.Setenv("IDP_RETAIN", "90d")
	out, _, err = run(t, "cache", "gc", "--data-dir", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var swept pipeline.Swept
	if err := json.Unmarshal([]byte(out), &swept); err != nil || swept.DocID != oldID || swept.FileName != "packet-21.pdf" {
		t.Errorf("gc --json: %v\n%s", err, out)
	}
	if _, err := os.Stat(original); !os.IsNotExist(err) {
		t.Errorf("the original is still there: %v", err)
	}
	out, _, _ = run(t, "cache", "dump", "--data-dir", data, "--doc", oldID)
	if !strings.Contains(out, "0 records") {
		t.Errorf("records of the swept document:\n%s", out)
	}
	out, _, _ = run(t, "cache", "dump", "--data-dir", data, "--doc", newID)
	if strings.Contains(out, " 0 records") || !strings.Contains(out, "records") {
		t.Errorf("records of the kept document:\n%s", out)
	}
	// Offline status works on the same directory (a processor that is never started).
	out, _, err = run(t, "status", newID, "--data-dir", data)
	if err != nil || !strings.Contains(out, `"completed"`) {
		t.Errorf("offline status: %v\n%s", err, out)
	}
}

// TestCacheGCThroughTheServer: while a server holds the database, gc sweeps in the server; a
// document read through the API in the last hour is kept.
func TestCacheGCThroughTheServer(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	readID := processed(t, data, 23)
	oldID := processed(t, data, 24)
	age(t, data, 100*24*time.Hour, readID, oldID)

	e := idptest.NewEnv(t, data, pipeline.Config{PageWorkers: 1}, func(d *pipeline.Deps) { d.Logger = slog.New(slog.DiscardHandler) })
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Deps{Processor: e.Proc, DB: e.DB, Token: "tok", Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	client := []string{"--data-dir", data, "--server", srv.URL, "--api-token", "tok"}

	if _, _, err := run(t, append([]string{"cache", "gc"}, client...)...); err == nil || !strings.Contains(err.Error(), "has no --retain") {
		t.Errorf("gc through a server without a period: %v", err)
	}
	// Someone opens one of them.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/document/"+readID+"/result", nil)
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	out, _, err := run(t, append([]string{"cache", "gc", "--retain", "90d", "--dry-run"}, client...)...)
	if err != nil || !strings.Contains(out, oldID) || strings.Contains(out, readID) || !strings.Contains(out, "by the server") {
		t.Fatalf("dry run through the server: %v\n%s", err, out)
	}
	out, _, err = run(t, append([]string{"cache", "gc", "--retain", "90d"}, client...)...)
	if err != nil || !strings.Contains(out, "1 documents deleted") {
		t.Fatalf("gc through the server: %v\n%s", err, out)
	}
	if _, err := e.Proc.Status(context.Background(), oldID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old document after gc: %v", err)
	}
	if _, err := e.Proc.Status(context.Background(), readID); err != nil {
		t.Errorf("the document read an instant ago was swept: %v", err)
	}
}

// TestServeRetention: `idp serve --retain` sweeps in the background; the deletion is logged
// and counted in /metrics.
func TestServeRetention(t *testing.T) {
	for _, bad := range [][]string{{"--retain", "90"}, {"--retain", "-3d"}, {"--retain", "90d", "--retain-interval", "0s"}} {
		if _, _, err := run(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, bad...)...); err == nil {
			t.Errorf("serve %v started", bad)
		}
	}

	s := startServe(t, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--retain", "2s", "--retain-interval", "100ms")
	file, _ := writePacket(t, t.TempDir(), 25)
	pdf, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	id := uploadPDF(t, s.url, "statement.pdf", pdf)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.logs.String(), "Retention: deleted "+id) {
		if time.Now().After(deadline) {
			t.Fatalf("not swept within a minute:\n%s", idptest.Tail(s.logs.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Contains(metrics, []byte("idp_retention_deleted_total 1\n")) {
		t.Errorf("metrics:\n%s", grepLines(string(metrics), "idp_retention"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
