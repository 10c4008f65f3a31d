package rules

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/idp/idp/stage"
)

// TestParsedSharesPages: the splitter and the extractor of New read a page once between
// them, give what the uncached rules give, from many goroutines at once, and the cache
// stays within two generations of its size.
func TestParsedSharesPages(t *testing.T) {
	var pages []stage.PageText
	for i := range 40 {
		pages = append(pages, stage.PageText{Page: i, Source: stage.SourceTextLayer, Text: layout(
			[]string{fmt.Sprintf("Account Number: 4401-2231-%04d", i%3)},
			[]string{"Owner 1:", fmt.Sprintf("Maria Gonzalez %d", i%2)},
			[]string{"Home Phone (613) 338-7829"},
			[]string{"Mailing Address:", "400 Kozey Light, Weberburgh, HI 29922"},
		)})
	}
	ctx := context.Background()
	wantAccounts, err := Splitter{}.Split(ctx, pages)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]stage.Extraction, len(pages))
	for i, p := range pages {
		if want[i], err = (Extractor{}).Extract(ctx, stage.ExtractInput{Page: i, Text: p.Text, Source: p.Source}); err != nil {
			t.Fatal(err)
		}
	}
	splitter, extractor := New()
	splitter.parsed.max = 16 // shared with the extractor; small enough to evict in this test
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			accounts, err := splitter.Split(ctx, pages)
			if err != nil || !reflect.DeepEqual(accounts, wantAccounts) {
				t.Errorf("goroutine %d: split %+v, %v; want %+v", g, accounts, err, wantAccounts)
			}
			for i, p := range pages {
				got, err := extractor.Extract(ctx, stage.ExtractInput{Page: i, Text: p.Text, Source: p.Source})
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					t.Errorf("goroutine %d, page %d: %+v, %v; want %+v", g, i, got, err, want[i])
				}
			}
		}()
	}
	wg.Wait()
	c := splitter.parsed
	if n := len(c.cur) + len(c.old); n > 2*c.max {
		t.Errorf("the cache holds %d pages, more than twice its size %d", n, c.max)
	}
	if len(c.cur) == 0 {
		t.Error("the cache holds no page")
	}
}
