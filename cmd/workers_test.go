package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/testdata/gen"
)

// served is a real `idp serve` process (the binary, with its worker processes) and what it
// logged.
type served struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT

	mu      sync.Mutex
	lines   []map[string]any
	nonJSON []string
	done    chan struct{}
}

// serve starts `idp serve` on data with JSON logs and waits until it serves.
func serve(t *testing.T, data string, args ...string) *served {
	t.Helper()
	args = append([]string{"serve", "--data-dir", data, "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	cmd := exec.Command(idpBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{t: t, cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l map[string]any
			s.mu.Lock()
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				s.nonJSON = append(s.nonJSON, sc.Text())
			} else {
				s.lines = append(s.lines, l)
			}
			s.mu.Unlock()
			if l["msg"] == "idp serving" {
				ready <- l["addr"].(string)
			}
		}
	}()
	select {
	case addr := <-ready:
		s.base = "http://" + addr
	case <-s.done:
		t.Fatalf("idp serve exited before serving: %v", cmd.Wait())
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("idp serve did not start in a minute")
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
			_ = cmd.Wait()
		}
	})
	return s
}

// messages are the logged lines whose message starts with prefix.
func (s *served) messages(prefix string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range s.lines {
		if m, _ := l["msg"].(string); strings.HasPrefix(m, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// kill sends SIGKILL and waits for the process; its workers must be gone too (Pdeathsig).
func (s *served) kill() {
	s.t.Helper()
	var workers []int
	for _, p := range idptest.Tree(s.cmd.Process.Pid)[1:] {
		workers = append(workers, p.PID)
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	_ = s.cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range workers {
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if processAlive(pid) {
			s.t.Errorf("worker %d outlived its server killed with -9", pid)
		}
	}
}

// stop sends SIGTERM and waits for a graceful end.
func (s *served) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	if err := s.cmd.Wait(); err != nil {
		s.t.Errorf("idp serve after SIGTERM: %v", err)
	}
}

// processAlive reports whether pid runs (a zombie does not).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// upload posts files to the server and returns the document id of each (or "" for a file it
// refused, with the reason in refused).
func (s *served) upload(files map[string][]byte) (ids map[string]string, refused map[string]string) {
	s.t.Helper()
	ids, refused = map[string]string{}, map[string]string{}
	for name, data := range files {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(data)
		mw.Close()
		resp, err := http.Post(s.base+"/api/documents", mw.FormDataContentType(), &body)
		if err != nil {
			s.t.Fatal(err)
		}
		var out struct {
			Documents []struct {
				DocID string `json:"doc_id"`
			} `json:"documents"`
			Error string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		switch {
		case err != nil:
			s.t.Fatalf("upload %s: %v", name, err)
		case len(out.Documents) == 1:
			ids[name] = out.Documents[0].DocID
		default:
			refused[name] = fmt.Sprintf("%d: %s", resp.StatusCode, out.Error)
		}
	}
	return ids, refused
}

// docState is what GET /api/document/{id} says of a document.
type docState struct {
	Status      string   `json:"status"`
	Error       string   `json:"error"`
	Attempts    int      `json:"attempts"`
	Pages       int      `json:"pages"`
	Warnings    []string `json:"warnings"`
	FailedPages []struct {
		Page   int    `json:"page"`
		Reason string `json:"reason"`
	} `json:"failed_pages"`
}

func (s *served) document(id string) (docState, error) {
	resp, err := http.Get(s.base + "/api/document/" + id)
	if err != nil {
		return docState{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Document docState `json:"document"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return docState{}, fmt.Errorf("GET document %s: %d %s", id, resp.StatusCode, b)
	}
	return out.Document, json.Unmarshal(b, &out)
}

// wait returns when every document is completed or failed.
func (s *served) wait(ids map[string]string, timeout time.Duration) map[string]docState {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := map[string]docState{}
		for name, id := range ids {
			d, err := s.document(id)
			if err != nil {
				s.t.Fatal(err)
			}
			if d.Status == "completed" || d.Status == "failed" {
				out[name] = d
			}
		}
		if len(out) == len(ids) {
			return out
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d of %d documents done after %s", len(out), len(ids), timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeSurvivesKill9: `idp serve` is killed with -9 ten times at random moments while 20
// documents process, and started again each time. No document fails, no try is counted, no
// page cached before a kill is computed again, the workers die with their server, and the
// log stays JSON throughout. `make soak` runs it longer (IDP_SOAK_KILLS, IDP_SOAK_DOCS).
func TestServeSurvivesKill9(t *testing.T) {
	kills, docCount := envInt(t, "IDP_SOAK_KILLS", 10), envInt(t, "IDP_SOAK_DOCS", 20)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	files := map[string][]byte{}
	for i := range docCount {
		opts := gen.Options{Seed: uint64(300 + i), Accounts: 2 + i%3, MinPages: 24}
		if i%5 == 4 { // 4 scanned packets keep the workers busy with OCR
			opts = gen.Options{Seed: uint64(300 + i), Accounts: 2, Scanned: true, ScanDPI: 150}
		}
		files[fmt.Sprintf("packet-%02d.pdf", i)] = idptest.Generate(t, opts).PDF
	}
	r := rand.New(rand.NewPCG(9, 9))
	var runs []*served
	s := serve(t, data)
	runs = append(runs, s)
	ids, refused := s.upload(files)
	if len(refused) > 0 || len(ids) != docCount {
		t.Fatalf("uploaded %d, refused %v", len(ids), refused)
	}
	resumed := 0
	for kill := range kills {
		time.Sleep(time.Duration(300+r.IntN(2200)) * time.Millisecond)
		s.kill()
		s = serve(t, data)
		runs = append(runs, s)
		if n := len(s.messages("Resuming interrupted document")); n > 0 {
			resumed++
		}
		t.Logf("kill %d: %d documents resumed", kill+1, len(s.messages("Resuming interrupted document")))
	}
	docs := s.wait(ids, 5*time.Minute)
	s.stop()

	for name, d := range docs {
		if d.Status != "completed" || d.Attempts != 0 {
			t.Errorf("%s: %s after %d counted attempts: %s", name, d.Status, d.Attempts, d.Error)
		}
	}
	if resumed == 0 {
		t.Error("no kill landed while a document was in flight")
	}
	// A page computed in one run is never computed in a later one.
	first := map[string]int{}
	again := 0
	for i, run := range runs {
		for _, prefix := range []string{"OCR'd page", "Processed and cached page"} {
			for _, l := range run.messages(prefix) {
				key := fmt.Sprintf("%s %v %v", prefix, l["doc_id"], l["page"])
				if r, ok := first[key]; ok && r != i {
					again++
					if again <= 5 {
						t.Errorf("%s: computed in run %d and again in run %d", key, r, i)
					}
				}
				first[key] = i
			}
		}
		run.mu.Lock()
		if len(run.nonJSON) > 0 {
			t.Errorf("run %d logged lines that are not JSON: %q", i, run.nonJSON[:min(3, len(run.nonJSON))])
		}
		run.mu.Unlock()
	}
	t.Logf("%d kills, %d of them with documents in flight; %d page results made, %d made twice", kills, resumed, len(first), again)
}

// envInt is the number in the environment variable name, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// TestServeBadCorpus: every malformed PDF of the corpus goes through `idp serve`: each ends
// failed with a reason (or refused at the door with one) or completed, the server stays up,
// and a sound document uploaded with them completes.
func TestServeBadCorpus(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "corpus", "bad", "*.pdf"))
	if err != nil || len(paths) < 40 {
		t.Fatalf("corpus: %d files, %v", len(paths), err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	files["sound.pdf"] = idptest.Generate(t, gen.Options{Seed: 12, Accounts: 2}).PDF
	s := serve(t, filepath.Join(t.TempDir(), "data"), "--page-timeout", "30s", "--doc-timeout", "2m")
	ids, refused := s.upload(files)
	for name, why := range refused {
		t.Logf("%s: refused: %s", name, why)
		if !strings.HasPrefix(why, "400: not a PDF") {
			t.Errorf("%s refused with %q", name, why)
		}
	}
	docs := s.wait(ids, 10*time.Minute)
	completed, failed, quarantined, warned := 0, 0, 0, 0
	for name, d := range docs {
		switch d.Status {
		case "completed":
			completed++
		default:
			failed++
			if strings.TrimSpace(d.Error) == "" {
				t.Errorf("%s failed without a reason", name)
			}
		}
		if len(d.FailedPages) > 0 {
			quarantined++
		}
		if len(d.Warnings) > 0 {
			warned++
		}
		t.Logf("%s: %s %q warnings %q failed pages %v", name, d.Status, d.Error, d.Warnings, d.FailedPages)
	}
	if d := docs["sound.pdf"]; d.Status != "completed" || len(d.Warnings) > 0 {
		t.Errorf("the sound document among them: %+v", d)
	}
	resp, err := http.Get(s.base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the server after the corpus: %v", err)
	}
	resp.Body.Close()
	s.stop()
	s.mu.Lock()
	if len(s.nonJSON) > 0 {
		t.Errorf("lines that are not JSON in the log: %q", s.nonJSON[:min(3, len(s.nonJSON))])
	}
	s.mu.Unlock()
	if len(s.messages("Worker: warning")) == 0 {
		t.Error("no MuPDF warning was logged through slog")
	}
	t.Logf("%d files: %d refused at upload, %d completed (%d with warnings, %d with quarantined pages), %d failed",
		len(files), len(refused), completed, warned, quarantined, failed)
}

// TestProcessPasswordFile: `idp process --password-file` opens an encrypted PDF; without it
// the file fails with the reason; the password is printed nowhere.
func TestProcessPasswordFile(t *testing.T) {
	const secret = "Pa55-for-the-statement"
	dir := t.TempDir()
	locked := filepath.Join(dir, "statement.pdf")
	if err := os.WriteFile(locked, idptest.TextPDF(t, 0, secret, "", []string{"Account Number: 4401 2231 0097", "Account Holder: Maria L. Gonzalez"}), 0o644); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, "process", "--data-dir", filepath.Join(dir, "a"), "--progress", "never", locked)
	if err == nil || !strings.Contains(out, `"error":"encrypted: a password is needed"`) {
		t.Errorf("without the password: %v\n%s", err, out)
	}
	out2, errOut2, err := run(t, "process", "--data-dir", filepath.Join(dir, "b"), "--progress", "never", "--password-file", pwFile, locked)
	if err != nil {
		t.Fatalf("with the password: %v\n%s", err, errOut2)
	}
	res := decodeResults(t, out2)
	if res[0].Status != "completed" || len(res[0].Accounts) != 1 || res[0].Accounts[0].AccountNumber != "4401 2231 0097" {
		t.Errorf("with the password: %+v", res[0])
	}
	for _, s := range []string{out, errOut, out2, errOut2} {
		if strings.Contains(s, secret) {
			t.Errorf("the password is printed: %s", s)
		}
	}
	if _, _, err := run(t, "process", "--data-dir", filepath.Join(dir, "c"), "--password-file", filepath.Join(dir, "nope"), locked); err == nil ||
		!strings.Contains(err.Error(), "--password-file") {
		t.Errorf("a missing password file: %v", err)
	}
}
