package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestConsolePagesInChromium walks every page of the console in a real
// headless Chromium whose language is Chinese, then switches to English
// with the footer link, and again at a phone's width: it checks each page's
// language and key content, that nothing is wider than the phone's screen,
// and keeps a screenshot of each (see screenshotPath).
func TestConsolePagesInChromium(t *testing.T) {
	ctx := headless(t, 1280, 900, 150*time.Second)
	b := setup(t)
	stuck := b.renderFailed(t)
	if _, err := b.r.DB().Exec(`UPDATE notifications SET sent_at = updated_at WHERE status = 'sent'`); err != nil {
		t.Fatal(err)
	}

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	eval := func(js string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	shot := func(name string) { screenshot(t, ctx, name) }

	// The browser asks for Chinese, as a support desk's browser in China does.
	do("speak Chinese", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "zh-CN,zh;q=0.9"}})
		return err
	}))
	do("sign in",
		chromedp.Navigate(b.srv.URL+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), operatorToken),
		chromedp.Click(chromedp.CSS("#login button")),
		chromedp.WaitVisible(chromedp.CSS("#whoami")))

	type page struct {
		name, path, ready string
		want              map[string]string // lang → text the page must show
	}
	pages := []page{
		{"overview", "/console/", "#chart-sms", map[string]string{"zh-CN": "发送队列", "en": "Waiting to send"}},
		{"customers", "/console/customers?q=" + "%E5%BC%A0", "#customers", map[string]string{"zh-CN": "客户编号", "en": "Customer ref"}},
		{"customer", "/console/customers/c1", "#timeline", map[string]string{"zh-CN": "分期与还款计划", "en": "Plans and installments"}},
		{"log", "/console/notifications", "#results", map[string]string{"zh-CN": "发送失败", "en": "failed"}},
		{"notice", fmt.Sprintf("/console/notifications/%d", stuck), "#state", map[string]string{"zh-CN": "1 次尝试在提交给服务商之前就已失败", "en": "1 try stopped before reaching a provider"}},
		{"bulk", "/console/resends", "#bulk", map[string]string{"zh-CN": "试运行", "en": "Dry run"}},
		{"audit", "/console/audit", "main", map[string]string{"zh-CN": "审计日志", "en": "Audit trail"}},
	}
	visit := func(p page, lang, suffix string) {
		t.Helper()
		do("open "+p.name, chromedp.Navigate(b.srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready)))
		htmlLang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
		if err != nil || htmlLang != lang {
			t.Errorf("%s: page language %q, want %s (%v)", p.name, htmlLang, lang, err)
		}
		if body := text("main"); !strings.Contains(body, p.want[lang]) {
			t.Errorf("%s in %s lacks %q:\n%s", p.name, lang, p.want[lang], body)
		}
		if over := eval(`document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
			t.Errorf("%s in %s%s: the page is %.0fpx wider than the window", p.name, lang, suffix, over)
		}
		shot(fmt.Sprintf("duebell-console-%s-%s%s.png", p.name, lang, suffix))
	}

	for _, p := range pages {
		visit(p, "zh-CN", "")
	}
	// The Chinese overview shows the day's failed SMS as a bar.
	do("open overview", chromedp.Navigate(b.srv.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#chart-sms")))
	if n := eval(`document.querySelectorAll("#chart-sms rect.bar-failed").length`); n != 1 {
		t.Errorf("SMS chart has %v failed bars, want 1 (today's)", n)
	}

	// Find the customer from the header by a phone number as a caller reads it out.
	do("quick search",
		chromedp.SendKeys(chromedp.CSS("#quick-q"), "+86 138 1234 5678\n"),
		chromedp.WaitVisible(chromedp.CSS("#timeline")))
	if got := text("#c-phone"); !strings.HasSuffix(got, "138****5678") || strings.Contains(got, "1234") {
		t.Errorf("customer page phone = %q, want it masked", got)
	}

	// Bulk resend: dry run, then the confirmed run.
	do("bulk dry run",
		chromedp.Navigate(b.srv.URL+"/console/resends"),
		chromedp.WaitVisible(chromedp.CSS("#bulk")),
		chromedp.SetValue(chromedp.CSS("#b-since"), "2026-11-10 08:00"),
		chromedp.SetValue(chromedp.CSS("#b-until"), "2026-11-10 12:00"),
		chromedp.SetValue(chromedp.CSS("#b-reason"), "短信通道故障 INC-9"),
		chromedp.Click(chromedp.CSS("#b-dry")),
		chromedp.WaitVisible(chromedp.CSS("#bulk-count")))
	if got := text("#bulk-count"); !strings.Contains(got, "将重发 1 条") {
		t.Errorf("dry run says %q", got)
	}
	shot("duebell-console-bulk-dryrun-zh-CN.png")
	do("bulk run", chromedp.Click(chromedp.CSS("#b-run")), chromedp.WaitVisible(chromedp.CSS("#bulk-done")))
	var n int
	if err := b.r.DB().Get(&n, `SELECT count(*) FROM notifications WHERE resend_of = $1 AND requested_by = 'ops'`, b.orig); err != nil || n != 1 {
		t.Errorf("bulk run queued %d resends of the failed notice (%v)", n, err)
	}

	// Switch to English with the footer link; the choice outlives the
	// browser's Chinese Accept-Language.
	do("switch to English",
		chromedp.Navigate(b.srv.URL+"/console/audit"),
		chromedp.WaitVisible(chromedp.CSS("#lang-en")),
		chromedp.Click(chromedp.CSS("#lang-en")),
		chromedp.WaitVisible(chromedp.CSS("#lang-zh")))
	for _, p := range pages {
		visit(p, "en", "")
	}

	// A phone: 390 px wide, in Chinese again.
	do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(b.srv.URL+"/console/prefs?lang=zh-CN&back=/console/"), chromedp.WaitVisible(chromedp.CSS("#chart-sms")))
	for _, p := range pages {
		visit(p, "zh-CN", "-phone")
	}
}
