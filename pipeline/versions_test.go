package pipeline_test

import (
	"context"
	"image"
	"testing"

	"github.com/idp/idp/llm"
	"github.com/idp/idp/llm/llmtest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// namedRenderer and namedOCR stand for engines of a fixed version; they are never called.
type namedRenderer struct{}

func (namedRenderer) Open(string) (stage.PDF, error) { panic("not called") }
func (namedRenderer) Version() string                { return "mupdf-T" }

type namedOCR struct{}

func (namedOCR) Recognize(context.Context, *image.Gray, int) (stage.OCRPage, error) {
	panic("not called")
}
func (namedOCR) Version() string { return "tesseract-T/eng" }
func (namedOCR) Close() error    { return nil }

// TestCacheVersionsDoNotMove pins the cache versions the default configuration writes, with the
// rules and with a model. A cached record is served only when its version is the running one,
// so a change here makes every cached result in every deployment stale: it must be deliberate
// (a change of what a stage produces), never a side effect of moving code.
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
			stage.OCRExtraction:    "ocr/1;mupdf-T;tesseract-T/eng;dpi=300;textrule/1;layout/2",
			stage.AccountSplitting: "split/1;split-rules/7;in=1c4f7f13ed8c",
			stage.PageAnalysis:     "analysis/1;split-rules/7;in=57564a822de3",
			stage.LLMExtraction:    "extract/1;extract-rules/7;schema=default;in=77aa788f9211",
		}},
		{"model", llm.NewSplitter(x), x, map[string]string{
			stage.OCRExtraction:    "ocr/1;mupdf-T;tesseract-T/eng;dpi=300;textrule/1;layout/2",
			stage.AccountSplitting: "split/1;llm-split/1;model=m;prompt=fea07a82f19c;ground/1;split-rules/7;in=1c4f7f13ed8c",
			stage.PageAnalysis:     "analysis/1;llm-split/1;model=m;prompt=fea07a82f19c;ground/1;split-rules/7;in=385c367995a3",
			stage.LLMExtraction:    "extract/1;llm/1;model=m;prompt=c55e18ac4de9;schema=4478ebb446b4;format=auto;ground/1;in=aad787569626",
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
				Renderer: namedRenderer{}, OCR: namedOCR{}, Splitter: tt.splitter, Extractor: tt.extractor})
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
