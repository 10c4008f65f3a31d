package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/idp/idp/store"
)

// TokenUsage is what a model extractor spent on a document's pages.
type TokenUsage struct {
	// Pages counts the pages with a stage 4 record of the running configuration.
	Pages            int   `json:"pages"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// DocumentTokens sums the prompt and completion tokens of a document's pages cached under
// the running configuration (pages made by another model or prompt are not counted).
// store.ErrNotFound when there is no such document.
func (p *Processor) DocumentTokens(ctx context.Context, id string) (TokenUsage, error) {
	var u TokenUsage
	err := p.db.View(ctx, func(tx *store.Tx) error {
		if _, err := tx.Document(id); err != nil {
			return err
		}
		return tx.CacheEntries(store.PageDataPrefix(id), func(e store.CacheEntry) error {
			if e.Record.Version != p.versions.extract {
				return nil
			}
			var pd PageData
			if err := json.Unmarshal(e.Record.Data, &pd); err != nil {
				return fmt.Errorf("decode %s: %w", e.Key, err)
			}
			u.Pages++
			u.PromptTokens += int64(pd.PromptTokens)
			u.CompletionTokens += int64(pd.CompletionTokens)
			return nil
		})
	})
	return u, err
}
