package idptest

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/idp/idp/mupdf"
)

// RawPage is one page of a PDF written object by object, for inputs no PDF library would
// write: an image that claims a size it does not have, a page that takes minutes to draw.
type RawPage struct {
	// W and H are the page's size in points (default US Letter).
	W, H float64
	// Content is the page's content stream; it draws the images as /Im0, /Im1, ...
	Content string
	Images  []RawImage
	// Text lines are printed in Helvetica 12 pt from the top left, before Content.
	Text []string
}

// RawImage is an 8-bit gray image XObject. Its stream holds Data (Flate-compressed), which
// may be far shorter than Width x Height claims.
type RawImage struct {
	Width, Height int
	Data          []byte
}

// RawPDF writes pages as a PDF. Content streams and images are Flate-compressed.
func RawPDF(pages ...RawPage) []byte {
	var b bytes.Buffer
	var offs []int
	next := 3 // 1 is the catalog, 2 the page tree
	type pageObjs struct{ page, content int }
	var po []pageObjs
	var imgs [][]int
	for _, p := range pages {
		po = append(po, pageObjs{next, next + 1})
		next += 2
		var ids []int
		for range p.Images {
			ids = append(ids, next)
			next++
		}
		imgs = append(imgs, ids)
	}
	offs = make([]int, next)
	obj := func(n int, dict string, stream []byte) {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\n", n, dict)
		if stream != nil {
			b.WriteString("stream\n")
			b.Write(stream)
			b.WriteString("\nendstream\n")
		}
		b.WriteString("endobj\n")
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>", nil)
	var kids []string
	for _, o := range po {
		kids = append(kids, fmt.Sprintf("%d 0 R", o.page))
	}
	obj(2, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)), nil)
	for i, p := range pages {
		w, h := p.W, p.H
		if w == 0 || h == 0 {
			w, h = 612, 792
		}
		var xobj []string
		for j, id := range imgs[i] {
			xobj = append(xobj, fmt.Sprintf("/Im%d %d 0 R", j, id))
		}
		obj(po[i].page, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /XObject << %s >> "+
			"/Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> /Contents %d 0 R >>",
			w, h, strings.Join(xobj, " "), po[i].content), nil)
		var content strings.Builder
		for j, line := range p.Text {
			line = strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(line)
			fmt.Fprintf(&content, "BT /F1 12 Tf 72 %g Td (%s) Tj ET\n", h-72-float64(j)*16, line)
		}
		content.WriteString(p.Content)
		c := deflate([]byte(content.String()))
		obj(po[i].content, fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>", len(c)), c)
		for j, img := range p.Images {
			d := deflate(img.Data)
			obj(imgs[i][j], fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d /Filter /FlateDecode >>",
				img.Width, img.Height, len(d)), d)
		}
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", next)
	for _, o := range offs[1:] {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", next, xref)
	return b.Bytes()
}

func deflate(p []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write(p)
	w.Close()
	return b.Bytes()
}

// SlowContent is a content stream that takes MuPDF a long time to draw at 300 dpi: n fills of
// triangles that cover the page, each rasterised in full. It compresses to almost nothing.
func SlowContent(n int) string {
	return strings.Repeat("0 0 m 612 0 l 0 792 l h f 612 792 m 0 792 l 612 0 l h f\n", n)
}

// TextPDF writes a born-digital page per entry of pages, each line of it in Helvetica at
// 11 pt, in gray (0 black, 255 white); with user or owner set it is encrypted (RC4, as
// fpdf does): a user password is needed to open it, an owner password only to change it.
func TextPDF(t testing.TB, gray int, user, owner string, pages ...[]string) []byte {
	t.Helper()
	f := fpdf.New("P", "pt", "Letter", "")
	f.SetAutoPageBreak(false, 0)
	stamp := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	f.SetCreationDate(stamp)
	f.SetModificationDate(stamp)
	if user != "" || owner != "" {
		f.SetProtection(fpdf.CnProtectPrint, user, owner)
	}
	for _, lines := range pages {
		f.AddPage()
		f.SetFont("Helvetica", "", 11)
		f.SetTextColor(gray, gray, gray)
		for i, l := range lines {
			f.Text(72, 100+float64(i)*16, l)
		}
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Scanned is page n of pdf as a scan of it: drawn at dpi in gray (by MuPDF), with a
// scanner's independent noise of about sigma levels and paper a little darker than white,
// stored as the page's only image. No text layer survives. (The packet generator has its
// own scanner; this one is plainer, for pages a test builds.)
func Scanned(t testing.TB, pdf []byte, n, dpi int, sigma float64, seed uint64) RawPage {
	t.Helper()
	path := filepath.Join(t.TempDir(), "to-scan.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := mupdf.Renderer{}.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	w, h, err := doc.PageSize(n)
	if err != nil {
		t.Fatal(err)
	}
	img, err := doc.RenderGray(n, dpi)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 2))
	for i, v := range img.Pix {
		f := float64(v)*0.94 + r.NormFloat64()*sigma // paper at about 240
		img.Pix[i] = uint8(min(255, max(0, f+0.5)))
	}
	b := img.Bounds()
	return RawPage{W: w, H: h, Content: fmt.Sprintf("q %g 0 0 %g 0 0 cm /Im0 Do Q", w, h),
		Images: []RawImage{{Width: b.Dx(), Height: b.Dy(), Data: img.Pix}}}
}
