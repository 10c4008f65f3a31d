package worker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/idp/idp/stage"
)

// The protocol: the server writes requests on the worker's fd 3 and reads answers on its fd
// 4, one answer per request, in order. Each message is a frame: a 4-byte big-endian length,
// then that many bytes of JSON. The worker's stdout and stderr are its log.

// maxFrame bounds one message (a PNG of a large page is the largest).
const maxFrame = 512 << 20

// Operations.
const (
	opHello   = "hello"
	opInspect = "inspect"
	opRead    = "read"
	opRender  = "render"
)

// request is one message to a worker. The password travels in it and nowhere else.
type request struct {
	Op      string                `json:"op"`
	Doc     wireDoc               `json:"doc"`
	Hello   *hello                `json:"hello,omitempty"`
	Inspect *stage.InspectOptions `json:"inspect,omitempty"`
	Page    *stage.PageRequest    `json:"page,omitempty"`
	Render  *stage.PageRequest    `json:"render,omitempty"`
}

type wireDoc struct {
	ID       string `json:"id,omitempty"`
	Path     string `json:"path,omitempty"`
	Password string `json:"password,omitempty"`
}

func (d wireDoc) doc() stage.Doc { return stage.Doc{ID: d.ID, Path: d.Path, Password: d.Password} }

func toWire(d stage.Doc) wireDoc { return wireDoc{ID: d.ID, Path: d.Path, Password: d.Password} }

// hello is the first request: the worker's configuration.
type hello struct {
	Lang string `json:"lang"`
	// MaxMB caps the worker's memory (setrlimit on its data segment); 0 for none.
	MaxMB int `json:"max_mb"`
	// StartOCR starts the OCR engine at once, so that a missing language fails here.
	StartOCR bool `json:"start_ocr,omitempty"`
}

// response is a worker's answer.
type response struct {
	Err     *wireError      `json:"err,omitempty"`
	Version string          `json:"version,omitempty"` // to hello
	PID     int             `json:"pid,omitempty"`     // to hello
	Info    *stage.DocInfo  `json:"info,omitempty"`
	Text    *stage.PageText `json:"text,omitempty"`
	PNG     []byte          `json:"png,omitempty"`
}

// wireError carries an error across the pipe with what the server needs to tell it apart.
type wireError struct {
	Kind string `json:"kind"`
	Page int    `json:"page,omitempty"`
	Msg  string `json:"msg"`
}

// Error kinds.
const (
	kindPage           = "page"
	kindPasswordNeeded = "password_needed"
	kindPasswordWrong  = "password_wrong"
	kindCorrupt        = "corrupt"
	kindOther          = "other"
)

func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	var pe *stage.PageError
	switch {
	case errors.As(err, &pe):
		return &wireError{Kind: kindPage, Page: pe.Page, Msg: pe.Reason}
	case errors.Is(err, stage.ErrPasswordNeeded):
		return &wireError{Kind: kindPasswordNeeded, Msg: err.Error()}
	case errors.Is(err, stage.ErrPasswordWrong):
		return &wireError{Kind: kindPasswordWrong, Msg: err.Error()}
	case errors.Is(err, stage.ErrCorruptPDF):
		return &wireError{Kind: kindCorrupt, Msg: err.Error()}
	}
	return &wireError{Kind: kindOther, Msg: err.Error()}
}

// decode turns a worker's error back into the errors of stage.
func (e *wireError) decode() error {
	switch e.Kind {
	case kindPage:
		return &stage.PageError{Page: e.Page, Reason: e.Msg}
	case kindPasswordNeeded:
		return stage.ErrPasswordNeeded
	case kindPasswordWrong:
		return stage.ErrPasswordWrong
	case kindCorrupt:
		if m, ok := trimPrefix(e.Msg, stage.ErrCorruptPDF.Error()); ok {
			return fmt.Errorf("%w%s", stage.ErrCorruptPDF, m)
		}
		return fmt.Errorf("%w: %s", stage.ErrCorruptPDF, e.Msg)
	}
	return errors.New(e.Msg)
}

func trimPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// writeFrame writes v as one frame.
func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxFrame {
		return fmt.Errorf("message of %d bytes is over the %d-byte frame limit", len(b), maxFrame)
	}
	buf := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	_, err = w.Write(append(buf, b...))
	return err
}

// readFrame reads one frame into v. io.EOF means the other end closed between frames.
func readFrame(r io.Reader, v any) error {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n > maxFrame {
		return fmt.Errorf("frame of %d bytes is over the %d-byte limit", n, maxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return json.Unmarshal(b, v)
}
