package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-pdf/fpdf"
)

// chromium finds Debian's Chromium (make test-deps installs it) or $CHROME_PATH.
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CHROME_PATH"), "chromium", "chromium-browser", "google-chrome"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium: CI must install it (make test-deps)")
	}
	t.Skip("no Chromium on this machine: run `make test-deps`")
	return ""
}

// browser starts headless Chromium (bin) for a test: its context ends after timeout or with
// the test.
func browser(t *testing.T, bin string, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	return ctx
}

// TestWebUI drives the embedded UI in real headless Chromium: it gives the API token when
// asked, uploads a generated packet, waits for progress to reach completed, opens a page of
// the first account and reads its Account_Number on screen, and saves a screenshot
// ($IDP_UI_SCREENSHOT, or idp-ui.png in the temporary directory).
func TestWebUI(t *testing.T) {
	bin := chromium(t)
	ts := newServer(t, serverOpts{start: true, token: "ui-token"})
	p := packet(t, 8)
	file := filepath.Join(t.TempDir(), "statement-packet.pdf")
	if err := os.WriteFile(file, p.PDF, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, bin, 6*time.Minute)

	page := p.Truth.Accounts[0].Pages[0]
	want := p.Truth.Accounts[0].AccountNumber
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		// The API answers 401: the UI asks for the token.
		chromedp.WaitVisible(css("#token-dialog")),
		chromedp.SendKeys(css("#token-input"), "ui-token"),
		chromedp.Click(css("#token-ok")),
		chromedp.WaitNotVisible(css("#token-dialog")),
		chromedp.SetUploadFiles(css("#file-input"), []string{file}),
		chromedp.WaitVisible(css(`tr[data-doc] span[data-status="completed"]`)),
		chromedp.Click(css(`tr[data-doc]`)),
		chromedp.WaitVisible(css(`#doc-status[data-status="completed"]`)),
		chromedp.Click(css(fmt.Sprintf(`.chip[data-page="%d"]`, page))),
		chromedp.WaitVisible(css(`td[data-field="Account_Number"]`)),
		chromedp.WaitVisible(css(`img[data-page]`)),
		chromedp.Sleep(300*time.Millisecond), // the page image paints
	)
	if err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(css("#doc-title")))
	if err != nil {
		t.Fatal(err)
	}
	number, err := chromedp.Run(ctx, chromedp.Text(css(`td[data-field="Account_Number"]`)))
	if err != nil {
		t.Fatal(err)
	}
	badge, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`[data-badge]`), "data-badge"))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(number) != want {
		t.Errorf("Account_Number on screen = %q, want %q", number, want)
	}
	if badge.Value != "cached" {
		t.Errorf("page badge = %q, want cached", badge.Value)
	}
	if title != "statement-packet.pdf" {
		t.Errorf("document title = %q", title)
	}
	out := os.Getenv("IDP_UI_SCREENSHOT")
	if out == "" {
		out = filepath.Join(os.TempDir(), "idp-ui.png")
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(shot))
}

// TestWebUILowConfidence: a value the extractor is not sure of is marked as such on screen,
// with its evidence in a tooltip; a sure one is not. The page prints an address only after
// "Property Address", which the rules take when nothing better is printed, with a low
// confidence.
func TestWebUILowConfidence(t *testing.T) {
	bin := chromium(t)
	ts := newServer(t, serverOpts{start: true})
	pdf := fpdf.New("P", "pt", "Letter", "")
	pdf.AddPage()
	pdf.SetFont("Helvetica", "", 11)
	pdf.Text(54, 80, "Loan Number: 0081442190")
	pdf.Text(54, 100, "Borrower Name: Grace Kim")
	pdf.Text(54, 120, "Property Address: 7842 Orchard Pl, Mesa, AZ 85201")
	file := filepath.Join(t.TempDir(), "property.pdf")
	if err := pdf.OutputFileAndClose(file); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, bin, 6*time.Minute)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(css("#docs-empty")), // the UI has loaded the (empty) list
		chromedp.SetUploadFiles(css("#file-input"), []string{file}),
		chromedp.WaitVisible(css(`tr[data-doc] span[data-status="completed"]`)),
		chromedp.Click(css(`tr[data-doc]`)),
		chromedp.WaitVisible(css(`#doc-status[data-status="completed"]`)),
		chromedp.Click(css(`.chip[data-page="0"]`)),
		chromedp.WaitVisible(css(`td[data-field="Address"] .low-tag`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	lowTag, err := chromedp.Run(ctx, chromedp.Text(css(`td[data-field="Address"] .low-tag`)))
	if err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`td[data-field="Address"] .value.low`), "title"))
	if err != nil {
		t.Fatal(err)
	}
	lowTitle := title.Value
	number, err := chromedp.Run(ctx, chromedp.Text(css(`td[data-field="Account_Number"] .value`)))
	if err != nil {
		t.Fatal(err)
	}
	numberLow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('td[data-field="Account_Number"] .value').classList.contains("low")`))
	if err != nil {
		t.Fatal(err)
	}
	if lowTag != "low confidence" || !strings.Contains(lowTitle, "Property Address") || !strings.Contains(lowTitle, "% sure") {
		t.Errorf("low-confidence address: tag %q, tooltip %q", lowTag, lowTitle)
	}
	if number != "0081442190" || numberLow {
		t.Errorf("account number %q shown as low confidence: %v", number, numberLow)
	}
}
