package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// pageReply is the contract's answer for a cached page.
func pageReply(pd pipeline.PageData, extra map[string]any) map[string]any {
	data := pd.Data
	if data == nil {
		data = stage.Fields{}
	}
	out := map[string]any{
		"success": true, "cached": true, "data": data, "account_number": pd.AccountNumber,
		"extraction_time": pd.ExtractionTime, "page": pd.Page, "account_index": pd.AccountIndex,
		"source": pd.Source, "extractor": pd.Extractor,
	}
	if len(pd.Flags) > 0 {
		out["flags"] = pd.Flags
	}
	if pd.Blank {
		out["blank"] = true
	}
	if pd.Error != "" {
		out["error"] = pd.Error
	}
	if len(pd.Evidence) > 0 {
		out["evidence"] = pd.Evidence
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// cachedData answers from the cache only: the page's data, or where the document stands.
func (s *server) cachedData(w http.ResponseWriter, r *http.Request, id string) error {
	page, err := intParam(r, "page_num")
	if err != nil {
		return err
	}
	// The hot path: a page answered before is sent from memory while its document's records
	// have not changed since (the generation is read before the record is).
	key := pageKey{id, page}
	gen := s.DB.CacheGeneration(id)
	if ans := s.answers.get(key, gen); ans != nil {
		ans.write(w, r)
		return nil
	}
	pd, err := s.Processor.PageData(r.Context(), id, page)
	if err == nil {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(pageReply(pd, nil)); err != nil {
			return err
		}
		ans := newAnswer(gen, buf.Bytes())
		s.answers.put(key, ans)
		ans.write(w, r)
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	st, err := s.Processor.Status(r.Context(), id)
	if err != nil {
		return err
	}
	if st.TotalPages > 0 && page >= st.TotalPages {
		return fmt.Errorf("page %d of a %d-page document: %w", page, st.TotalPages, pipeline.ErrPageRange)
	}
	out := map[string]any{
		"success": true, "cached": false, "processing": st.Status != string(store.StatusFailed),
		"stage": st.Stage, "progress": st.Progress, "pages_processed": st.PagesProcessed, "total_pages": st.TotalPages,
	}
	if st.Error != "" {
		out["error"] = st.Error
	}
	replyJSON(w, http.StatusOK, out)
	return nil
}

// extract answers from the cache, or extracts the page now, ahead of background work.
func (s *server) extract(w http.ResponseWriter, r *http.Request, id string) error {
	page, err := intParam(r, "page_num")
	if err != nil {
		return err
	}
	if _, err := s.Processor.PageData(r.Context(), id, page); err != nil && s.forwardToHolder(w, r, id) {
		return nil // not cached: the holder extracts it
	}
	res, err := s.Processor.ExtractPage(r.Context(), id, page)
	if err != nil {
		return err
	}
	replyJSON(w, http.StatusOK, pageReply(res.PageData, map[string]any{"cached": res.Cached, "provisional": res.Provisional}))
	return nil
}

// accountPage is page page_num (counted within the account, from 0) of one account.
func (s *server) accountPage(w http.ResponseWriter, r *http.Request, id string) error {
	n, err := intParam(r, "page_num")
	if err != nil {
		return err
	}
	idx, err := intParam(r, "account_index")
	if err != nil {
		return err
	}
	st, err := s.Processor.Status(r.Context(), id)
	if err != nil {
		return err
	}
	if st.Stages[stage.AccountSplitting].Status != string(store.StageCompleted) {
		replyJSON(w, http.StatusOK, map[string]any{
			"success": true, "cached": false, "processing": st.Status != string(store.StatusFailed), "stage": st.Stage,
			"progress": st.Progress, "pages_processed": st.PagesProcessed, "total_pages": st.TotalPages,
			"message": "accounts are not known yet",
		})
		return nil
	}
	if idx >= len(st.Accounts) {
		return fmt.Errorf("account %d of %d: %w", idx, len(st.Accounts), store.ErrNotFound)
	}
	acct := st.Accounts[idx]
	if n >= len(acct.Pages) {
		return fmt.Errorf("page %d of account %d, which has %d pages: %w", n, idx, len(acct.Pages), pipeline.ErrPageRange)
	}
	abs := acct.Pages[n]
	res, err := s.Processor.ExtractPage(r.Context(), id, abs)
	if err != nil {
		return err
	}
	replyJSON(w, http.StatusOK, pageReply(res.PageData, map[string]any{
		"cached": res.Cached, "account_index": idx, "page_in_account": n, "page": abs,
		"account_pages": len(acct.Pages), "account_number": acct.AccountNumber, "holders": acct.Holders,
	}))
	return nil
}
