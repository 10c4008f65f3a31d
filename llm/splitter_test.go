package llm_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/idp/idp/llm"
	"github.com/idp/idp/llm/llmtest"
	"github.com/idp/idp/rules"
	"github.com/idp/idp/stage"
)

// splitPages: an account the rules read (labelled), and one printed without a label that
// only a model finds.
var splitPages = []stage.PageText{
	{Page: 0, Text: "FIRST PRAIRIE BANK\nAccount Number: 1234567890\nAccount Holder: Jane Q. Public\nStatement Period: 01/01/2024 - 01/31/2024"},
	{Page: 1, Text: "Transactions continued\n01/05   Deposit   100.00"},
	{Page: 2, Text: "SAVINGS SUMMARY for acct 5555666677\nJohn A. Smith\n88 Elm St\nChicago, IL 60601"},
	{Page: 3, Text: "Interest earned   2.00\nPage 2 of 2"},
}

func TestLLMSplitter(t *testing.T) {
	rulesAccounts, err := rules.Splitter{}.Split(context.Background(), splitPages)
	if err != nil {
		t.Fatal(err)
	}
	if len(rulesAccounts) != 1 || !reflect.DeepEqual(rulesAccounts[0].Pages, []int{0, 1, 2, 3}) {
		t.Fatalf("the rules read %+v; the test needs one account over all pages", rulesAccounts)
	}
	propose := func(accounts ...map[string]any) llmtest.Script {
		return func(llmtest.Request) llmtest.Fault {
			return llmtest.Fault{Edit: func(f map[string]any, _ llmtest.Request) {
				list := f["accounts"].([]any)
				for _, a := range accounts {
					list = append(list, a)
				}
				f["accounts"] = list
			}}
		}
	}
	missed := map[string]any{"account_number": "5555666677", "holders": []string{"John A. Smith", "Invented Person"}, "pages": []int{2, 3}}
	cases := []struct {
		name     string
		script   llmtest.Script
		accounts []stage.Account
		maps     []int
	}{
		{"confirms the rules", nil, rulesAccounts, []int{0, 0, 0, 0}},
		{"adds an account the rules missed", propose(missed), []stage.Account{
			{Index: 0, AccountNumber: "1234567890", Holders: []string{"Jane Q. Public"}, Pages: []int{0, 1}},
			{Index: 1, AccountNumber: "5555666677", Holders: []string{"John A. Smith"}, Pages: []int{2, 3}},
		}, []int{0, 0, 1, 1}},
		{"ignores an account not printed", propose(map[string]any{"account_number": "9999-0000-1111", "holders": []string{}, "pages": []int{3}}), rulesAccounts, []int{0, 0, 0, 0}},
		{"the rules answer when the model fails", func(llmtest.Request) llmtest.Fault { return llmtest.ServerError() }, rulesAccounts, []int{0, 0, 0, 0}},
		{"the rules answer an invalid answer", func(llmtest.Request) llmtest.Fault { return llmtest.Content(`{"accounts": "none"}`) }, rulesAccounts, []int{0, 0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := llmtest.NewServer(t)
			srv.SetScript(c.script)
			cfg := srv.Config(newFakeClock())
			cfg.MaxRetries = 1
			s := llm.NewSplitter(llmtest.NewExtractor(t, cfg))
			got, err := s.Split(context.Background(), splitPages)
			if err != nil {
				t.Fatal(err)
			}
			if mustJSON(got) != mustJSON(c.accounts) {
				t.Errorf("accounts\n%s\nwant\n%s", mustJSON(got), mustJSON(c.accounts))
			}
			maps, err := s.MapPages(context.Background(), splitPages, got)
			if err != nil {
				t.Fatal(err)
			}
			var idx []int
			for _, m := range maps {
				idx = append(idx, m.AccountIndex)
			}
			if !reflect.DeepEqual(idx, c.maps) {
				t.Errorf("pages map to %v, want %v (%+v)", idx, c.maps, maps)
			}
			if srv.RequestCount() == 0 {
				t.Error("the model was not asked")
			}
			r := srv.Requests()[0]
			if r.SchemaName != llm.SplitSchemaName || len(r.Pages) != len(splitPages) || r.Pages[2].Number != 2 {
				t.Errorf("request: schema %q, %d pages", r.SchemaName, len(r.Pages))
			}
		})
	}
	v := llm.NewSplitter(llmtest.NewExtractor(t, llmtest.NewServer(t).Config(nil))).Version()
	if v == (rules.Splitter{}).Version() {
		t.Error("the LLM splitter has the rules' version")
	}
}
