package gen

import (
	"testing"

	"github.com/idp/idp/stage"
)

// TestTruthIsConsistent checks the ground truth of both generators against itself: every
// page is in exactly the account its truth names, every account has pages, a page's
// Account_Number is its account's, and the first page of every account prints its number.
func TestTruthIsConsistent(t *testing.T) {
	for _, layouts := range []string{LayoutsHouse, LayoutsOther} {
		for seed := uint64(1); seed <= 30; seed++ {
			p, err := Generate(Options{Seed: seed, Layouts: layouts})
			if err != nil {
				t.Fatal(err)
			}
			tr := p.Truth
			if tr.TotalPages != len(tr.Pages) || tr.TotalPages == 0 {
				t.Fatalf("%s/%d: %d pages, %d page results", layouts, seed, tr.TotalPages, len(tr.Pages))
			}
			owner := map[int]int{}
			for _, a := range tr.Accounts {
				if len(a.Pages) == 0 {
					t.Errorf("%s/%d: account %d has no pages", layouts, seed, a.Index)
				}
				if len(a.Holders) == 0 {
					t.Errorf("%s/%d: account %d has no holders", layouts, seed, a.Index)
				}
				for _, pg := range a.Pages {
					if prev, ok := owner[pg]; ok {
						t.Errorf("%s/%d: page %d in accounts %d and %d", layouts, seed, pg, prev, a.Index)
					}
					owner[pg] = a.Index
				}
				first := tr.Pages[a.Pages[0]]
				if stage.Digits(first.Data[stage.FieldAccountNumber].(string)) != stage.Digits(a.AccountNumber) {
					t.Errorf("%s/%d: first page %d of account %d does not print its number", layouts, seed, first.Page, a.Index)
				}
			}
			for _, pg := range tr.Pages {
				want, ok := owner[pg.Page]
				if !ok {
					want = -1
				}
				if pg.AccountIndex != want {
					t.Errorf("%s/%d: page %d says account %d, the accounts say %d", layouts, seed, pg.Page, pg.AccountIndex, want)
				}
				if n, ok := pg.Data[stage.FieldAccountNumber].(string); ok && (pg.AccountIndex < 0 || stage.Digits(n) != stage.Digits(tr.Accounts[pg.AccountIndex].AccountNumber)) {
					t.Errorf("%s/%d: page %d prints number %q but belongs to account %d", layouts, seed, pg.Page, n, pg.AccountIndex)
				}
				if pg.AccountIndex < 0 && len(pg.Data) > 0 {
					t.Errorf("%s/%d: page %d of no account has data %v", layouts, seed, pg.Page, pg.Data)
				}
			}
		}
	}
}

func TestUnknownLayouts(t *testing.T) {
	if _, err := Generate(Options{Seed: 1, Layouts: "mine"}); err == nil {
		t.Fatal("unknown layouts: no error")
	}
}
