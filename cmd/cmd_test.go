package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/testdata/gen"
)

func TestMain(m *testing.M) { idptest.Main(m) }

// run executes the command line in this process.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writePacket(t *testing.T, dir string, seed uint64) (string, stage.Result) {
	t.Helper()
	p, err := gen.Generate(gen.Options{Seed: seed, Accounts: 2})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("packet-%d.pdf", seed))
	if err := os.WriteFile(path, p.PDF, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, p.Truth
}

func decodeResults(t *testing.T, out string) []stage.Result {
	t.Helper()
	var res []stage.Result
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r stage.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		res = append(res, r)
	}
	return res
}

func TestProcessPrintsResultsAndFailsOnBadFiles(t *testing.T) {
	dir := t.TempDir()
	good, truth := writePacket(t, dir, 1)
	notPDF := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notPDF, []byte("not a pdf"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, "process", "--log-level", "warn", good, notPDF)
	if err == nil {
		t.Fatal("process with a bad file succeeded")
	}
	if !strings.Contains(errOut, "notes.txt failed: not a PDF") {
		t.Errorf("stderr does not say why notes.txt failed:\n%s", errOut)
	}
	res := decodeResults(t, out)
	if len(res) != 2 {
		t.Fatalf("%d results, want 2", len(res))
	}
	if res[0].Status != "completed" || res[0].File != "packet-1.pdf" || res[0].TotalPages != truth.TotalPages || len(res[0].Pages) != truth.TotalPages {
		t.Errorf("good file: %+v", res[0])
	}
	if len(res[0].Accounts) != len(truth.Accounts) {
		t.Errorf("accounts = %+v, want %d", res[0].Accounts, len(truth.Accounts))
	}
	for i, a := range truth.Accounts {
		if i < len(res[0].Accounts) && res[0].Accounts[i].AccountNumber != a.AccountNumber {
			t.Errorf("account %d = %q, want %q", i, res[0].Accounts[i].AccountNumber, a.AccountNumber)
		}
	}
	if res[1].Status != "failed" || res[1].File != "notes.txt" || !strings.Contains(res[1].Error, "not a PDF") {
		t.Errorf("bad file: %+v", res[1])
	}
}

func TestCacheDumpReprocessAndEnv(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	good, truth := writePacket(t, dir, 2)
	// The data directory comes from the environment.
	t.Setenv("IDP_DATA_DIR", data)
	out, _, err := run(t, "process", "--log-level", "warn", good)
	if err != nil {
		t.Fatal(err)
	}
	id := decodeResults(t, out)[0].DocID
	if _, err := os.Stat(filepath.Join(data, "idp.db")); err != nil {
		t.Fatalf("IDP_DATA_DIR was not used: %v", err)
	}

	out, _, err = run(t, "cache", "dump", "--json", "--doc", id)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]dumpRow{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r dumpRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		keys[r.Key] = r
	}
	want := []string{"ocr_cache/" + id + "/full_text.json", "account_cache/" + id + "/accounts.json", "page_mapping/" + id + "/mapping.json"}
	for n := range truth.TotalPages {
		want = append(want, fmt.Sprintf("page_data/%s/page_%d.json", id, n))
	}
	for _, k := range want {
		r, ok := keys[k]
		if !ok || r.Version == "" || r.Size == 0 || r.Created.IsZero() {
			t.Errorf("cache dump: %s = %+v", k, r)
		}
	}
	if len(keys) != len(want) {
		t.Errorf("cache dump has %d keys, want %d", len(keys), len(want))
	}

	if _, _, err := run(t, "reprocess", id, "--from-stage", "llm_extraction"); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "cache", "dump", "--prefix", "page_data/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "0 records") {
		t.Errorf("page data still cached after reprocess --from-stage llm_extraction:\n%s", out)
	}
	out, _, _ = run(t, "cache", "dump", "--prefix", "ocr_cache/")
	if !strings.Contains(out, "1 records") {
		t.Errorf("OCR result dropped by reprocess --from-stage llm_extraction:\n%s", out)
	}
	if _, _, err := run(t, "reprocess", id, "--from-stage", "nonsense"); err == nil || !strings.Contains(err.Error(), "unknown stage") {
		t.Errorf("reprocess with a bad stage: %v", err)
	}
	if _, _, err := run(t, "reprocess", "../../etc/passwd"); err == nil {
		t.Error("reprocess accepted a path as a document id")
	}

	t.Setenv("IDP_OCR_DPI", "lots")
	if _, _, err := run(t, "process", good); err == nil || !strings.Contains(err.Error(), "IDP_OCR_DPI") {
		t.Errorf("a bad IDP_OCR_DPI: %v", err)
	}
}

func TestVersionCommand(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"idp ", "MuPDF 1.", "Tesseract 5."} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalCommand(t *testing.T) {
	out, _, err := run(t, "eval", "--log-level", "warn", "--progress", "never", "--json", filepath.Join("..", "testdata", "packets"))
	if err != nil {
		t.Fatal(err)
	}
	var rep EvalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Documents != 4 || rep.Pages == 0 || len(rep.Failed) != 0 {
		t.Errorf("report = %+v", rep)
	}
	if rep.PageAccuracy < 0.9 || rep.Overall.F1 < 0.85 {
		t.Errorf("the committed samples score page accuracy %.3f, F1 %.3f", rep.PageAccuracy, rep.Overall.F1)
	}
	c := rep.PageConfusion
	if c.Right+c.WrongAccount+c.Missed+c.Spurious+c.RightNone != rep.Pages {
		t.Errorf("page confusion %+v does not add up to %d pages", c, rep.Pages)
	}
	for _, f := range []string{"Account_Number", "Account_Holders", "Phone_Number", "Address"} {
		if _, ok := rep.Fields[f]; !ok {
			t.Errorf("no scores for %s: %+v", f, rep.Fields)
		}
	}

	// --errors lists each mistake with its file, page and field: a truth that says another
	// address is one.
	dir := t.TempDir()
	pdf, err := os.ReadFile(filepath.Join("..", "testdata", "packets", "packet-digital-001.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "testdata", "packets", "packet-digital-001.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth stage.Result
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	page := -1
	for i, p := range truth.Pages {
		if _, ok := p.Data[stage.FieldAddress]; ok {
			page = i
			truth.Pages[i].Data[stage.FieldAddress] = "1 Nowhere Rd, Springfield, IL 62704"
			break
		}
	}
	b, _ = json.Marshal(truth)
	if err := os.WriteFile(filepath.Join(dir, "p.pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.truth.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "eval", "--log-level", "warn", "--progress", "never", "--errors", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`page %d Address: got "`, page)
	if page < 0 || !strings.Contains(out, want) || !strings.Contains(out, `want "1 Nowhere Rd, Springfield, IL 62704"`) || !strings.Contains(out, "page -> account confusion") {
		t.Errorf("eval --errors does not list the wrong address of page %d:\n%s", page, out)
	}
}
