package stage

import (
	"errors"
	"fmt"
)

// Stage names, as the API, the logs and the progress records spell them.
const (
	OCRExtraction    = "ocr_extraction"
	AccountSplitting = "account_splitting"
	PageAnalysis     = "page_analysis"
	LLMExtraction    = "llm_extraction"
	Completed        = "completed"
	Failed           = "failed"
)

// All are the four stages in order.
var All = []string{OCRExtraction, AccountSplitting, PageAnalysis, LLMExtraction}

// Permanent marks an error that retrying cannot fix (a corrupt or encrypted PDF, a limit
// exceeded, a model that refuses the request): the document fails at once.
type Permanent struct{ Err error }

func (e *Permanent) Error() string { return e.Err.Error() }
func (e *Permanent) Unwrap() error { return e.Err }

// NewPermanent wraps err as Permanent.
func NewPermanent(err error) error { return &Permanent{Err: err} }

// IsPermanent reports whether err, or an error it wraps, is Permanent.
func IsPermanent(err error) bool {
	var p *Permanent
	return errors.As(err, &p)
}

// Errors about the input file itself: retrying will not help.
var (
	// ErrEncrypted is wrapped by both password errors.
	ErrEncrypted = errors.New("encrypted")
	// ErrPasswordNeeded: the PDF is encrypted and no password came with it.
	ErrPasswordNeeded = fmt.Errorf("%w: a password is needed", ErrEncrypted)
	// ErrPasswordWrong: the password that came with the PDF does not open it.
	ErrPasswordWrong = fmt.Errorf("%w: the password is wrong", ErrEncrypted)
	ErrCorruptPDF    = errors.New("the file is not a readable PDF")
)
