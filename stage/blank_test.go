package stage

import (
	"image"
	"math/rand/v2"
	"testing"
)

// page is a Letter page at dpi filled with paper, with the marks of draw.
func page(dpi int, paper uint8, draw func(img *image.Gray)) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, dpi*17/2, dpi*11))
	for i := range img.Pix {
		img.Pix[i] = paper
	}
	if draw != nil {
		draw(img)
	}
	return img
}

// noise adds a scanner's independent noise of about sigma levels to every pixel.
func noise(sigma float64, seed uint64) func(img *image.Gray) {
	return func(img *image.Gray) {
		r := rand.New(rand.NewPCG(seed, 1))
		for i, v := range img.Pix {
			img.Pix[i] = clamp(float64(v) + r.NormFloat64()*sigma)
		}
	}
}

func clamp(f float64) uint8 {
	return uint8(min(255, max(0, f+0.5)))
}

func fill(img *image.Gray, r image.Rectangle, v uint8) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.Pix[y*img.Stride+x] = v
		}
	}
}

// strokes draws a line of "letters" at (x, y): n glyph-like marks 0.1 in high, of strokes
// w pixels wide in gray v, as a faint line of text would be.
func strokes(x, y, n, w, dpi int, v uint8) func(img *image.Gray) {
	return func(img *image.Gray) {
		h := dpi / 10
		for i := range n {
			x0 := x + i*h*2/3
			fill(img, image.Rect(x0, y, x0+w, y+h), v)           // a stem
			fill(img, image.Rect(x0, y+h-w, x0+h/2, y+h), v)     // a foot
			fill(img, image.Rect(x0, y+h/2, x0+h/2, y+h/2+w), v) // a bar
		}
	}
}

func both(fs ...func(img *image.Gray)) func(img *image.Gray) {
	return func(img *image.Gray) {
		for _, f := range fs {
			f(img)
		}
	}
}

// gradient darkens the page from one side to the other by up to d levels: an uneven
// exposure.
func gradient(d float64) func(img *image.Gray) {
	return func(img *image.Gray) {
		w := img.Bounds().Dx()
		for y := range img.Bounds().Dy() {
			for x := range w {
				i := y*img.Stride + x
				img.Pix[i] = clamp(float64(img.Pix[i]) - d*float64(x)/float64(w))
			}
		}
	}
}

func TestBlank(t *testing.T) {
	const dpi = 300
	tests := []struct {
		name  string
		img   *image.Gray
		blank bool
	}{
		{"white", page(dpi, 255, nil), true},
		{"scanned paper: gray, noisy", page(dpi, 238, noise(6, 1)), true},
		{"uneven exposure", page(dpi, 245, both(gradient(40), noise(5, 2))), true},
		{"a dark border from the scanner lid", page(dpi, 240, both(func(img *image.Gray) {
			fill(img, image.Rect(0, 0, 25, img.Bounds().Dy()), 20)
		}, noise(5, 3))), true},
		{"dust: a few specks", page(dpi, 240, both(func(img *image.Gray) {
			for _, p := range []image.Point{{300, 400}, {1200, 2000}, {2000, 3000}} {
				fill(img, image.Rectangle{Min: p, Max: p.Add(image.Pt(3, 3))}, 60)
			}
		}, noise(5, 4))), true},
		{"black all over", page(dpi, 0, nil), false},
		{"one line of black print", page(dpi, 255, strokes(300, 600, 30, 4, dpi, 0)), false},
		{"one faint line (75% white)", page(dpi, 255, strokes(300, 600, 30, 3, dpi, 192)), false},
		{"one faint line on noisy scanned paper", page(dpi, 236, both(strokes(300, 600, 30, 3, dpi, 180), noise(6, 5))), false},
		{"one faint short word on noisy paper", page(dpi, 236, both(strokes(1200, 2500, 4, 3, dpi, 180), noise(6, 6))), false},
		{"a signature line", page(dpi, 250, strokes(300, 3000, 1, 2, dpi, 90)), false},
		{"a faint line at 150 dpi", page(150, 240, both(strokes(150, 300, 30, 2, 150, 185), noise(5, 7))), false},
		{"paper at 150 dpi", page(150, 240, noise(5, 8)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dpi := dpi
			if tt.img.Bounds().Dx() < 2000 {
				dpi = 150
			}
			if got := Blank(tt.img, dpi); got != tt.blank {
				t.Errorf("Blank = %v, want %v", got, tt.blank)
			}
		})
	}
}

func BenchmarkBlank(b *testing.B) {
	img := page(300, 238, noise(6, 1))
	b.ResetTimer()
	for range b.N {
		Blank(img, 300)
	}
}

func TestStretch(t *testing.T) {
	const dpi = 300
	tests := []struct {
		name            string
		img             *image.Gray
		at              image.Point // a pixel of ink
		wantInk, wantBg uint8       // at most, at least
	}{
		{"a faint line on gray paper becomes black on white", page(dpi, 238, strokes(300, 600, 30, 4, dpi, 170)), image.Pt(301, 601), 10, 250},
		{"black print on white paper stays", page(dpi, 255, strokes(300, 600, 30, 4, dpi, 0)), image.Pt(301, 601), 0, 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Stretch(tt.img, dpi)
			if ink := tt.img.GrayAt(tt.at.X, tt.at.Y).Y; ink > tt.wantInk {
				t.Errorf("ink %d, want at most %d", ink, tt.wantInk)
			}
			if bg := tt.img.GrayAt(10, 10).Y; bg < tt.wantBg {
				t.Errorf("paper %d, want at least %d", bg, tt.wantBg)
			}
		})
	}
}
