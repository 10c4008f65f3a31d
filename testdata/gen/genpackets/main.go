// Command genpackets writes synthetic loan packets and their ground truth into a directory,
// in the layout `idp eval` reads: NAME.pdf beside NAME.truth.json.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/idp/idp/testdata/gen"
)

func main() {
	out := flag.String("out", "packets", "output directory")
	n := flag.Int("n", 5, "number of packets")
	seed := flag.Uint64("seed", 1, "seed of the first packet; the others follow")
	scanned := flag.Bool("scanned", false, "write scans (image-only, noisy, rotated) instead of born-digital PDFs")
	minPages := flag.Int("min-pages", 0, "lengthen statements until each packet has this many pages")
	accounts := flag.Int("accounts", 0, "accounts per packet (0: 2 to 5)")
	scanDPI := flag.Int("scan-dpi", 200, "resolution of scans")
	layouts := flag.String("layouts", gen.LayoutsHouse, "generator: house (the layouts the rules were written beside) or other (other banks' layouts; seeds from 1000 on are held out)")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for i := range *n {
		s := *seed + uint64(i)
		p, err := gen.Generate(gen.Options{Seed: s, Scanned: *scanned, MinPages: *minPages, Accounts: *accounts, ScanDPI: *scanDPI, Layouts: *layouts})
		if err != nil {
			log.Fatal(err)
		}
		kind := "digital"
		if *scanned {
			kind = "scanned"
		}
		if *layouts != gen.LayoutsHouse {
			kind = *layouts + "-" + kind
		}
		name := fmt.Sprintf("packet-%s-%03d", kind, s)
		p.Truth.File = name + ".pdf"
		if err := os.WriteFile(filepath.Join(*out, name+".pdf"), p.PDF, 0o644); err != nil {
			log.Fatal(err)
		}
		truth, err := json.MarshalIndent(p.Truth, "", "  ")
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, name+".truth.json"), append(truth, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d pages, %d accounts, %d bytes\n", name, p.Truth.TotalPages, len(p.Truth.Accounts), len(p.PDF))
	}
}
