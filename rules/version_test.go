package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rulesDigest is the digest of the rule sources that Version was set for.
const rulesDigest = "f21e85695d2acb05"

// TestRulesVersion makes a change to the rules visible to the cache: results made by other
// rules must be recomputed, so Version has to change with the rule sources.
func TestRulesVersion(t *testing.T) {
	h := sha256.New()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "version.go" || f == "doc.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	got := hex.EncodeToString(h.Sum(nil))[:16]
	if got != rulesDigest {
		// A change that only makes the rules faster leaves Version as it is, so that no
		// archive is extracted again for nothing; the commit then says how the outputs were
		// compared with the old rules' on the same pages.
		t.Errorf("the rule sources changed (digest %s, recorded %s): bump Version in version.go (unless no output can change), then set rulesDigest in version_test.go to %s",
			got, rulesDigest, got)
	}
}
