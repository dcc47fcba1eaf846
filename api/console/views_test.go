package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"duebell/api/console"
	"duebell/repo"
	"duebell/templates"
)

// getAs is get with an Accept-Language header, as a browser sends it.
func (w *browser) getAs(path, acceptLanguage string) (int, string, http.Header) {
	w.t.Helper()
	req, _ := http.NewRequest("GET", w.b.srv.URL+path, nil)
	req.Header.Set("Accept-Language", acceptLanguage)
	res, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.read(res)
}

// renderFailed stores a notice for c1 whose first try stopped at the render
// (counted in attempts, no delivery attempt row) and that waits for a retry
// at t0+10m.
func (b bundle) renderFailed(t *testing.T) int64 {
	t.Helper()
	var id int64
	if err := b.r.DB().GetContext(context.Background(), &id, `
		INSERT INTO notifications (customer_id, plan_id, kind, channel, locale, status, attempts, last_error,
			not_before, next_attempt_at, created_at, updated_at)
		SELECT c.id, p.id, 'card_unbound', 'sms', 'zh-CN', 'pending', 1, 'render: template card_unbound/zh-CN/sms: missing CardLast4',
			$1::timestamptz - interval '30 minutes', $1::timestamptz + interval '10 minutes', $1::timestamptz - interval '30 minutes', $1
		FROM customers c JOIN plans p ON p.customer_id = c.id WHERE c.ref = 'c1' AND p.ref = 'p1'
		RETURNING id`, t0); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCustomerFoundByWhatTheCallerSays: a phone in any form, an email, a
// customer or plan ref lead to the one customer; a name shows the list.
func TestCustomerFoundByWhatTheCallerSays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)
	w.login(viewerToken)
	for _, q := range []string{"138 1234 5678", "13812345678", "+86 138 1234 5678", "+8613812345678", "0086 138-1234-5678",
		"C1@Example.net", "c1", "p1"} {
		code, body, h := w.get("/console/customers?q=" + url.QueryEscape(q))
		if code != http.StatusSeeOther || h.Get("Location") != "/console/customers/c1" {
			t.Errorf("search %q = %d to %q\n%s", q, code, h.Get("Location"), body)
		}
	}
	code, body, _ := w.get("/console/customers?q=" + url.QueryEscape("张"))
	if code != 200 || !strings.Contains(body, `href="/console/customers/c1"`) || !strings.Contains(body, `href="/console/customers/c2"`) {
		t.Errorf("search by name = %d\n%s", code, body)
	}
	if strings.Contains(body, "13812345678") || !strings.Contains(body, "138****5678") {
		t.Errorf("customer list shows an unmasked phone:\n%s", body)
	}
	if code, body, _ := w.get("/console/customers?q=" + url.QueryEscape("139 0000 0000")); code != 200 || !strings.Contains(body, `id="no-customers"`) {
		t.Errorf("search for nobody = %d\n%s", code, body)
	}
	if code, _, _ := w.get("/console/customers/nobody"); code != 404 {
		t.Errorf("unknown customer = %d", code)
	}
}

// TestCustomerPage: contacts masked, opt-outs, plans with installments, and
// one timeline with the notices, the payment and the resend.
func TestCustomerPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.r.DB().Exec(`UPDATE customers SET email_opt_out = true WHERE ref = 'c2'`); err != nil {
		t.Fatal(err)
	}
	// c2's reminder of the bill still due, resent (the paid one's would ask
	// for nothing owed).
	p2, err := b.r.GetPlan(context.Background(), "p2")
	if err != nil {
		t.Fatal(err)
	}
	due := b.noticeOf(t, p2, 2, "due_soon")
	b.finish(t, t0.Add(-30*time.Minute), repo.StatusSent)
	// A bill of over a thousand yuan reads as the messages write it.
	if _, err := b.r.DB().Exec(`UPDATE installments SET amount = 123456 WHERE id = (SELECT i.id FROM installments i
		JOIN plans p ON p.id = i.plan_id WHERE p.ref = 'p2' ORDER BY i.seq DESC LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	ops := b.browser(t)
	ops.login(operatorToken)
	ops.get(fmt.Sprintf("/console/notifications/%d", due))
	if code, _, _ := ops.post(fmt.Sprintf("/console/notifications/%d/resend", due),
		url.Values{"csrf": {ops.csrf}, "reason": {"客户说没收到"}}); code != http.StatusSeeOther {
		t.Fatalf("resend = %d", code)
	}
	code, body, _ := ops.getAs("/console/customers/c2", "en")
	if code != 200 {
		t.Fatalf("customer page = %d\n%s", code, body)
	}
	for _, want := range []string{"张三", "139****1111", "c***@example.net", `id="c-email-opt"><span class="badge bad">opted out`,
		`id="c-sms-opt"><span class="badge ok">receives`, "iPhone 17 12期", "2026-11-12", "2026-12-12", "¥500.00", "¥1,234.56",
		fmt.Sprintf(`href="/console/notifications/%d"`, b.paid), `class="tl-payment"`, `class="tl-audit"`, "notification.resend",
		`id="optout-changes"`, `class="tl-optout"`,
		"客户说没收到"} {
		if !strings.Contains(body, want) {
			t.Errorf("customer page lacks %q", want)
		}
	}
	for _, leak := range []string{"13900001111", "c2@example.net"} {
		if strings.Contains(body, leak) {
			t.Errorf("customer page shows %q unmasked", leak)
		}
	}
	if strings.Contains(body, fmt.Sprintf(`href="/console/notifications/%d"`, b.orig)) {
		t.Errorf("c2's page shows c1's notice")
	}
}

// TestOverviewCountsAndQueue: the first page counts the day's sent and
// failed SMS in the chart and shows the queue.
func TestOverviewCountsAndQueue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.renderFailed(t)
	if _, err := b.r.DB().Exec(`UPDATE notifications SET next_attempt_at = $1 WHERE id = $2`, t0.Add(-5*time.Minute), id); err != nil {
		t.Fatal(err)
	}
	// The fixture's finish leaves sent_at empty; the dispatcher sets it.
	if _, err := b.r.DB().Exec(`UPDATE notifications SET sent_at = updated_at WHERE status = 'sent'`); err != nil {
		t.Fatal(err)
	}
	w := b.browser(t)
	w.login(viewerToken)
	code, body, _ := w.getAs("/console/", "en-US,en;q=0.9")
	if code != 200 {
		t.Fatalf("overview = %d", code)
	}
	for _, want := range []string{`<svg viewBox="0 0 1000 220"`, "<title>11-10 sent: 1</title>", "<title>11-10 failed: 1</title>",
		`id="queue-pending">1<`, `id="queue-due">1<`, fmt.Sprintf(`<a href="/console/notifications/%d">#%d</a>`, id, id),
		"2026-10-12 – 2026-11-10"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("overview loads something from elsewhere")
	}
}

// TestNoticeStateSaysWhatWasTried: a notice whose try stopped at the render
// says so and when it is tried again, instead of "Tries 1" next to "No
// attempts yet".
func TestNoticeStateSaysWhatWasTried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.renderFailed(t)
	w := b.browser(t)
	w.login(viewerToken)
	code, body, _ := w.getAs(fmt.Sprintf("/console/notifications/%d", id), "en")
	if code != 200 {
		t.Fatalf("notice = %d", code)
	}
	for _, want := range []string{"1 try stopped before reaching a provider.", "missing CardLast4",
		"Waits until 2026-11-10 10:10:00 (the retry back-off)", "No try reached a provider"} {
		if !strings.Contains(body, want) {
			t.Errorf("notice page lacks %q", want)
		}
	}
	if strings.Contains(body, "No attempts yet.") {
		t.Errorf("notice page says no attempts although one try was made")
	}
	_, body, _ = w.getAs(fmt.Sprintf("/console/notifications/%d", b.orig), "zh-CN")
	if !strings.Contains(body, "1 次尝试已提交给服务商") || !strings.Contains(body, "系统不会再自动重试") {
		t.Errorf("failed notice's state in Chinese:\n%s", body)
	}
}

// TestBulkResendFromTheConsole: a dry run counts and samples and changes
// nothing; the confirmed run queues the resend and is audited as the token.
func TestBulkResendFromTheConsole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ops := b.browser(t)
	ops.login(operatorToken)
	ops.get("/console/resends")
	form := url.Values{"csrf": {ops.csrf}, "status": {"failed"}, "channel": {"sms"}, "since": {"2026-11-10 08:00"},
		"until": {"2026-11-10 12:00"}, "reason": {"阿里云短信故障 INC-7"}, "action": {"dry_run"}}
	code, body, _ := ops.post("/console/resends", form)
	if code != 200 || !strings.Contains(body, "Dry run: would resend 1 of 1 matching notices.") ||
		!strings.Contains(body, fmt.Sprintf(`href="/console/notifications/%d"`, b.orig)) || !strings.Contains(body, `id="b-run"`) {
		t.Fatalf("dry run = %d\n%s", code, body)
	}
	var n int
	_ = b.r.DB().Get(&n, `SELECT count(*) FROM notifications WHERE resend_of IS NOT NULL`)
	if n != 0 {
		t.Fatalf("dry run queued %d resends", n)
	}
	form.Set("action", "run")
	form.Set("csrf", ops.csrf)
	code, body, _ = ops.post("/console/resends", form)
	if code != 200 || !strings.Contains(body, "Queued 1 resends of 1 matching notices.") {
		t.Fatalf("run = %d\n%s", code, body)
	}
	var actor, detail string
	if err := b.r.DB().QueryRow(`SELECT actor, detail::text FROM audit_log WHERE action = 'notification.resend_bulk'`).Scan(&actor, &detail); err != nil ||
		actor != "ops" || !strings.Contains(detail, "INC-7") {
		t.Errorf("audit = %q %q (%v)", actor, detail, err)
	}
	if err := b.r.DB().Get(&n, `SELECT count(*) FROM notifications WHERE resend_of = $1 AND requested_by = 'ops'`, b.orig); err != nil || n != 1 {
		t.Errorf("%d resends of the failed notice, want 1", n)
	}
	form.Set("reason", "")
	if code, body, _ := ops.post("/console/resends", form); code != 422 || !strings.Contains(body, "reason") {
		t.Errorf("no reason = %d", code)
	}
	viewer := b.browser(t)
	viewer.login(viewerToken)
	form.Set("csrf", viewer.csrf)
	form.Set("reason", "x")
	if code, _, _ := viewer.post("/console/resends", form); code != http.StatusForbidden {
		t.Errorf("viewer's bulk resend = %d", code)
	}
}

// TestLanguageAndZoneChoices: the browser's language decides until the
// viewer picks one, which is remembered; times follow the chosen zone.
func TestLanguageAndZoneChoices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)
	w.login(viewerToken)
	notice := fmt.Sprintf("/console/notifications/%d", b.orig)
	if _, body, _ := w.getAs(notice, "zh-CN,zh;q=0.9,en;q=0.8"); !strings.Contains(body, `<html lang="zh-CN">`) ||
		!strings.Contains(body, "发送记录") || !strings.Contains(body, "2026-11-10 09:00:00") || !strings.Contains(body, "时间均为 Asia/Shanghai 时区") {
		t.Errorf("Chinese browser:\n%s", body)
	}
	if _, body, _ := w.getAs(notice, "en-GB,en;q=0.9"); !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Delivery log") {
		t.Errorf("English browser:\n%s", body)
	}
	code, _, h := w.get("/console/prefs?lang=en&tz=UTC&back=" + url.QueryEscape(notice))
	if code != http.StatusSeeOther || h.Get("Location") != notice {
		t.Fatalf("prefs = %d to %q", code, h.Get("Location"))
	}
	_, body, _ := w.getAs(notice, "zh-CN")
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "2026-11-10 01:00:00") || !strings.Contains(body, "Times in UTC.") {
		t.Errorf("after choosing English and UTC, a Chinese browser sees:\n%s", body)
	}
	for _, back := range []string{"//evil.example/console/", "https://evil.example/", "/api/v1/audit", "/console/../../evil",
		"/console//evil", "/console/x\r\nSet-Cookie: a=b", `/console/\evil`} {
		if _, _, h := w.get("/console/prefs?lang=zh-CN&back=" + url.QueryEscape(back)); h.Get("Location") != "/console/" {
			t.Errorf("prefs back=%q went to %q", back, h.Get("Location"))
		}
	}
}

// TestEveryKindInTheFilter: the delivery log's kind filter lists every kind
// that has templates, with a Chinese name for each.
func TestEveryKindInTheFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)
	w.login(viewerToken)
	_, en, _ := w.getAs("/console/notifications", "en")
	_, zh, _ := w.getAs("/console/notifications", "zh-CN")
	for _, k := range templates.Kinds() {
		if !strings.Contains(en, fmt.Sprintf(`<option value="%s">%s</option>`, k, k)) {
			t.Errorf("English kind filter lacks %s", k)
		}
		if strings.Contains(zh, fmt.Sprintf(`<option value="%s">%s</option>`, k, k)) || !strings.Contains(zh, fmt.Sprintf(`<option value="%s">`, k)) {
			t.Errorf("Chinese kind filter lacks a Chinese name for %s", k)
		}
	}
}

// TestChineseCatalogIsComplete: every English message the templates and
// handlers show has a Chinese translation, so a zh-CN page is not half
// English.
func TestChineseCatalogIsComplete(t *testing.T) {
	msgs := map[string]bool{}
	tplRE := regexp.MustCompile(`\.Tf? "((?:[^"\\]|\\.)*)"`)
	goRE := regexp.MustCompile(`\btrf?\([a-zA-Z.()]*lang, "((?:[^"\\]|\\.)*)"|Title: "((?:[^"\\]|\\.)*)"`)
	files, _ := filepath.Glob("templates/*.html")
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range append(files, goFiles...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		re := tplRE
		if strings.HasSuffix(f, ".go") {
			re = goRE
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			for _, s := range m[1:] {
				if s != "" {
					msgs[s] = true
				}
			}
		}
	}
	if len(msgs) < 100 {
		t.Fatalf("found only %d messages: the scan is broken", len(msgs))
	}
	for m := range msgs {
		if !console.HasZh(m) {
			t.Errorf("no Chinese for %q", m)
		}
	}
}
