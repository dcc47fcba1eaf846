package console_test

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
)

// chromium finds a Chromium or Chrome binary, "" when there is none.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotPath is where a screenshot called name is kept for a reviewer:
// $DUEBELL_SCREENSHOT_DIR when set, else the system temp directory
// (t.TempDir is removed when the test ends).
func screenshotPath(t *testing.T, name string) string {
	dir := os.Getenv("DUEBELL_SCREENSHOT_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// TestConsoleInChromium drives the console in a real headless Chromium: log
// in with the operator token, search by phone, open the failed notice,
// resend it with a reason, land on the new notice, and find the audit row.
// headless starts a headless Chromium with a window of width×height for
// at most timeout, skipping the test (parallel from here) when there is none.
func headless(t *testing.T, width, height int, timeout time.Duration) context.Context {
	t.Helper()
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium binary on PATH (apt-get install chromium): skipping the browser test of the console")
	}
	t.Parallel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.WindowSize(width, height))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel)
	return ctx
}

// screenshot saves the whole page as name (see screenshotPath) and returns the path.
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := screenshotPath(t, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

func TestConsoleInChromium(t *testing.T) {
	ctx := headless(t, 1280, 1000, 90*time.Second)
	b := setup(t)

	shot := func(name string) string { return screenshot(t, ctx, name) }
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	do("log in",
		chromedp.Navigate(b.srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), operatorToken),
		chromedp.Click(chromedp.CSS("#login button")),
		chromedp.WaitVisible(chromedp.CSS("#whoami")), // the overview comes first
		chromedp.Navigate(b.srv.URL+"/console/notifications"),
		chromedp.WaitVisible(chromedp.CSS("#search")))
	if who := text("#whoami"); who != "ops" {
		t.Errorf("signed in as %q, want ops", who)
	}

	do("search by phone",
		chromedp.SendKeys(chromedp.CSS("#q-phone"), "138 1234 5678"),
		chromedp.Click(chromedp.CSS("#search-go")),
		// The page before the search lists every notice; the answer is the
		// page whose form was rendered with the phone in it.
		chromedp.WaitVisible(chromedp.CSS(`#q-phone[value="138 1234 5678"]`)),
		chromedp.WaitVisible(chromedp.CSS("#results")))
	rows := text("#results tbody")
	if !strings.Contains(rows, fmt.Sprint(b.orig)) || !strings.Contains(rows, "failed") || strings.Contains(rows, "c2") {
		t.Errorf("results = %q, want c1's failed notice %d only", rows, b.orig)
	}
	shot("duebell-console-search.png")

	do("open the notice",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a.notice-link[href="/console/notifications/%d"]`, b.orig))),
		chromedp.WaitVisible(chromedp.CSS("#resend")))
	if attempts := text("#attempts"); !strings.Contains(attempts, "permanent") || !strings.Contains(attempts, "isv.BUSINESS_LIMIT_CONTROL") {
		t.Errorf("attempts timeline = %q", attempts)
	}

	do("resend with a reason",
		chromedp.SetValue(chromedp.CSS("#reason"), "客户来电说没收到短信"),
		chromedp.Click(chromedp.CSS("#resend-go")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := text("#resend-of"); got != fmt.Sprint(b.orig) {
		t.Errorf("new notice is a resend of %q, want %d", got, b.orig)
	}
	if got, reason, status := text("#requested-by"), text("#resend-reason"), text("#status"); got != "ops" || reason != "客户来电说没收到短信" || status != "pending" {
		t.Errorf("new notice: requested by %q, reason %q, status %q", got, reason, status)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	var newID int64
	if err := b.r.DB().GetContext(context.Background(), &newID, `SELECT id FROM notifications
		WHERE resend_of = $1 AND requested_by = 'ops' AND resend_reason = '客户来电说没收到短信'`, b.orig); err != nil {
		t.Fatalf("resend row: %v", err)
	}
	if !strings.Contains(loc, fmt.Sprintf("/console/notifications/%d", newID)) {
		t.Errorf("landed on %s, want the new notice %d", loc, newID)
	}
	shot("duebell-console.png")

	do("read the audit trail",
		chromedp.Click(chromedp.CSS(`nav a[href="/console/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#audit")))
	audit := text("#audit tbody")
	if !strings.Contains(audit, "ops") || !strings.Contains(audit, "notification.resend") ||
		!strings.Contains(audit, fmt.Sprintf("notification:%d", b.orig)) || !strings.Contains(audit, "客户来电说没收到短信") {
		t.Errorf("audit page = %q", audit)
	}
	shot("duebell-console-audit.png")
}
