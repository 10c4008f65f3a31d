package pipeline

import (
	"bytes"
	"context"
	"regexp"
	"time"

	"github.com/idp/idp/stage"
	"github.com/idp/idp/store"
)

// loanWords are what a loan document says about itself.
var loanWords = regexp.MustCompile(`(?i)\b(?:loan\s+(?:number|no\.?|#|application|amount|packet|agreement)|borrower|co-borrower|mortgage|promissory\s+note|heloc|home\s+equity|line\s+of\s+credit|underwriting)\b`)

// loanName recognises a loan document by its file name.
var loanName = regexp.MustCompile(`(?i)loan|mortgage|heloc|borrower|credit[-_ ]?app|refinanc`)

// looksLikeLoan reports whether text (or a file name) shows a loan document.
func looksLikeLoan(fileName, text string) bool {
	return loanName.MatchString(fileName) || len(loanWords.FindAllStringIndex(text, 3)) >= 2
}

// sniffLoan reads the text layer of a file's first pages (in a worker; no OCR: an upload
// must answer fast) to tell a loan document at upload.
func (p *Processor) sniffLoan(ctx context.Context, path, fileName, password string) bool {
	if loanName.MatchString(fileName) {
		return true
	}
	// The upload waits for this: a file that takes long to open is not worth the wait (its
	// worker is killed at the deadline).
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := p.reader.Inspect(ctx, stage.Doc{ID: "upload", Path: path, Password: password}, stage.InspectOptions{TextPages: 3})
	return err == nil && looksLikeLoan(fileName, info.Text)
}

// raiseLoanPriority gives a document high priority once its text shows a loan document. The
// write is carried in c with stage 1's end: it only matters once the document goes back to
// the queue, which the try's end commits after it.
func (p *Processor) raiseLoanPriority(d store.Document, pages []stage.PageText, c *carried) {
	if d.Priority == store.PriorityHigh {
		return
	}
	var text bytes.Buffer
	for _, pt := range pages {
		text.WriteString(pt.Text)
		text.WriteByte('\n')
	}
	if !looksLikeLoan(d.FileName, text.String()) {
		return
	}
	c.add(func(tx *store.Tx) error {
		_, err := tx.UpdateDocument(d.ID, func(d *store.Document) error { d.Priority = store.PriorityHigh; return nil })
		return err
	}, func() {
		p.log.Info("Loan document: priority raised to high", "doc_id", d.ID)
		p.publish(Event{Type: EventPriorities, DocID: d.ID, Status: "priority 0"})
	})
}
