// Package worker runs the C engines (MuPDF and Tesseract) in supervised worker processes, so
// that no PDF can take the server down and none can keep its CPU past the page time limit.
//
// The server side is Pool, a stage.Reader: it starts worker processes of the same binary
// (`idp worker`, or a test binary in worker mode), one per page slot, talks to each over two
// pipes (length-prefixed JSON frames), and supervises them: a memory cap per worker
// (setrlimit in the child), a time limit per page (the worker is killed, so its CPU comes
// back at once), recycling after a number of pages (which bounds the engines' leaks), and
// blame: a worker that dies fails the page it was on, the page is retried once in another
// worker, and a page that stops two workers is quarantined (a *stage.PageError). What a
// worker prints (MuPDF's warnings) is logged through slog with the document and page it was
// working on.
//
// The worker side is RunChild: it reads requests, answers them with Local (the engines in
// this process, over stage's interfaces), and writes the answers back.
//
// The package imports stage only: the engines are passed in (cmd and idptest pass mupdf and
// tesseract), so neither the server's processor nor this supervisor links them.
package worker
