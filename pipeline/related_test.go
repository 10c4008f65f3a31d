package pipeline_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// relatedExtractor wraps the rule extractor and records the related pages each page was
// given.
type relatedExtractor struct {
	mu   sync.Mutex
	seen map[int][]int
}

func (r *relatedExtractor) Extract(ctx context.Context, in stage.ExtractInput) (stage.Extraction, error) {
	pages := []int{}
	for _, pt := range in.Related {
		pages = append(pages, pt.Page)
	}
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[int][]int{}
	}
	r.seen[in.Page] = pages
	r.mu.Unlock()
	return rules.Extractor{}.Extract(ctx, in)
}

func (r *relatedExtractor) Version() string { return "related/1" }
func (r *relatedExtractor) Name() string    { return "related" }

func (r *relatedExtractor) pages(page int) ([]int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.seen[page]
	return p, ok
}

// TestExtractorSeesRelatedPages: stage 4 gives the extractor each page's related pages
// (stage.RelatedPages), and a page extracted on demand, once the pages are mapped, gets the
// same ones: what is cached does not depend on who asked first.
func TestExtractorSeesRelatedPages(t *testing.T) {
	p := idptest.Generate(t, gen.Options{Seed: 9, Accounts: 3})
	ex := &relatedExtractor{}
	e := idptest.NewEnv(t, t.TempDir(), pipeline.Config{}, func(d *pipeline.Deps) { d.Extractor = ex })
	id := e.Submit(t, "p.pdf", p.PDF, store.PriorityNormal)
	e.Start(t)
	if d := e.Wait(t, time.Minute, id)[id]; d.Status != store.StatusCompleted {
		t.Fatalf("%s: %s", d.Status, d.Error)
	}
	res, err := e.Proc.Result(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	readable := map[int]bool{}
	for _, pr := range res.Pages {
		readable[pr.Page] = !pr.Blank && pr.Error == ""
	}
	checked := -1
	for _, pr := range res.Pages {
		got, ok := ex.pages(pr.Page)
		if !readable[pr.Page] {
			if ok {
				t.Errorf("page %d has nothing to read but was extracted", pr.Page)
			}
			continue
		}
		if !ok {
			t.Fatalf("page %d was not extracted", pr.Page)
		}
		var want []int
		for d := 1; d < len(res.Pages); d++ {
			for _, q := range []int{pr.Page - d, pr.Page + d} {
				if readable[q] && len(want) < stage.MaxRelated {
					want = append(want, q)
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("page %d was given related pages %v, want %v", pr.Page, got, want)
		}
		checked = pr.Page
	}
	if checked < 0 {
		t.Fatal("no page was extracted")
	}
	background, _ := ex.pages(checked)
	err = e.DB.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.DeleteCache(store.PageDataKey(id, checked))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ex.mu.Lock()
	delete(ex.seen, checked)
	ex.mu.Unlock()
	now, err := e.Proc.ExtractPage(context.Background(), id, checked)
	if err != nil {
		t.Fatal(err)
	}
	if now.Cached {
		t.Fatalf("page %d came from the cache after its record was dropped", checked)
	}
	if got, _ := ex.pages(checked); !slices.Equal(got, background) {
		t.Errorf("page %d on demand was given related pages %v, in the background %v", checked, got, background)
	}
}
