package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/idp/idp/stage"
)

// versions are the cache versions of the four stages under the running configuration. Each
// names what changes the stage's output, and ends with a digest of the version of the stage
// it reads, so a change upstream (another DPI, language or OCR engine) makes every later
// stage stale too, while a change downstream (another extractor, model, prompt or schema)
// leaves the earlier stages cached.
type versions struct {
	ocr, split, analysis, extract string
}

func newVersions(cfg Config, r stage.Reader, s stage.AccountSplitter, e stage.Extractor) versions {
	var v versions
	// ocr/2: blank pages are found and not OCR'd, pages that fail alone are quarantined
	// (stage.BlankVersion names the blank rule); ocr/3: the words OCR was unsure of are kept
	// (PageText.Unsure).
	v.ocr = fmt.Sprintf("ocr/3;%s;dpi=%d;%s;%s", r.Version(), cfg.OCRDPI, stage.TextLayerVersion, stage.BlankVersion)
	v.split = fmt.Sprintf("split/1;%s;in=%s", s.Version(), digest(v.ocr))
	v.analysis = fmt.Sprintf("analysis/1;%s;in=%s", s.Version(), digest(v.split))
	v.extract = fmt.Sprintf("extract/1;%s;in=%s", e.Version(), digest(v.analysis))
	return v
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// Versions maps each stage to the cache version the running configuration writes and
// accepts.
func (p *Processor) Versions() map[string]string {
	return map[string]string{
		stage.OCRExtraction:    p.versions.ocr,
		stage.AccountSplitting: p.versions.split,
		stage.PageAnalysis:     p.versions.analysis,
		stage.LLMExtraction:    p.versions.extract,
	}
}
