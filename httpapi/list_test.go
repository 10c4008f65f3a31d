package httpapi_test

import (
	"net/http"
	"testing"
)

// TestListingCarriesStagesAndDocID: every row of the listing, and the document answer, name
// the document doc_id, with "id" beside it as the deprecated alias OpenAPI documents; a row
// carries its four stage bars and where it stands.
func TestListingCarriesStagesAndDocID(t *testing.T) {
	ts := newServer(t, serverOpts{start: true})
	ids := ts.cardsCompleted(t, 40, 3)
	code, body := ts.get(t, "/api/documents?status=completed&limit=2")
	docs, _ := body["documents"].([]any)
	if code != http.StatusOK || body["total"] != 3.0 || len(docs) != 2 {
		t.Fatalf("list: %d %v", code, body)
	}
	for _, d := range docs {
		row := d.(map[string]any)
		if row["doc_id"] == nil || row["doc_id"] != row["id"] {
			t.Errorf("row doc_id %v, id %v: want both, equal", row["doc_id"], row["id"])
		}
		stages, _ := row["stages"].(map[string]any)
		if len(stages) != 4 || row["stage"] != "completed" || row["progress"] != 100.0 || row["accounts"] != 1.0 {
			t.Errorf("row %v: want 4 stages, completed, 100%%, 1 account", row)
		}
		for name, s := range stages {
			if st := s.(map[string]any); st["status"] != "completed" || st["progress"] != 100.0 {
				t.Errorf("stage %s of %v: %v", name, row["doc_id"], st)
			}
		}
	}
	_, body = ts.get(t, "/api/document/"+ids[0])
	if d := body["document"].(map[string]any); d["doc_id"] != ids[0] || d["id"] != ids[0] {
		t.Errorf("document answer: doc_id %v, id %v; want %s for both", d["doc_id"], d["id"], ids[0])
	}
	_, spec := ts.get(t, "/api/openapi.json")
	id := spec["components"].(map[string]any)["schemas"].(map[string]any)["Document"].(map[string]any)["properties"].(map[string]any)["id"].(map[string]any)
	if id["deprecated"] != true {
		t.Errorf("OpenAPI: Document.id is %v; want it marked deprecated", id)
	}
}
