package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
)

// rulesDigest is the digest of the rule sources that rulesVersion was set for.
const rulesDigest = "41fe2ad3f0bd90f1"

// TestRulesVersion makes a change to the rules visible to the cache: results made by other
// rules must be recomputed, so rulesVersion has to change with the rule sources.
func TestRulesVersion(t *testing.T) {
	h := sha256.New()
	for _, f := range []string{"fields.go", "accounts.go", "extract.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	got := hex.EncodeToString(h.Sum(nil))[:16]
	if got != rulesDigest {
		t.Errorf("the rule sources changed (digest %s, recorded %s): bump rulesVersion in versions.go, then set rulesDigest in versions_test.go to %s",
			got, rulesDigest, got)
	}
}
