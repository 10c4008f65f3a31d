package stage

import "errors"

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
	ErrEncrypted  = errors.New("the PDF is encrypted (password protected)")
	ErrCorruptPDF = errors.New("the file is not a readable PDF")
)
