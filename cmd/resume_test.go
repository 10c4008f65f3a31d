package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idp/idp/testdata/gen"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// idpBinary builds the real binary once per test run.
func idpBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "idp-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "idp")
		out, err := exec.Command("go", "build", "-o", binPath, "..").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// logLine is one JSON log line of the binary.
type logLine struct {
	Msg   string `json:"msg"`
	DocID string `json:"doc_id"`
	Page  *int   `json:"page"`
}

// runUntil starts the binary and reads its JSON logs; stop is called on every line and, when
// it returns a signal, the process gets it. It returns every line and the exit error.
func runUntil(t *testing.T, stop func(logLine) os.Signal, args ...string) ([]logLine, error) {
	t.Helper()
	cmd := exec.Command(idpBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(5*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var lines []logLine
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	signalled := false
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // MuPDF's own warnings are not JSON
		}
		lines = append(lines, l)
		if signalled {
			continue
		}
		if sig := stop(l); sig != nil {
			signalled = true
			_ = cmd.Process.Signal(sig)
		}
	}
	return lines, cmd.Wait()
}

func pagesLogged(lines []logLine, prefix string) map[int]bool {
	out := map[int]bool{}
	for _, l := range lines {
		if strings.HasPrefix(l.Msg, prefix) && l.Page != nil {
			out[*l.Page] = true
		}
	}
	return out
}

// TestResumeAfterKill9 kills the real binary in the middle of a stage, starts `idp serve` on
// the same data directory, and checks that the document continues where it stopped: no page
// whose result was cached before the kill is computed again.
func TestResumeAfterKill9(t *testing.T) {
	tests := []struct {
		name    string
		opts    gen.Options
		stage   string // the per-page log line of the stage killed
		killAt  int
		workers string
	}{
		{"in OCR extraction", gen.Options{Seed: 41, Accounts: 3, Scanned: true, ScanDPI: 150}, "OCR'd page", 3, "1"},
		{"in extraction", gen.Options{Seed: 42, Accounts: 3, MinPages: 240}, "Processed and cached page", 25, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			p, err := gen.Generate(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "packet.pdf")
			if err := os.WriteFile(file, p.PDF, 0o644); err != nil {
				t.Fatal(err)
			}
			n := p.Truth.TotalPages

			seen := 0
			first, err := runUntil(t, func(l logLine) os.Signal {
				if strings.HasPrefix(l.Msg, tt.stage) {
					seen++
					if seen == tt.killAt {
						return syscall.SIGKILL
					}
				}
				return nil
			}, "process", "--data-dir", data, "--log-format", "json", "--page-workers", tt.workers, "--progress", "never", file)
			if err == nil {
				t.Fatal("the first run finished before it was killed")
			}
			done1 := pagesLogged(first, tt.stage)
			if len(done1) < tt.killAt || len(done1) >= n {
				t.Fatalf("first run cached %d of %d pages before the kill", len(done1), n)
			}

			second, err := runUntil(t, func(l logLine) os.Signal {
				if strings.HasPrefix(l.Msg, "Completed full pipeline") || strings.HasPrefix(l.Msg, "Failed pipeline") {
					return syscall.SIGTERM
				}
				return nil
			}, "serve", "--data-dir", data, "--log-format", "json", "--addr", "127.0.0.1:0")
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
			resumed, completed := false, false
			for _, l := range second {
				resumed = resumed || strings.HasPrefix(l.Msg, "Resuming interrupted document")
				completed = completed || strings.HasPrefix(l.Msg, "Completed full pipeline")
			}
			if !resumed || !completed {
				t.Fatalf("serve: resumed %v, completed %v", resumed, completed)
			}
			done2 := pagesLogged(second, tt.stage)
			t.Logf("%d pages: %d cached before the kill, %d computed after", n, len(done1), len(done2))
			for page := range done2 {
				if done1[page] {
					t.Errorf("page %d was computed again after the restart", page)
				}
			}
			if len(done2) == 0 || len(done1)+len(done2) > n {
				t.Errorf("pages computed: %d before the kill, %d after, of %d", len(done1), len(done2), n)
			}
			if tt.stage != "OCR'd page" {
				if again := pagesLogged(second, "OCR'd page"); len(again) > 0 {
					t.Errorf("stage 1 was finished before the kill but %d pages were read again", len(again))
				}
			}

			// The result is complete, and asking again computes nothing.
			var out strings.Builder
			cmd := exec.Command(idpBinary(t), "process", "--data-dir", data, "--log-format", "json", "--progress", "never", file)
			cmd.Stdout = &out
			var logs strings.Builder
			cmd.Stderr = &logs
			if err := cmd.Run(); err != nil {
				t.Fatalf("process after resume: %v\n%s", err, logs.String())
			}
			var res struct {
				Status string `json:"status"`
				Pages  []struct {
					Data map[string]any `json:"data"`
				} `json:"pages"`
				Accounts []any `json:"accounts"`
			}
			if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
				t.Fatal(err)
			}
			// Accuracy is TestAccuracy's business; here the result must be whole.
			if res.Status != "completed" || len(res.Pages) != n || len(res.Accounts) == 0 {
				t.Errorf("result after resume: %s, %d pages, %d accounts; want completed, %d pages, accounts",
					res.Status, len(res.Pages), len(res.Accounts), n)
			}
			if strings.Contains(logs.String(), "OCR'd page") || strings.Contains(logs.String(), "Processed and cached page") {
				t.Error("a completed document was computed again")
			}
		})
	}
}
