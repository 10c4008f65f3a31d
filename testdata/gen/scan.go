package gen

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gen2brain/go-fitz"
	"github.com/go-pdf/fpdf"
)

// Scan turns a PDF into what a office scanner makes of it: every page rasterised at dpi in
// gray, turned by up to 1.5 degrees, with sensor noise, dust specks and a slightly uneven
// exposure, stored as a JPEG on an otherwise empty page. No text layer survives.
func Scan(pdf []byte, dpi int, seed uint64) ([]byte, error) {
	return scan(pdf, dpi, seed, scanHouse)
}

// scanStyle is how a generator's scanner damages pages.
type scanStyle struct {
	minAngle, maxAngle   float64 // degrees either way; with minAngle 0, uniform in ±maxAngle
	border               bool    // a dark band along an edge on some pages (the scanner's lid)
	quality, qualitySpan int     // JPEG quality, from quality to quality+qualitySpan-1
}

var (
	scanHouse = scanStyle{maxAngle: 1.5, quality: 45, qualitySpan: 20}
	// scanOther is the second generator's: turned by 1 to 3 degrees, a dark border now and
	// then, harsher JPEG.
	scanOther = scanStyle{minAngle: 1, maxAngle: 3, border: true, quality: 35, qualitySpan: 25}
)

func scan(pdf []byte, dpi int, seed uint64, st scanStyle) ([]byte, error) {
	doc, err := fitz.NewFromMemory(pdf)
	if err != nil {
		return nil, fmt.Errorf("scan: open: %w", err)
	}
	defer doc.Close()
	r := rand.New(rand.NewPCG(seed, 0x5ca9))
	out := fpdf.New("P", "pt", "Letter", "")
	out.SetAutoPageBreak(false, 0)
	stamp := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	out.SetCreationDate(stamp)
	out.SetModificationDate(stamp)
	out.SetCreator("idp testdata scanner", false)
	for n := range doc.NumPage() {
		rgba, err := doc.ImageDPI(n, float64(dpi))
		if err != nil {
			return nil, fmt.Errorf("scan: render page %d: %w", n, err)
		}
		g := image.NewGray(rgba.Bounds())
		for i := 0; i < len(g.Pix); i++ {
			p := rgba.Pix[i*4 : i*4+3]
			g.Pix[i] = uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000)
		}
		angle := (r.Float64()*2 - 1) * st.maxAngle
		if st.minAngle > 0 {
			angle = st.minAngle + r.Float64()*(st.maxAngle-st.minAngle)
			if r.IntN(2) == 0 {
				angle = -angle
			}
		}
		g = degrade(rotate(g, angle), r)
		if st.border && r.IntN(3) == 0 {
			darkBorder(g, r)
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: st.quality + r.IntN(st.qualitySpan)}); err != nil {
			return nil, fmt.Errorf("scan: encode page %d: %w", n, err)
		}
		name := fmt.Sprintf("page%d", n)
		out.AddPage()
		out.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "JPG"}, &buf)
		out.ImageOptions(name, 0, 0, pageW, pageH, false, fpdf.ImageOptions{ImageType: "JPG"}, 0, "")
	}
	if err := out.Error(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	var res bytes.Buffer
	if err := out.Output(&res); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return res.Bytes(), nil
}

// rotate turns g by deg degrees about its centre (bilinear, white outside).
func rotate(g *image.Gray, deg float64) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	sin, cos := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(w)/2, float64(h)/2
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-cx, float64(y)-cy
			sx := cos*dx + sin*dy + cx
			sy := -sin*dx + cos*dy + cy
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			at := func(x, y int) float64 {
				if x < 0 || y < 0 || x >= w || y >= h {
					return 255
				}
				return float64(g.Pix[y*g.Stride+x])
			}
			v := at(x0, y0)*(1-fx)*(1-fy) + at(x0+1, y0)*fx*(1-fy) + at(x0, y0+1)*(1-fx)*fy + at(x0+1, y0+1)*fx*fy
			out.Pix[y*out.Stride+x] = uint8(v + 0.5)
		}
	}
	return out
}

// degrade adds what a scanner adds: a gray paper tone with uneven exposure, noise and specks.
func degrade(g *image.Gray, r *rand.Rand) *image.Gray {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	paper := 232 + r.Float64()*15
	ink := 10 + r.Float64()*40
	gradient := (r.Float64()*2 - 1) * 12
	for y := range h {
		for x := range w {
			v := float64(g.Pix[y*g.Stride+x]) / 255 // 1 = paper, 0 = ink
			base := ink + v*(paper-ink) + gradient*float64(x)/float64(w)
			base += r.NormFloat64() * 6
			g.Pix[y*g.Stride+x] = clamp(base)
		}
	}
	for range 40 + r.IntN(120) {
		x, y := r.IntN(w), r.IntN(h)
		s := 1 + r.IntN(3)
		for dy := 0; dy < s && y+dy < h; dy++ {
			for dx := 0; dx < s && x+dx < w; dx++ {
				g.Pix[(y+dy)*g.Stride+x+dx] = uint8(20 + r.IntN(60))
			}
		}
	}
	return g
}

func clamp(v float64) uint8 {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// darkBorder darkens a band along one edge, as a scanner's lid shows past a sheet that lies
// off its glass.
func darkBorder(g *image.Gray, r *rand.Rand) {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	band := w / 60
	edge := r.IntN(4)
	for y := range h {
		for x := range w {
			var in bool
			switch edge {
			case 0:
				in = x < band
			case 1:
				in = x >= w-band
			case 2:
				in = y < band
			default:
				in = y >= h-band
			}
			if in {
				g.Pix[y*g.Stride+x] = uint8(25 + r.IntN(30))
			}
		}
	}
}
