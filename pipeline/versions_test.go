package pipeline_test

import (
	"context"
	"testing"

	"github.com/idp/idp/llm"
	"github.com/idp/idp/llm/llmtest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// namedReader stands for engines of a fixed version; it is never called.
type namedReader struct{}

func (namedReader) Inspect(context.Context, stage.Doc, stage.InspectOptions) (stage.DocInfo, error) {
	panic("not called")
}
func (namedReader) ReadPage(context.Context, stage.Doc, stage.PageRequest) (stage.PageText, error) {
	panic("not called")
}
func (namedReader) RenderPNG(context.Context, stage.Doc, stage.PageRequest) ([]byte, error) {
	panic("not called")
}
func (namedReader) Version() string { return "mupdf-T;tesseract-T/eng" }

// TestCacheVersionsDoNotMove pins the cache versions the default configuration writes, with the
// rules and with a model. A cached record is served only when its version is the running one,
// so a change here makes every cached result in every deployment stale: it must be deliberate
// (a change of what a stage produces), never a side effect of moving code. The last change:
// ocr/2 -> ocr/3 (a page keeps the words OCR was unsure of, PageText.Unsure), which moves
// every later stage's digest, and rules/7 -> rules/8 (the rules extractor makes a value on
// such a word less sure), then rules/8 -> rules/9 (a value OCR read otherwise on the pages
// beside it is mended or marked: rules/agree.go).
func TestCacheVersionsDoNotMove(t *testing.T) {
	x, err := llm.NewExtractor(func() llm.Config {
		c := llmtest.NewServer(t).Config(nil)
		c.Model, c.BaseURL, c.APIKey = "m", "http://x/v1", "k"
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		splitter  stage.AccountSplitter
		extractor stage.Extractor
		want      map[string]string
	}{
		{"rules", rules.Splitter{}, rules.Extractor{}, map[string]string{
			stage.OCRExtraction:    "ocr/3;mupdf-T;tesseract-T/eng;dpi=300;textrule/1;layout/2;blank/1;stretch/1",
			stage.AccountSplitting: "split/1;split-rules/9;in=c8137ba65f9c",
			stage.PageAnalysis:     "analysis/1;split-rules/9;in=d7413dc9270e",
			stage.LLMExtraction:    "extract/1;extract-rules/9;schema=default;in=37f8575fa9ad",
		}},
		{"model", llm.NewSplitter(x), x, map[string]string{
			stage.OCRExtraction:    "ocr/3;mupdf-T;tesseract-T/eng;dpi=300;textrule/1;layout/2;blank/1;stretch/1",
			stage.AccountSplitting: "split/1;llm-split/1;model=m;prompt=fea07a82f19c;ground/1;split-rules/9;in=c8137ba65f9c",
			stage.PageAnalysis:     "analysis/1;llm-split/1;model=m;prompt=fea07a82f19c;ground/1;split-rules/9;in=3d4d5e39a8cf",
			stage.LLMExtraction:    "extract/1;llm/1;model=m;prompt=c55e18ac4de9;schema=4478ebb446b4;format=auto;ground/1;in=bb5a51b8a8b5",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			p, err := pipeline.New(pipeline.DefaultConfig(), pipeline.Deps{DB: db, Files: store.NewDirBlob(dir),
				Reader: namedReader{}, Splitter: tt.splitter, Extractor: tt.extractor})
			if err != nil {
				t.Fatal(err)
			}
			got := p.Versions()
			for _, s := range stage.All {
				if got[s] != tt.want[s] {
					t.Errorf("%s version\n got %q\nwant %q", s, got[s], tt.want[s])
				}
			}
		})
	}
}
