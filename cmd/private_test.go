package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
)

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr    string
		want    bool
		wantErr bool
	}{
		{"127.0.0.1:5015", true, false},
		{"127.8.9.10:80", true, false},
		{"[::1]:5015", true, false},
		{"localhost:5015", true, false},
		{":5015", false, false},
		{"0.0.0.0:5015", false, false},
		{"[::]:5015", false, false},
		{"192.0.2.10:5015", false, false},
		{"[fe80::1%lo]:5015", false, false},
		{"5015", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := isLoopback(context.Background(), tt.addr)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("isLoopback(%q) = %v, %v; want %v, error %v", tt.addr, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// serving is an `idp serve` run in this process.
type serving struct {
	url  string
	logs *idptest.LogBuffer
	stop func() error
}

// startServe runs `idp serve ARGS` until the test stops it, and waits until it listens.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	logs := &idptest.LogBuffer{}
	root := NewRootCommand()
	root.SetArgs(append([]string{"serve", "--log-format", "json", "--workers", "1", "--page-workers", "1"}, args...))
	root.SetOut(logs)
	root.SetErr(logs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	s := &serving{logs: logs}
	stopped := false
	s.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			t.Fatal("serve did not stop within a minute")
			return nil
		}
	}
	t.Cleanup(func() { _ = s.stop() })
	deadline := time.Now().Add(time.Minute)
	for s.url == "" {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("serve ended: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve is not listening after a minute:\n%s", logs.String())
		}
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "idp serving" {
				_, port, err := net.SplitHostPort(l.Addr)
				if err != nil {
					t.Fatal(err)
				}
				s.url = "http://127.0.0.1:" + port
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func httpStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestServeIsPrivateByDefault: serve listens on loopback unless told otherwise, refuses an
// address other machines reach without a token (before it opens anything), and serves one
// with a token, or without one only after --allow-unauthenticated, which it warns about.
func TestServeIsPrivateByDefault(t *testing.T) {
	serve, _, err := NewRootCommand().Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if got := serve.Flags().Lookup("addr").DefValue; got != "127.0.0.1:5015" {
		t.Errorf("--addr defaults to %q, want 127.0.0.1:5015", got)
	}

	t.Run("refused without a token", func(t *testing.T) {
		for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
			data := filepath.Join(t.TempDir(), "data")
			_, _, err := run(t, "serve", "--addr", addr, "--data-dir", data)
			if !errors.Is(err, errExposed) {
				t.Fatalf("serve --addr %s without a token: %v", addr, err)
			}
			for _, want := range []string{"--api-token", "IDP_API_TOKEN", "127.0.0.1:5015", "--allow-unauthenticated"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal does not mention %s:\n%v", want, err)
				}
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("a refused serve created its data directory: %v", err)
			}
		}
	})

	t.Run("loopback without a token", func(t *testing.T) {
		s := startServe(t, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
		if code := httpStatus(t, s.url+"/api/documents", ""); code != http.StatusOK {
			t.Errorf("GET /api/documents on loopback: %d", code)
		}
		if strings.Contains(s.logs.String(), "without authentication") {
			t.Error("a loopback serve warns about authentication")
		}
	})

	t.Run("all interfaces with IDP_API_TOKEN", func(t *testing.T) {
		t.Setenv("IDP_API_TOKEN", "s3cret-token-value")
		s := startServe(t, "--addr", ":0", "--data-dir", t.TempDir())
		if code := httpStatus(t, s.url+"/api/documents", ""); code != http.StatusUnauthorized {
			t.Errorf("without the token: %d, want 401", code)
		}
		if code := httpStatus(t, s.url+"/api/documents", "s3cret-token-value"); code != http.StatusOK {
			t.Errorf("with the token: %d, want 200", code)
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s.logs.String(), "s3cret-token-value") {
			t.Error("the token is in the log")
		}
	})

	t.Run("all interfaces with --allow-unauthenticated", func(t *testing.T) {
		s := startServe(t, "--addr", ":0", "--allow-unauthenticated", "--data-dir", t.TempDir())
		if code := httpStatus(t, s.url+"/api/documents", ""); code != http.StatusOK {
			t.Errorf("GET /api/documents: %d", code)
		}
		warned := false
		sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
		for sc.Scan() {
			var l struct{ Level, Msg string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Level == "WARN" && strings.Contains(l.Msg, "without authentication") {
				warned = true
			}
		}
		if !warned {
			t.Errorf("no warning about serving without authentication:\n%s", s.logs.String())
		}
	})
}

// uploadPDF posts one PDF to a running server's API and returns its document id.
func uploadPDF(t *testing.T, base, name string, pdf []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err == nil {
		_, err = fw.Write(pdf)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(base+"/api/documents", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var up struct {
		Documents []struct {
			DocID string `json:"doc_id"`
		} `json:"documents"`
	}
	if err := json.NewDecoder(res.Body).Decode(&up); err != nil || len(up.Documents) != 1 {
		t.Fatalf("upload %s: %d %v %+v", name, res.StatusCode, err, up)
	}
	return up.Documents[0].DocID
}

// waitCompletedAPI polls a running server until the document is completed; failed or a
// timeout fails the test.
func waitCompletedAPI(t *testing.T, base, token, id string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		st := apiStatus(t, base, token, id)
		if st.Status == "completed" {
			return
		}
		if st.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("%s: %+v", id, st)
		}
	}
}
