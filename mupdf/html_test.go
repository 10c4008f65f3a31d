package mupdf

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html"
	"image"
	"image/png"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gen2brain/go-fitz"

	"github.com/idp/idp/stage"
)

// The regular expressions parseHTML replaced, kept as the reference it must agree with.
var (
	refLine  = regexp.MustCompile(`<p style="top:([-\d.]+)pt;left:([-\d.]+)pt;line-height:([\d.]+)pt">(.*?)</p>`)
	refImage = regexp.MustCompile(`<img style="[^"]*?matrix\(([-\d.e]+),([-\d.e]+),([-\d.e]+),([-\d.e]+),[^"]*" src="data:image/[a-z]+;base64,`)
	refSize  = regexp.MustCompile(`font-size:([\d.]+)pt`)
	refTag   = regexp.MustCompile(`<[^>]*>`)
)

func referenceParse(out string) stage.TextLayer {
	var tl stage.TextLayer
	for _, m := range refLine.FindAllStringSubmatch(out, -1) {
		top, _ := strconv.ParseFloat(m[1], 64)
		left, _ := strconv.ParseFloat(m[2], 64)
		lh, _ := strconv.ParseFloat(m[3], 64)
		size := lh
		if s := refSize.FindStringSubmatch(m[4]); s != nil {
			size, _ = strconv.ParseFloat(s[1], 64)
		}
		text := html.UnescapeString(refTag.ReplaceAllString(m[4], ""))
		text = strings.Join(strings.Fields(text), " ")
		width := 0.5 * size * float64(len([]rune(text)))
		tl.Spans = append(tl.Spans, stage.Span{X0: left, Y0: top, X1: left + width, Y1: top + lh, Text: text})
	}
	for _, m := range refImage.FindAllStringSubmatchIndex(out, -1) {
		var matrix []string
		for i := 2; i < 10; i += 2 {
			matrix = append(matrix, out[m[i]:m[i+1]])
		}
		data := out[m[1]:]
		if end := strings.IndexByte(data, '"'); end >= 0 {
			data = data[:end]
		}
		tl.ImageArea += imageArea(matrix, data[:min(len(data), 64<<10)])
	}
	return tl
}

func sameLayer(a, b stage.TextLayer) bool {
	if len(a.Spans) == 0 && len(b.Spans) == 0 {
		a.Spans, b.Spans = nil, nil
	}
	return reflect.DeepEqual(a.Spans, b.Spans) && (a.ImageArea == b.ImageArea || math.IsInf(a.ImageArea, 1) && math.IsInf(b.ImageArea, 1))
}

// TestParseHTMLAgreesWithTheReference reads every page of the sample packets and the corpus
// with MuPDF and checks that the scanner finds the lines and image area that the regular
// expressions it replaced find.
func TestParseHTMLAgreesWithTheReference(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../testdata/packets/*.pdf", "../testdata/corpus/good/*.pdf"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("only %d sample PDFs found", len(files))
	}
	pages := 0
	for _, f := range files {
		d, err := fitz.New(f)
		if errors.Is(err, fitz.ErrNeedsPassword) {
			d.Close()
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for n := range d.NumPage() {
			out, err := d.HTML(n, false)
			if err != nil {
				t.Fatalf("%s page %d: %v", f, n, err)
			}
			if got, want := parseHTML(out), referenceParse(out); !sameLayer(got, want) {
				t.Errorf("%s page %d: the scanner read %d lines (image area %g), the reference %d (%g)",
					filepath.Base(f), n, len(got.Spans), got.ImageArea, len(want.Spans), want.ImageArea)
			}
			pages++
		}
		d.Close()
	}
	t.Logf("%d pages of %d files agree", pages, len(files))
}

// TestParseHTMLEdges covers what MuPDF's pages rarely show: escapes, nested tags, broken or
// unfinished markup, negative positions, a line over two HTML lines, images with another
// transform or no size.
func TestParseHTMLEdges(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 96, 48))); err != nil {
		t.Fatal(err)
	}
	pngData := base64.StdEncoding.EncodeToString(buf.Bytes())
	tests := []struct{ name, html string }{
		{"plain", `<p style="top:52.0pt;left:54.0pt;line-height:10.0pt"><span style="font-family:Courier;font-size:9.5pt">Account &amp; Co &lt;1&gt;</span></p>`},
		{"nested and bare text", `<p style="top:1pt;left:2pt;line-height:3pt"><b><i>  a   b </i></b>c</p><p style="top:4pt;left:5pt;line-height:6pt">no size here</p>`},
		{"negative and odd numbers", `<p style="top:-12.5pt;left:-0.4pt;line-height:8pt"><span style="font-size:x;font-size:7pt">x</span></p>`},
		{"bad numbers", `<p style="top:1e3pt;left:2pt;line-height:3pt">e</p><p style="top:pt;left:2pt;line-height:3pt">empty</p><p style="top:1pt;left:2pt;line-height:-3pt">neg</p>`},
		{"line over two lines", "<p style=\"top:1pt;left:2pt;line-height:3pt\">a\nb</p><p style=\"top:9pt;left:9pt;line-height:9pt\">after</p>"},
		{"unclosed", `<p style="top:1pt;left:2pt;line-height:3pt">a < b <span>c</span></p><p style="top:1pt;left:2pt;line-height:3pt">never closed`},
		{"unicode", `<p style="top:1pt;left:2pt;line-height:3pt">Müller – José ✓</p>`},
		{"image", `<img style="position:absolute;transform:matrix(.96,0,-0,.96,-17,-22)" src="data:image/png;base64,` + pngData + `">`},
		{"image exponent", `<img style="transform:matrix(1e-1,0,0,2,0,0)" src="data:image/png;base64,` + pngData + `">`},
		{"image second matrix", `<img style="a:matrix(x,1,1,1,0);transform:matrix(1,0,0,1,0,0)" src="data:image/png;base64,` + pngData + `">`},
		{"image unreadable", `<img style="transform:matrix(1,0,0,1,0,0)" src="data:image/jpeg;base64,AAAA">`},
		{"image other source", `<img style="transform:matrix(1,0,0,1,0,0)" src="page.png"><img style="transform:matrix(1,0,0,1,0,0)" alt="" src="data:image/png;base64,` + pngData + `">`},
		{"nothing", `<div id="page0" style="width:612.0pt;height:792.0pt"></div>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := parseHTML(tt.html), referenceParse(tt.html); !sameLayer(got, want) {
				t.Errorf("scanner %+v\nreference %+v", got, want)
			}
		})
	}
}
