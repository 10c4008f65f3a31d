package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/idp/idp/stage"
)

// Child mode: how a worker process knows it is one. The pool starts its command with this
// variable set; `idp worker` and a test binary (idptest.Main) then run RunChild.
const ChildEnv = "IDP_WORKER_PROCESS"

// The worker's ends of the pipes: requests in, answers out.
const (
	requestFD = 3
	answerFD  = 4
)

// RunChild is a worker process's main: it serves requests on fd 3 and answers on fd 4 until
// the server closes fd 3 (or dies), then returns.
func RunChild(eng Engines) error {
	in := os.NewFile(requestFD, "requests")
	out := os.NewFile(answerFD, "answers")
	if in == nil || out == nil {
		return errors.New("worker: started without its pipes (it is started by idp serve and idp process)")
	}
	defer in.Close()
	defer out.Close()
	return Serve(context.Background(), in, out, eng)
}

// Serve answers the requests read from in on out with the engines, one at a time, until in
// ends. The first request must be hello.
func Serve(ctx context.Context, in io.Reader, out io.Writer, eng Engines) error {
	var local *Local
	defer func() {
		if local != nil {
			local.Close()
		}
	}()
	for {
		var req request
		if err := readFrame(in, &req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("worker: read request: %w", err)
		}
		var resp response
		var err error
		switch {
		case req.Op == opHello && req.Hello != nil:
			if local != nil {
				local.Close()
			}
			if err = limitMemory(req.Hello.MaxMB); err == nil {
				local = NewLocal(eng, req.Hello.Lang)
				if req.Hello.StartOCR {
					err = local.StartOCR()
				}
				resp.Version, resp.PID = local.Version(), os.Getpid()
			}
		case local == nil:
			err = errors.New("worker: no hello before " + req.Op)
		case req.Op == opInspect && req.Inspect != nil:
			var info stage.DocInfo
			info, err = local.Inspect(ctx, req.Doc.doc(), *req.Inspect)
			resp.Info = &info
		case req.Op == opRead && req.Page != nil:
			var pt stage.PageText
			pt, err = local.ReadPage(ctx, req.Doc.doc(), *req.Page)
			resp.Text = &pt
		case req.Op == opRender && req.Render != nil:
			resp.PNG, err = local.RenderPNG(ctx, req.Doc.doc(), *req.Render)
		default:
			err = fmt.Errorf("worker: unknown request %q", req.Op)
		}
		resp.Err = encodeError(err)
		if err := writeFrame(out, resp); err != nil {
			return fmt.Errorf("worker: write answer: %w", err)
		}
		if resp.PNG != nil || (resp.Text != nil && resp.Text.Source == stage.SourceOCR) {
			release(eng)
		}
	}
}

// release gives back to the system what a rendered page took and freed: a page's buffers
// are tens of megabytes, and neither Go's heap nor the C heap returns them soon by itself.
// It runs after the answer is written, while the server has no page waiting on it.
func release(eng Engines) {
	debug.FreeOSMemory()
	if eng.Trim != nil {
		eng.Trim()
	}
}

// limitMemory caps this process's data segment at mb MiB (setrlimit RLIMIT_DATA: the heap,
// Go's and C's, and every private writable mapping). An allocation past it fails: in MuPDF
// an error, in Go or Tesseract the end of the process, which the server sees and blames on
// the page. The Go heap is asked to stay well under it, so garbage alone never reaches it.
func limitMemory(mb int) error {
	if mb <= 0 {
		return nil
	}
	limit := uint64(mb) << 20
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		return fmt.Errorf("worker: cap memory at %d MB: %w", mb, err)
	}
	debug.SetMemoryLimit(int64(limit / 2))
	return nil
}
