package httpapi_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idp/idp/idptest"
)

var statement = []string{"Account Number: 4401 2231 0097", "Account Holder: Maria L. Gonzalez"}

// quarantinedDoc is a PDF whose second page draws an image declared at ten billion pixels:
// that page is refused, the first is read.
func quarantinedDoc() []byte {
	return idptest.RawPDF(idptest.RawPage{Text: statement},
		idptest.RawPage{Content: "q 612 0 0 792 0 0 cm /Im0 Do Q", Images: []idptest.RawImage{{Width: 100000, Height: 100000, Data: []byte{0}}}})
}

// uploadWithPassword posts one file after a password form field.
func (ts *testServer) uploadWithPassword(t *testing.T, name string, data []byte, password string) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if password != "" {
		mw.WriteField("password", password)
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	return ts.do(t, http.MethodPost, "/api/documents", &buf, mw.FormDataContentType())
}

func (ts *testServer) waitDone(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		_, body := ts.get(t, "/api/document/"+id+"/background-status")
		st, _ := body["status"].(map[string]any)
		if st["status"] == "completed" || st["status"] == "failed" {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s is not done", id)
	return nil
}

// TestPasswordsAndFailedPages: the password of an encrypted PDF comes as a form field of the
// upload or of a reprocess, never in the URL, and is never echoed; a page that could not be
// read is listed with its reason in the document, its status, its result and its page's
// answer, and its image is refused with a 422.
func TestPasswordsAndFailedPages(t *testing.T) {
	const secret = "hunter2-statement"
	ts := newServer(t, serverOpts{start: true})

	code, body := ts.uploadWithPassword(t, "locked.pdf", idptest.TextPDF(t, 0, secret, "", statement), secret)
	if code != http.StatusCreated || strings.Contains(fmt.Sprint(body), secret) {
		t.Fatalf("upload with its password: %d %v", code, body)
	}
	if st := ts.waitDone(t, uploadedID(t, body)); st["status"] != "completed" {
		t.Errorf("uploaded with its password: %v", st)
	}

	_, body = ts.uploadWithPassword(t, "locked-2.pdf", idptest.TextPDF(t, 0, secret, "", append(statement, "page two")), "")
	id := uploadedID(t, body)
	if st := ts.waitDone(t, id); st["status"] != "failed" || st["error"] != "encrypted: a password is needed" {
		t.Fatalf("without a password: %v", st)
	}
	if code, _ := ts.do(t, http.MethodPost, "/api/document/"+id+"/reprocess?password="+secret, nil, ""); code != http.StatusBadRequest {
		t.Errorf("a password in the URL: %d, want 400", code)
	}
	form := url.Values{"password": {secret}}.Encode()
	code, body = ts.do(t, http.MethodPost, "/api/document/"+id+"/reprocess", strings.NewReader(form), "application/x-www-form-urlencoded")
	if code != http.StatusOK || strings.Contains(fmt.Sprint(body), secret) {
		t.Fatalf("reprocess with the password: %d %v", code, body)
	}
	if st := ts.waitDone(t, id); st["status"] != "completed" {
		t.Errorf("after a reprocess with the password: %v", st)
	}

	_, body = ts.upload(t, "", "two-pages.pdf", quarantinedDoc())
	id = uploadedID(t, body)
	st := ts.waitDone(t, id)
	if st["status"] != "completed" {
		t.Fatalf("a document with a page that cannot be read: %v", st)
	}
	failedPage := func(where string, v any) {
		t.Helper()
		list, _ := v.([]any)
		if len(list) != 1 {
			t.Fatalf("%s: failed pages %v", where, v)
		}
		f := list[0].(map[string]any)
		if f["page"] != 1.0 || !strings.Contains(f["reason"].(string), "--max-image-pixels") {
			t.Errorf("%s: failed page %v", where, f)
		}
	}
	failedPage("background-status", st["failed_pages"])
	_, doc := ts.get(t, "/api/document/"+id)
	failedPage("document", doc["document"].(map[string]any)["failed_pages"])
	_, res := ts.get(t, "/api/document/"+id+"/result")
	failedPage("result", res["failed_pages"])
	if pages := res["pages"].([]any); len(pages) != 2 || pages[1].(map[string]any)["error"] == nil || pages[0].(map[string]any)["error"] != nil {
		t.Errorf("result pages: %v", pages)
	}
	if _, page := ts.get(t, "/api/document/"+id+"/page/1/cached-data"); page["error"] == nil || page["cached"] != true {
		t.Errorf("cached data of the failed page: %v", page)
	}
	if code, body := ts.get(t, "/api/document/"+id+"/page/1/image"); code != http.StatusUnprocessableEntity {
		t.Errorf("image of the failed page: %d %v", code, body)
	}
	if code, _ := ts.get(t, "/api/document/"+id+"/page/0/image?dpi=50"); code != http.StatusOK {
		t.Errorf("image of the page that was read: %d", code)
	}
}

// TestWebUIFailedPagesAndPassword drives the UI in headless Chromium: a document with a page
// that could not be read shows the page and its reason, and its page view says so; a document
// that failed for want of its password is opened by typing it.
func TestWebUIFailedPagesAndPassword(t *testing.T) {
	bin := chromium(t)
	const secret = "ui-secret-42"
	ts := newServer(t, serverOpts{start: true})
	_, body := ts.upload(t, "", "two-pages.pdf", quarantinedDoc())
	failedID := uploadedID(t, body)
	_, body = ts.upload(t, "", "locked.pdf", idptest.TextPDF(t, 0, secret, "", statement))
	lockedID := uploadedID(t, body)
	ts.waitDone(t, failedID)
	ts.waitDone(t, lockedID)

	ctx := browser(t, bin, 6*time.Minute)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/#/doc/"+failedID),
		chromedp.WaitVisible(css(`#doc-failed-pages li[data-page="1"]`)),
		chromedp.Click(css(`.chip.failed[data-page="1"]`)),
		chromedp.WaitVisible(css(`#page-error`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := chromedp.Run(ctx, chromedp.Text(css("#doc-failed-pages")))
	if err != nil {
		t.Fatal(err)
	}
	pageErr, err := chromedp.Run(ctx, chromedp.Text(css("#page-error")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(listed, "p.2") || !strings.Contains(listed, "--max-image-pixels") || !strings.Contains(pageErr, "--max-image-pixels") {
		t.Errorf("failed page on screen: %q, page view %q", listed, pageErr)
	}
	if out := os.Getenv("IDP_UI_SCREENSHOT_FAILED"); out != "" {
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/#/doc/"+lockedID),
		chromedp.WaitVisible(css(`#doc-status[data-status="failed"]`)),
		chromedp.WaitVisible(css(`#doc-password`)),
		chromedp.SendKeys(css(`#doc-password`), secret),
		chromedp.Click(css(`#unlock-btn`)),
		chromedp.WaitVisible(css(`#doc-status[data-status="completed"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
}
