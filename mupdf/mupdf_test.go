package mupdf_test

import (
	"errors"
	"os"
	"path/filepath"
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdf, err := mupdf.Renderer{}.Open(tt.path, tt.password)
			if !errors.Is(err, tt.want) {
				t.Fatalf("open: %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			defer pdf.Close()
			tl, err := pdf.TextLayer(0)
			if err != nil || len(tl.Spans) == 0 {
				t.Errorf("text layer of the opened file: %+v %v", tl, err)
			}
		})
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
