package mupdf

// What go-fitz does not offer, called on the MuPDF context and document that go-fitz made:
// passwords, whether the file was repaired, the declared size of a page's images, and a page
// drawn straight into 8-bit gray.
//
// go-fitz links a static MuPDF 1.24 but ships only part of its headers, so the few functions
// used here are declared by hand, as MuPDF 1.24 defines them (go.mod pins go-fitz, and with
// it that MuPDF). MuPDF reports errors by longjmp: every call that can throw runs inside
// TRY/CATCH, which are MuPDF's own fz_try/fz_catch spelled with its exported functions.

/*
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz_context fz_context;
typedef struct fz_document fz_document;
typedef struct fz_page fz_page;
typedef struct fz_device fz_device;
typedef struct fz_pixmap fz_pixmap;
typedef struct fz_colorspace fz_colorspace;
typedef struct fz_separations fz_separations;
typedef struct fz_cookie fz_cookie;
typedef struct pdf_document pdf_document;
typedef struct pdf_page pdf_page;
typedef struct pdf_obj pdf_obj;
typedef struct { float x0, y0, x1, y1; } fz_rect;
typedef struct { int x0, y0, x1, y1; } fz_irect;
typedef struct { float a, b, c, d, e, f; } fz_matrix;

sigjmp_buf *fz_push_try(fz_context *ctx);
int fz_do_try(fz_context *ctx);
int fz_do_catch(fz_context *ctx);
const char *fz_caught_message(fz_context *ctx);
void fz_report_error(fz_context *ctx);

int fz_needs_password(fz_context *ctx, fz_document *doc);
int fz_authenticate_password(fz_context *ctx, fz_document *doc, const char *password);
fz_page *fz_load_page(fz_context *ctx, fz_document *doc, int number);
void fz_drop_page(fz_context *ctx, fz_page *page);
fz_rect fz_bound_page(fz_context *ctx, fz_page *page);
fz_matrix fz_scale(float sx, float sy);
fz_rect fz_transform_rect(fz_rect rect, fz_matrix m);
fz_irect fz_round_rect(fz_rect rect);
fz_colorspace *fz_device_gray(fz_context *ctx);
fz_pixmap *fz_new_pixmap_with_bbox_and_data(fz_context *ctx, fz_colorspace *cs, fz_irect rect, fz_separations *seps, int alpha, unsigned char *samples);
void fz_clear_pixmap_with_value(fz_context *ctx, fz_pixmap *pix, int value);
fz_device *fz_new_draw_device(fz_context *ctx, fz_matrix transform, fz_pixmap *dest);
void fz_run_page(fz_context *ctx, fz_page *page, fz_device *dev, fz_matrix transform, fz_cookie *cookie);
void fz_close_device(fz_context *ctx, fz_device *dev);
void fz_drop_device(fz_context *ctx, fz_device *dev);
void fz_drop_pixmap(fz_context *ctx, fz_pixmap *pix);

typedef struct fz_alloc_context fz_alloc_context;
typedef struct fz_locks_context fz_locks_context;
fz_context *fz_new_context_imp(const fz_alloc_context *alloc, const fz_locks_context *locks, size_t max_store, const char *version);
void fz_drop_context(fz_context *ctx);
void fz_register_document_handlers(fz_context *ctx);
fz_document *fz_open_document(fz_context *ctx, const char *filename);
void fz_drop_document(fz_context *ctx, fz_document *doc);

pdf_document *pdf_specifics(fz_context *ctx, fz_document *doc);
int pdf_was_repaired(fz_context *ctx, pdf_document *doc);
pdf_page *pdf_page_from_fz_page(fz_context *ctx, fz_page *page);
pdf_obj *pdf_page_resources(fz_context *ctx, pdf_page *page);
pdf_obj *pdf_dict_gets(fz_context *ctx, pdf_obj *dict, const char *key);
int pdf_dict_len(fz_context *ctx, pdf_obj *dict);
pdf_obj *pdf_dict_get_val(fz_context *ctx, pdf_obj *dict, int i);
float pdf_to_real(fz_context *ctx, pdf_obj *obj);
const char *pdf_to_name(fz_context *ctx, pdf_obj *obj);

#define TRY(ctx) if (!sigsetjmp(*fz_push_try(ctx), 0)) if (fz_do_try(ctx)) do
#define CATCH(ctx) while (0); if (fz_do_catch(ctx))

// caught copies the message of the error caught, and reports it (to stderr: a worker's log).
static void caught(fz_context *ctx, char *err, int n) {
	snprintf(err, n, "%s", fz_caught_message(ctx));
	fz_report_error(ctx);
}

static int authenticate(fz_context *ctx, fz_document *doc, const char *password) {
	volatile int ok = 0;
	TRY(ctx) { ok = fz_authenticate_password(ctx, doc, password); }
	CATCH(ctx) { fz_report_error(ctx); ok = 0; }
	return ok;
}

// new_context is a context for documents opened one at a time (see serial); NULL when
// MuPDF cannot make one.
static fz_context *new_context(size_t max_store, const char *version) {
	fz_context *ctx = fz_new_context_imp(NULL, NULL, max_store, version);
	if (!ctx)
		return NULL;
	volatile int ok = 1;
	TRY(ctx) { fz_register_document_handlers(ctx); }
	CATCH(ctx) { fz_report_error(ctx); ok = 0; }
	if (!ok) {
		fz_drop_context(ctx);
		return NULL;
	}
	return ctx;
}

static fz_document *open_document(fz_context *ctx, const char *filename, char *err, int errn) {
	fz_document *volatile doc = NULL;
	TRY(ctx) { doc = fz_open_document(ctx, filename); }
	CATCH(ctx) { caught(ctx, err, errn); doc = NULL; }
	return doc;
}

static int needs_password(fz_context *ctx, fz_document *doc) {
	volatile int r = 0;
	TRY(ctx) { r = fz_needs_password(ctx, doc); }
	CATCH(ctx) { fz_report_error(ctx); r = 0; }
	return r;
}

static int was_repaired(fz_context *ctx, fz_document *doc) {
	volatile int r = 0;
	TRY(ctx) {
		pdf_document *pdf = pdf_specifics(ctx, doc);
		if (pdf)
			r = pdf_was_repaired(ctx, pdf);
	}
	CATCH(ctx) { fz_report_error(ctx); r = 0; }
	return r;
}

// page_box is the pixel box of page n drawn at dpi. 0 on success.
static int page_box(fz_context *ctx, fz_document *doc, int n, float dpi, fz_irect *box, char *err, int errn) {
	fz_page *volatile page = NULL;
	volatile int rc = 0;
	TRY(ctx) {
		page = fz_load_page(ctx, doc, n);
		fz_matrix ctm = fz_scale(dpi / 72, dpi / 72);
		*box = fz_round_rect(fz_transform_rect(fz_bound_page(ctx, page), ctm));
	}
	CATCH(ctx) { caught(ctx, err, errn); rc = -1; }
	if (page)
		fz_drop_page(ctx, page);
	return rc;
}

// render_gray draws page n at dpi into samples, one byte per pixel of box (page_box's
// answer), white first. The pixmap borrows samples and is dropped before returning.
static int render_gray(fz_context *ctx, fz_document *doc, int n, float dpi, fz_irect box, unsigned char *samples, char *err, int errn) {
	fz_page *volatile page = NULL;
	fz_pixmap *volatile pix = NULL;
	fz_device *volatile dev = NULL;
	volatile int rc = 0;
	TRY(ctx) {
		page = fz_load_page(ctx, doc, n);
		fz_matrix ctm = fz_scale(dpi / 72, dpi / 72);
		pix = fz_new_pixmap_with_bbox_and_data(ctx, fz_device_gray(ctx), box, NULL, 0, samples);
		fz_clear_pixmap_with_value(ctx, pix, 0xff);
		// The device scales; the page runs untransformed into it.
		fz_matrix identity = {1, 0, 0, 1, 0, 0};
		dev = fz_new_draw_device(ctx, ctm, pix);
		fz_run_page(ctx, page, dev, identity, NULL);
		fz_close_device(ctx, dev);
	}
	CATCH(ctx) { caught(ctx, err, errn); rc = -1; }
	if (dev)
		fz_drop_device(ctx, dev);
	if (pix)
		fz_drop_pixmap(ctx, pix);
	if (page)
		fz_drop_page(ctx, page);
	return rc;
}

typedef struct {
	double pixels; // the largest declared width * height
	double w, h;
	int budget;    // XObjects left to look at (a hostile file may hold millions)
} image_scan;

static void consider(fz_context *ctx, pdf_obj *img, image_scan *s) {
	double w = pdf_to_real(ctx, pdf_dict_gets(ctx, img, "Width"));
	double h = pdf_to_real(ctx, pdf_dict_gets(ctx, img, "Height"));
	if (w * h > s->pixels) {
		s->pixels = w * h;
		s->w = w;
		s->h = h;
	}
}

static void scan_xobjects(fz_context *ctx, pdf_obj *res, int depth, image_scan *s) {
	pdf_obj *xobjs = pdf_dict_gets(ctx, res, "XObject");
	int i, n = pdf_dict_len(ctx, xobjs);
	for (i = 0; i < n && s->budget > 0; i++) {
		pdf_obj *x = pdf_dict_get_val(ctx, xobjs, i);
		const char *sub = pdf_to_name(ctx, pdf_dict_gets(ctx, x, "Subtype"));
		s->budget--;
		if (!strcmp(sub, "Image")) {
			consider(ctx, x, s);
			consider(ctx, pdf_dict_gets(ctx, x, "SMask"), s);
		} else if (!strcmp(sub, "Form") && depth < 8) {
			scan_xobjects(ctx, pdf_dict_gets(ctx, x, "Resources"), depth + 1, s);
		}
	}
}

// largest_image finds the image XObject of page n (in its resources and those of the forms
// it draws) with the largest declared size, without decoding anything.
static int largest_image(fz_context *ctx, fz_document *doc, int n, image_scan *s, char *err, int errn) {
	fz_page *volatile page = NULL;
	volatile int rc = 0;
	TRY(ctx) {
		page = fz_load_page(ctx, doc, n);
		pdf_page *pp = pdf_page_from_fz_page(ctx, page);
		if (pp)
			scan_xobjects(ctx, pdf_page_resources(ctx, pp), 0, s);
	}
	CATCH(ctx) { caught(ctx, err, errn); rc = -1; }
	if (page)
		fz_drop_page(ctx, page);
	return rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"unsafe"

	"github.com/gen2brain/go-fitz"

	"github.com/idp/idp/stage"
)

// handles are the MuPDF context and document inside a go-fitz document (unexported there;
// read by name so that a go-fitz that renamed them fails loudly here rather than silently).
type handles struct {
	ctx *C.fz_context
	doc *C.fz_document
}

func handlesOf(d *fitz.Document) (handles, error) {
	v := reflect.ValueOf(d).Elem()
	ctx, doc := v.FieldByName("ctx"), v.FieldByName("doc")
	if !ctx.IsValid() || !doc.IsValid() || ctx.Kind() != reflect.Pointer || doc.Kind() != reflect.Pointer {
		return handles{}, errors.New("mupdf: this go-fitz keeps no ctx and doc fields")
	}
	h := handles{ctx: (*C.fz_context)(ctx.UnsafePointer()), doc: (*C.fz_document)(doc.UnsafePointer())}
	if h.ctx == nil || h.doc == nil {
		return handles{}, errors.New("mupdf: the document is not open")
	}
	return h, nil
}

func (h handles) authenticate(password string) bool {
	cs := C.CString(password)
	defer func() {
		// The password does not outlive the call in C memory either.
		C.memset(unsafe.Pointer(cs), 0, C.size_t(len(password)))
		C.free(unsafe.Pointer(cs))
	}()
	return C.authenticate(h.ctx, h.doc, cs) != 0
}

func (h handles) repaired() bool { return C.was_repaired(h.ctx, h.doc) != 0 }

const errLen = 512

func cError(buf []C.char) string { return C.GoString(&buf[0]) }

// pageBox is the pixel rectangle of page n drawn at dpi.
func (h handles) pageBox(n int, dpi float64) (image.Rectangle, error) {
	var box C.fz_irect
	errBuf := make([]C.char, errLen)
	if C.page_box(h.ctx, h.doc, C.int(n), C.float(dpi), &box, &errBuf[0], errLen) != 0 {
		return image.Rectangle{}, fmt.Errorf("page %d: %s", n, cError(errBuf))
	}
	return image.Rect(int(box.x0), int(box.y0), int(box.x1), int(box.y1)), nil
}

// renderGray draws page n at dpi into a new gray image of box (pageBox's answer).
func (h handles) renderGray(n int, dpi float64, box image.Rectangle) (*image.Gray, error) {
	img := image.NewGray(image.Rect(0, 0, box.Dx(), box.Dy()))
	if len(img.Pix) == 0 {
		return img, nil
	}
	cbox := C.fz_irect{x0: C.int(box.Min.X), y0: C.int(box.Min.Y), x1: C.int(box.Max.X), y1: C.int(box.Max.Y)}
	errBuf := make([]C.char, errLen)
	// MuPDF draws into the Go buffer and lets go of it before render_gray returns.
	if C.render_gray(h.ctx, h.doc, C.int(n), C.float(dpi), cbox, (*C.uchar)(unsafe.Pointer(&img.Pix[0])), &errBuf[0], errLen) != 0 {
		return nil, fmt.Errorf("render page %d: %s", n, cError(errBuf))
	}
	return img, nil
}

// largestImage is the declared size of the largest image page n draws.
func (h handles) largestImage(n int) (w, h2 float64, err error) {
	s := C.image_scan{budget: 10000}
	errBuf := make([]C.char, errLen)
	if C.largest_image(h.ctx, h.doc, C.int(n), &s, &errBuf[0], errLen) != 0 {
		return 0, 0, fmt.Errorf("page %d: %s", n, cError(errBuf))
	}
	return float64(s.w), float64(s.h), nil
}

// serial is one MuPDF context for documents opened one after the other. go-fitz makes a
// context per document, and a context's first text extraction loads FreeType and the
// standard fonts: most of what a one-page document costs to read. A worker process reads
// one document at a time, so its documents share a context and load those once.
type serial struct {
	mu   sync.Mutex
	ctx  *C.fz_context
	busy bool // a document of ctx is open
}

// open opens path in the shared context, as go-fitz's New would, and hands the document to
// go-fitz (whose text extraction and page bounds the rest of this package uses).
func (s *serial) open(path, password string) (*fitzPDF, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy {
		return nil, errors.New("mupdf: a serial renderer opens one document at a time")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, fitz.ErrNoSuchFile)
	}
	if s.ctx == nil {
		version := C.CString(fitz.FzVersion)
		s.ctx = C.new_context(C.size_t(fitz.MaxStore), version)
		C.free(unsafe.Pointer(version))
		if s.ctx == nil {
			return nil, errors.New("mupdf: cannot make a context")
		}
	}
	cpath := C.CString(abs)
	defer C.free(unsafe.Pointer(cpath))
	var msg [errLen]C.char
	doc := C.open_document(s.ctx, cpath, &msg[0], errLen)
	if doc == nil {
		return nil, fmt.Errorf("%w (MuPDF: %s)", stage.ErrCorruptPDF, cError(msg[:]))
	}
	h := handles{ctx: s.ctx, doc: doc}
	d, err := adopt(h)
	if err == nil && C.needs_password(s.ctx, doc) != 0 {
		err = authenticate(d, password)
	}
	if err != nil {
		C.fz_drop_document(s.ctx, doc)
		return nil, err
	}
	s.busy = true
	return &fitzPDF{d: d, h: h, pages: d.NumPage(), serial: s}, nil
}

// close drops a document open() opened; the context stays for the next.
func (s *serial) close(h handles) {
	s.mu.Lock()
	defer s.mu.Unlock()
	C.fz_drop_document(h.ctx, h.doc)
	s.busy = false
}

// adopt makes a go-fitz document of a context and document made here: go-fitz keeps them
// in unexported fields, set by name (as handlesOf reads them). It must never be closed by
// go-fitz, which would drop the shared context.
func adopt(h handles) (*fitz.Document, error) {
	d := new(fitz.Document)
	v := reflect.ValueOf(d).Elem()
	for name, p := range map[string]unsafe.Pointer{"ctx": unsafe.Pointer(h.ctx), "doc": unsafe.Pointer(h.doc)} {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Pointer {
			return nil, errors.New("mupdf: this go-fitz keeps no ctx and doc fields")
		}
		*(*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr())) = p
	}
	return d, nil
}
