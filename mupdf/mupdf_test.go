package mupdf_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gen2brain/go-fitz"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/mupdf"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/testdata/gen"
)

func write(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.pdf")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t *testing.T, path, password string) stage.PDF {
	t.Helper()
	pdf, err := mupdf.Renderer{}.Open(path, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pdf.Close() })
	return pdf
}

// TestRenderGray: the page drawn straight into gray is go-fitz's RGBA drawing of it, in gray.
func TestRenderGray(t *testing.T) {
	for _, scanned := range []bool{false, true} {
		p := idptest.Generate(t, gen.Options{Seed: 5, Accounts: 2, Scanned: scanned})
		path := write(t, p.PDF)
		const dpi = 100
		got, err := open(t, path, "").RenderGray(0, dpi)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := fitz.New(path)
		if err != nil {
			t.Fatal(err)
		}
		rgba, err := doc.ImageDPI(0, dpi)
		doc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got.Bounds().Size() != rgba.Bounds().Size() {
			t.Fatalf("scanned %v: gray %v, RGBA %v", scanned, got.Bounds(), rgba.Bounds())
		}
		var diff, ink int64
		for i, g := range got.Pix {
			px := rgba.Pix[i*4 : i*4+3]
			want := (299*int64(px[0]) + 587*int64(px[1]) + 114*int64(px[2])) / 1000
			d := int64(g) - want
			diff += max(d, -d)
			if want < 128 {
				ink++
			}
		}
		mean := float64(diff) / float64(len(got.Pix))
		if mean > 2 || ink < int64(len(got.Pix)/200) {
			t.Errorf("scanned %v: mean difference %.2f levels over %d pixels (%d dark in the RGBA drawing)", scanned, mean, len(got.Pix), ink)
		}
	}
}

// TestOpenErrors: encrypted files need their password; an owner password alone (the right to
// change the file) needs none; garbage is not a PDF.
func TestOpenErrors(t *testing.T) {
	lines := []string{"Account Number 4401 2231 0097"}
	userPDF := write(t, idptest.TextPDF(t, 0, "user-pw", "owner-pw", lines))
	ownerPDF := write(t, idptest.TextPDF(t, 0, "", "owner-pw", lines))
	garbage := write(t, []byte("%PDF-1.7\nnot a pdf at all"))
	tests := []struct {
		name, path, password string
		want                 error
	}{
		{"user password missing", userPDF, "", stage.ErrPasswordNeeded},
		{"user password wrong", userPDF, "nope", stage.ErrPasswordWrong},
		{"user password right", userPDF, "user-pw", nil},
		{"the owner password opens it too", userPDF, "owner-pw", nil},
		{"owner password only", ownerPDF, "", nil},
		{"not a PDF", garbage, "", stage.ErrCorruptPDF},
	}
	// The serial renderer goes through every case with the one context, failures included.
	for rname, r := range map[string]mupdf.Renderer{"own context": {}, "serial": mupdf.NewSerial()} {
		for _, tt := range tests {
			t.Run(rname+"/"+tt.name, func(t *testing.T) {
				openAndRead(t, r, tt.path, tt.password, tt.want)
			})
		}
	}
}

func openAndRead(t *testing.T, r mupdf.Renderer, path, password string, want error) {
	t.Helper()
	pdf, err := r.Open(path, password)
	if !errors.Is(err, want) {
		t.Fatalf("open: %v, want %v", err, want)
	}
	if err != nil {
		return
	}
	defer pdf.Close()
	tl, err := pdf.TextLayer(0)
	if err != nil || len(tl.Spans) == 0 {
		t.Errorf("text layer of the opened file: %+v %v", tl, err)
	}
}

// TestLargestImage reads the declared size of a page's images, drawn directly or through a
// form, without decoding them; and the repair flag.
func TestLargestImage(t *testing.T) {
	small := idptest.RawImage{Width: 40, Height: 30, Data: make([]byte, 1200)}
	bomb := idptest.RawImage{Width: 100000, Height: 90000, Data: []byte{0}}
	path := write(t, idptest.RawPDF(
		idptest.RawPage{Content: "q 100 0 0 100 0 0 cm /Im0 Do Q", Images: []idptest.RawImage{small}},
		idptest.RawPage{Content: "q 612 0 0 792 0 0 cm /Im1 Do Q", Images: []idptest.RawImage{small, bomb}},
		idptest.RawPage{Content: "0 0 m 10 10 l S"},
	))
	pdf := open(t, path, "")
	want := [][2]float64{{40, 30}, {100000, 90000}, {0, 0}}
	for n, w := range want {
		iw, ih, err := pdf.LargestImage(n)
		if err != nil || iw != w[0] || ih != w[1] {
			t.Errorf("page %d: %v x %v, %v; want %v", n, iw, ih, err, w)
		}
	}
	if pdf.Repaired() {
		t.Error("a sound file reported repaired")
	}
	damaged := open(t, filepath.Join("..", "testdata", "corpus", "bad", "qpdf-bad-xref.pdf"), "")
	if !damaged.Repaired() {
		t.Error("a file with a broken xref table was not reported repaired")
	}
}

// TestSerialRendererReadsAsItsOwn: documents read one after the other through one shared
// context give the text, the page size and the drawing each gives with its own context;
// a second document cannot be opened while one is; closing twice is harmless. (Each
// document's own-context twin stays open until the end, beside the shared context.)
func TestSerialRendererReadsAsItsOwn(t *testing.T) {
	serial := mupdf.NewSerial()
	var paths []string
	for i := range 6 {
		p, err := gen.SignatureCard(uint64(700 + i))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, write(t, p.PDF))
	}
	packet, err := gen.Generate(gen.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, write(t, packet.PDF))
	for i, path := range paths {
		own := open(t, path, "")
		shared, err := serial.Open(path, "")
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if _, err := serial.Open(paths[0], ""); err == nil {
			t.Fatalf("document %d: a second document opened while one is open", i)
		}
		if own.NumPages() != shared.NumPages() {
			t.Fatalf("document %d: %d pages, with its own context %d", i, shared.NumPages(), own.NumPages())
		}
		for n := range min(own.NumPages(), 3) {
			a, errA := own.TextLayer(n)
			b, errB := shared.TextLayer(n)
			if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
				t.Errorf("document %d page %d: text %v %v differs from its own context's", i, n, errB, errA)
			}
			wa, ha, _ := own.PageSize(n)
			wb, hb, _ := shared.PageSize(n)
			if wa != wb || ha != hb {
				t.Errorf("document %d page %d: size %vx%v, with its own context %vx%v", i, n, wb, hb, wa, ha)
			}
			ga, errA := own.RenderGray(n, 50)
			gb, errB := shared.RenderGray(n, 50)
			if errA != nil || errB != nil || !bytes.Equal(ga.Pix, gb.Pix) {
				t.Errorf("document %d page %d: drawing differs from its own context's (%v, %v)", i, n, errB, errA)
			}
		}
		if err := shared.Close(); err != nil {
			t.Fatal(err)
		}
		shared.Close()
	}
}

// BenchmarkOneCardDocuments opens and reads 50 one-page documents one after the other, as a
// worker process does, each with its own MuPDF context (go-fitz's way) and through one
// shared context (NewSerial), and prints the time a card takes. Run with `make bench`, or:
//
//	go test -run '^$' -bench OneCardDocuments -benchtime 1x ./mupdf/
func BenchmarkOneCardDocuments(b *testing.B) {
	var paths []string
	dir := b.TempDir()
	for i := range 50 {
		p, err := gen.SignatureCard(uint64(5000 + i))
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("card-%d.pdf", i))
		if err := os.WriteFile(path, p.PDF, 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, path)
	}
	for _, bc := range []struct {
		name string
		r    mupdf.Renderer
	}{{"own-context", mupdf.Renderer{}}, {"serial", mupdf.NewSerial()}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				for _, path := range paths {
					pdf, err := bc.r.Open(path, "")
					if err != nil {
						b.Fatal(err)
					}
					if _, err := pdf.TextLayer(0); err != nil {
						b.Fatal(err)
					}
					pdf.Close()
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*len(paths)), "ms/card")
		})
	}
}
