package httpapi_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idp/idp/httpapi"
	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
)

// newLoggedServer is newServer with the log kept as JSON lines, for the audit's tests.
func newLoggedServer(t testing.TB, token string) (*testServer, *idptest.LogBuffer) {
	t.Helper()
	logs := &idptest.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	ex := &countingExtractor{}
	e := idptest.NewEnv(t, "", pipeline.Config{PageWorkers: 1, Workers: 1}, func(d *pipeline.Deps) {
		d.Extractor, d.Logger = ex, logger
	})
	ready := &atomic.Bool{}
	ready.Store(true)
	h := httpapi.NewHandler(httpapi.Deps{Processor: e.Proc, DB: e.DB, Token: token, Ready: ready, Version: "test", Logger: logger})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, proc: e.Proc, db: e.DB, ready: ready, token: token, ex: ex}, logs
}

// auditLines are the log's audit records.
func auditLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if l["component"] == "audit" {
			out = append(out, l)
		}
	}
	return out
}

// TestAuditLog: uploads, forces, reprocesses, restarts and deletes are logged with the
// caller's address and whether the token was used; a refused change is logged too; the
// token never is.
func TestAuditLog(t *testing.T) {
	const token = "audit-secret-7f3a9c"
	ts, logs := newLoggedServer(t, token)
	p := packet(t, 31)
	code, body := ts.upload(t, "?priority=1", "packet.pdf", p.PDF)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, body)
	}
	id := uploadedID(t, body)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/backup"},
		{"POST", "/api/document/" + id + "/force-background-processing"},
		{"POST", "/api/document/" + id + "/reprocess?from_stage=page_analysis"},
		{"POST", "/api/background-processor/restart"},
		{"DELETE", "/api/document/" + id},
	} {
		if code, body := ts.do(t, c.method, c.path, nil, ""); code != http.StatusOK {
			t.Fatalf("%s %s: %d %v", c.method, c.path, code, body)
		}
	}
	// A refused delete, through a proxy that names the client.
	req, _ := http.NewRequest("DELETE", ts.URL+"/api/document/"+id, nil)
	req.Header.Set("Authorization", "Bearer wrong")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("delete with a wrong token: %d", res.StatusCode)
	}
	// A refused backup is logged too, though it is a GET.
	res, err = http.Get(ts.URL + "/api/backup")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	ts.proc.Stop()

	all := logs.String()
	if strings.Contains(all, token) {
		t.Fatal("the token is in the log")
	}
	got := map[string]map[string]any{}
	deniedBackup := false
	for _, l := range auditLines(t, all) {
		if l["action"] == "denied" && l["path"] == "/api/backup" {
			deniedBackup = l["token_sent"] == false
			continue
		}
		got[l["action"].(string)] = l
		if !strings.HasPrefix(l["remote_addr"].(string), "127.0.0.1:") {
			t.Errorf("%s: remote_addr %v", l["action"], l["remote_addr"])
		}
	}
	want := map[string]map[string]any{
		"upload":    {"doc_id": id, "file": "packet.pdf", "token_used": true, "msg": "Audit: upload"},
		"force":     {"doc_id": id, "token_used": true},
		"reprocess": {"doc_id": id, "from_stage": "page_analysis", "token_used": true},
		"restart":   {"token_used": true},
		"backup":    {"token_used": true},
		"delete":    {"doc_id": id, "token_used": true},
		"denied":    {"method": "DELETE", "path": "/api/document/" + id, "token_sent": true, "forwarded_for": "203.0.113.7", "level": "WARN"},
	}
	for action, attrs := range want {
		l, ok := got[action]
		if !ok {
			t.Errorf("no audit line for %s:\n%s", action, idptest.Tail(all, 30))
			continue
		}
		for k, v := range attrs {
			if l[k] != v {
				t.Errorf("audit %s: %s = %v, want %v", action, k, l[k], v)
			}
		}
	}

	if !deniedBackup {
		t.Error("a backup refused for want of the token is not in the audit log")
	}
	if b, ok := got["backup"]["bytes"].(float64); !ok || b < 4096 {
		t.Errorf("backup audit: bytes = %v", got["backup"]["bytes"])
	}

	// Without a token, the log says none was used.
	open, logs := newLoggedServer(t, "")
	if code, _ := open.do(t, "POST", "/api/background-processor/restart", nil, ""); code != http.StatusOK {
		t.Fatalf("restart: %d", code)
	}
	open.proc.Stop()
	lines := auditLines(t, logs.String())
	if len(lines) != 1 || lines[0]["action"] != "restart" || lines[0]["token_used"] != false {
		t.Errorf("audit without a token: %v", lines)
	}
}
