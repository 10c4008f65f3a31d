package gen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-pdf/fpdf"
)

// SignatureCard writes a born-digital one-page document: the signature card of one account,
// with its ground truth. Benchmarks of many small documents use it; every seed gives other
// bytes, so every seed is another document.
func SignatureCard(seed uint64) (*Packet, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x5bd1e9955bd1e995))
	pdf := fpdf.New("P", "pt", "Letter", "")
	pdf.SetAutoPageBreak(false, 0)
	stamp := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	pdf.SetCreationDate(stamp)
	pdf.SetModificationDate(stamp)
	b := &builder{r: r, pdf: pdf, bank: pick(r, bankNames), bankTel: fmt.Sprintf("1-800-%03d-%04d", 200+r.IntN(799), r.IntN(10000))}
	a := &account{addr: randAddress(r), phone: randPhone(r), docs: []string{"signature_card"}}
	a.number = randAccountNumber(r, false)
	a.holders = []person{randPerson(r, "")}
	b.acct = []*account{a}
	b.signatureCard(0)
	p, err := b.packet()
	if err != nil {
		return nil, err
	}
	p.Truth.TotalPages = len(p.Truth.Pages)
	return p, nil
}

// packet writes out the pages built so far, with their truth.
func (b *builder) packet() (*Packet, error) {
	if err := b.pdf.Error(); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	var buf bytes.Buffer
	if err := b.pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	return &Packet{PDF: buf.Bytes(), Truth: b.truth()}, nil
}
