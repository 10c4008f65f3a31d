package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/idp/idp"

// goPackage is what `go list -json` says of a package that this test needs.
type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

// listPackages runs `go list -json` over the module's packages (tests excluded: a test may
// import what its package may not).
func listPackages(t *testing.T) map[string]goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]goPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	return pkgs
}

func internal(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, strings.TrimPrefix(strings.TrimPrefix(p, module), "/"))
		}
	}
	return out
}

// TestImportGraph holds the layout of the README ("Layout") against the code: imports run
// cmd -> httpapi -> pipeline -> stage <- engines, and pipeline -> store. The processor links
// no C engine and no LLM client, so it builds and tests without them; an engine knows
// neither the processor nor the store. The worker supervisor links no engine either: the
// engines run in worker processes.
func TestImportGraph(t *testing.T) {
	pkgs := listPackages(t)
	for _, name := range []string{"pipeline", "stage", "mupdf", "tesseract", "rules", "llm", "eval", "store", "store/s3", "store/redisq", "retry", "worker", "httpapi", "cmd"} {
		if _, ok := pkgs[name]; !ok {
			t.Fatalf("package %s is missing (go list found %d packages)", name, len(pkgs))
		}
	}

	// Transitive dependencies that a package must never reach.
	engines := []string{"mupdf", "tesseract", "rules", "llm", "eval"}
	cgoAndClients := []string{"github.com/gen2brain/go-fitz", "github.com/otiai10/gosseract/v2", "github.com/sashabaranov/go-openai"}
	redisClient := "github.com/redis/go-redis/v9"
	forbidden := map[string][]string{
		// The processor sees the other nodes through pipeline.Cluster and store.Queue only.
		"pipeline":     append(append([]string{"httpapi", "cmd", "store/redisq", redisClient}, engines...), cgoAndClients...),
		"httpapi":      append([]string{"cmd"}, append(engines, cgoAndClients...)...),
		"store":        append(append([]string{"pipeline", "stage", "httpapi", "cmd", "store/s3", "store/redisq", redisClient}, engines...), cgoAndClients...),
		"store/redisq": append(append([]string{"pipeline", "stage", "httpapi", "cmd", "store/s3"}, engines...), cgoAndClients...),
		"stage":        append(append([]string{"pipeline", "store", "httpapi", "cmd"}, engines...), cgoAndClients...),
		// The supervisor of the worker processes links no engine: the engines run in the
		// workers, which cmd (or a test binary) wires.
		"worker": append(append([]string{"pipeline", "store", "httpapi", "cmd"}, engines...), cgoAndClients...),
	}
	for _, e := range engines {
		forbidden[e] = []string{"pipeline", "store", "httpapi", "cmd"}
	}
	for name, bad := range forbidden {
		deps := pkgs[name].Deps
		for _, b := range bad {
			full := b
			if !strings.Contains(b, ".") {
				full = module + "/" + b
			}
			if slices.Contains(deps, full) {
				t.Errorf("%s depends on %s", name, b)
			}
		}
	}

	// Direct internal imports allowed per package.
	allowed := map[string][]string{
		"stage":                  nil,
		"retry":                  nil,
		"mupdf":                  {"stage"},
		"tesseract":              {"stage"},
		"rules":                  {"stage"},
		"eval":                   {"stage"},
		"llm":                    {"stage", "rules", "retry"},
		"store":                  {"retry"},
		"store/s3":               {"store"},
		"store/redisq":           {"store"},
		"store/redisq/redistest": nil,
		"pipeline":               {"stage", "store", "retry"},
		"worker":                 {"stage"},
		"httpapi":                {"pipeline", "stage", "store"},
	}
	for name, ok := range allowed {
		for _, imp := range internal(pkgs[name].Imports) {
			if !slices.Contains(ok, imp) {
				t.Errorf("%s imports %s; it may import only %v", name, imp, ok)
			}
		}
	}
}

// TestPackageSize keeps any one package under a third of the non-test code, so that no
// package becomes the place where everything goes.
func TestPackageSize(t *testing.T) {
	pkgs := listPackages(t)
	lines := map[string]int{}
	total := 0
	for name, p := range pkgs {
		for _, f := range p.GoFiles {
			n, err := countLines(name, f)
			if err != nil {
				t.Fatal(err)
			}
			lines[name] += n
			total += n
		}
	}
	for name, n := range lines {
		if 3*n > total {
			t.Errorf("%s holds %d of %d lines of non-test code (more than a third)", name, n, total)
		}
	}
}

func countLines(dir, file string) (int, error) {
	if dir == "" {
		dir = "."
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	return strings.Count(string(b), "\n"), nil
}
