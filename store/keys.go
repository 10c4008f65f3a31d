package store

import "fmt"

// Cache keys, the same in bbolt and in the blob tier (DESIGN.md, "Stages and their cache keys").

// OCRKey holds stage 1's result: every page's text, source, confidence and size.
func OCRKey(docID string) string { return "ocr_cache/" + docID + "/full_text.json" }

// AccountsKey holds stage 2's result: the accounts found.
func AccountsKey(docID string) string { return "account_cache/" + docID + "/accounts.json" }

// MappingKey holds stage 3's result: page -> account index with the evidence.
func MappingKey(docID string) string { return "page_mapping/" + docID + "/mapping.json" }

// PageDataKey holds stage 4's result for page n (0-based).
func PageDataKey(docID string, page int) string {
	return fmt.Sprintf("page_data/%s/page_%d.json", docID, page)
}

// PageDataPrefix is the prefix of every stage 4 record of a document.
func PageDataPrefix(docID string) string { return "page_data/" + docID + "/" }

// OriginalKey is the uploaded file.
func OriginalKey(docID string) string { return "documents/" + docID + "/original.pdf" }

// DocMetaKey is the blob tier's copy of a document's metadata (DocMeta as JSON): file name,
// SHA-256, pages, status, times. With the original beside it, it lets a machine with an empty
// data directory list the bucket's documents.
func DocMetaKey(docID string) string { return "documents/" + docID + "/metadata.json" }

// DocumentPrefix is the prefix of a document's original and metadata.
func DocumentPrefix(docID string) string { return "documents/" + docID + "/" }

// DocumentsPrefix is the prefix of every document's original and metadata.
const DocumentsPrefix = "documents/"

// CachePrefixes are the prefixes of the four stages' records, in stage order.
func CachePrefixes() []string {
	return []string{"ocr_cache/", "account_cache/", "page_mapping/", "page_data/"}
}

// DocCachePrefixes are the prefixes of every cached record of a document, in stage order.
func DocCachePrefixes(docID string) []string {
	return []string{
		"ocr_cache/" + docID + "/",
		"account_cache/" + docID + "/",
		"page_mapping/" + docID + "/",
		PageDataPrefix(docID),
	}
}

// CheckpointPrefix is the prefix of every checkpoint of a document.
func CheckpointPrefix(docID string) string { return docID + "/" }

// CheckpointKey names page n's partial result within stage of a document. Checkpoints live
// only in bbolt: they are the page-granular resume of a stage whose whole result is not yet
// written.
func CheckpointKey(docID, stage string, page int) string {
	return fmt.Sprintf("%s/%s/%08d", docID, stage, page)
}
