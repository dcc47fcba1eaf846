package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"duebell/repo"
)

func TestLoginAndSessionCookie(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)

	if code, _, h := w.get("/console/notifications"); code != http.StatusSeeOther || h.Get("Location") != "/console/login" {
		t.Errorf("anonymous search = %d to %q, want the login form", code, h.Get("Location"))
	}
	code, body, h := w.get("/console/login")
	if code != 200 || !strings.Contains(body, `name="token"`) || w.csrf == "" {
		t.Fatalf("login form = %d %s", code, body)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers = %v", h)
	}

	// Login CSRF: the form's token must match its cookie.
	if code, _, _ := w.post("/console/login", url.Values{"csrf": {"forged"}, "token": {operatorToken}}); code != http.StatusForbidden {
		t.Errorf("login with a forged CSRF token = %d, want 403", code)
	}
	w.get("/console/login")
	if code, body, _ := w.post("/console/login", url.Values{"csrf": {w.csrf}, "token": {"not-a-token-0123456789"}}); code != http.StatusUnauthorized ||
		!strings.Contains(body, "not valid") {
		t.Errorf("wrong token = %d", code)
	}
	if code, _, _ := w.post("/console/login", url.Values{"csrf": {w.csrf}, "token": {ingestToken}}); code != http.StatusForbidden {
		t.Errorf("ingest token = %d, want 403", code)
	}
	// A field given twice is refused, as on every other form: it signed in
	// with the first token.
	if code, _, h := w.post("/console/login", url.Values{"csrf": {w.csrf}, "token": {viewerToken, "not-a-token-0123456789"}}); code != http.StatusBadRequest ||
		strings.Contains(h.Get("Set-Cookie"), "duebell_console=") {
		t.Errorf("token given twice = %d (cookies %q), want 400 and no session", code, h.Values("Set-Cookie"))
	}
	w.get("/console/login")

	code, _, h = w.post("/console/login", url.Values{"csrf": {w.csrf}, "token": {viewerToken}})
	if code != http.StatusSeeOther {
		t.Fatalf("viewer login = %d", code)
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "duebell_console" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure ||
		session.MaxAge <= 0 || session.Path != "/console/" || strings.Contains(session.Value, viewerToken) {
		t.Errorf("session cookie = %+v", session)
	}
	if code, body, _ := w.get("/console/notifications"); code != 200 || !strings.Contains(body, "support") {
		t.Errorf("search after login = %d", code)
	}

	// A tampered cookie is no session.
	forged := *session
	forged.Value = strings.Replace(session.Value, ".", "x.", 1)
	u, _ := url.Parse(b.srv.URL + "/console/")
	w.c.Jar.SetCookies(u, []*http.Cookie{&forged})
	if code, _, _ := w.get("/console/notifications"); code != http.StatusSeeOther {
		t.Errorf("tampered session = %d, want a redirect to login", code)
	}

	// Behind TLS the cookie is Secure.
	req, _ := http.NewRequest("GET", b.srv.URL+"/console/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if c := res.Cookies(); len(c) != 1 || !c[0].Secure {
		t.Errorf("cookies over TLS = %+v, want Secure", c)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)
	w.login(viewerToken)
	if code, _, _ := w.post("/console/logout", url.Values{"csrf": {"wrong"}}); code != http.StatusForbidden {
		t.Errorf("logout without CSRF token = %d, want 403", code)
	}
	if code, _, h := w.post("/console/logout", url.Values{"csrf": {w.csrf}}); code != http.StatusSeeOther || h.Get("Location") != "/console/login" {
		t.Errorf("logout = %d", code)
	}
	if code, _, _ := w.get("/console/notifications"); code != http.StatusSeeOther {
		t.Errorf("after logout = %d, want a redirect to login", code)
	}
}

func TestSearchAndNoticePages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)
	w.login(viewerToken)

	code, body, _ := w.get("/console/notifications?phone=" + url.QueryEscape("138 1234 5678"))
	if code != 200 || !strings.Contains(body, fmt.Sprintf(`href="/console/notifications/%d"`, b.orig)) ||
		strings.Contains(body, fmt.Sprintf(`href="/console/notifications/%d"`, b.paid)) || !strings.Contains(body, `class="badge bad" title="failed">failed`) {
		t.Errorf("search by phone = %d\n%s", code, body)
	}
	if code, body, _ := w.get("/console/notifications?phone=123"); code != 422 || !strings.Contains(body, "phone") {
		t.Errorf("bad phone = %d", code)
	}
	code, body, _ = w.get(fmt.Sprintf("/console/notifications/%d", b.orig))
	for _, want := range []string{"isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控", "请及时还款", "8613812345678", "viewer: resending needs an operator token"} {
		if !strings.Contains(body, want) {
			t.Errorf("notice page lacks %q", want)
		}
	}
	if code != 200 || strings.Contains(body, `id="resend"`) {
		t.Errorf("viewer's notice page = %d, with a resend form", code)
	}
	if code, _, _ := w.get("/console/notifications/999999"); code != 404 {
		t.Errorf("unknown notice = %d", code)
	}
	if code, body, _ := w.get("/console/audit"); code != 200 || !strings.Contains(body, "No entries") {
		t.Errorf("audit page = %d", code)
	}
}

// TestResendForm: operators resend with a reason; viewers and forged forms
// cannot; a refusal keeps the typed reason; a double submit queues once.
func TestResendForm(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := fmt.Sprintf("/console/notifications/%d/resend", b.orig)

	viewer := b.browser(t)
	viewer.login(viewerToken)
	if code, _, _ := viewer.post(path, url.Values{"csrf": {viewer.csrf}, "reason": {"viewer tries"}}); code != http.StatusForbidden {
		t.Errorf("viewer resend = %d, want 403", code)
	}

	ops := b.browser(t)
	ops.login(operatorToken)
	ops.get(fmt.Sprintf("/console/notifications/%d", b.orig))
	if code, _, _ := ops.post(path, url.Values{"csrf": {"forged"}, "reason": {"x"}}); code != http.StatusForbidden {
		t.Errorf("forged CSRF = %d, want 403", code)
	}
	if code, body, _ := ops.post(path, url.Values{"csrf": {ops.csrf}, "reason": {" "}}); code != 422 || !strings.Contains(body, "reason") {
		t.Errorf("empty reason = %d", code)
	}
	form := url.Values{"csrf": {ops.csrf}, "reason": {"客户来电说没收到"}, "channel": {"sms"}, "idempotency_key": {"form-1"}}
	code, _, h := ops.post(path, form)
	first := h.Get("Location")
	if code != http.StatusSeeOther || !strings.HasPrefix(first, "/console/notifications/") {
		t.Fatalf("resend = %d to %q", code, first)
	}
	if _, _, h := ops.post(path, form); h.Get("Location") != first {
		t.Errorf("double submit went to %q, first to %q", h.Get("Location"), first)
	}
	_, body, _ := ops.get(first)
	for _, want := range []string{"Resend queued", "客户来电说没收到", `id="requested-by">ops`, fmt.Sprintf(`id="resend-of">%d`, b.orig)} {
		if !strings.Contains(body, want) {
			t.Errorf("new notice page lacks %q", want)
		}
	}
	var n int
	if err := b.r.DB().GetContext(context.Background(), &n, `SELECT count(*) FROM notifications WHERE resend_of = $1`, b.orig); err != nil || n != 1 {
		t.Errorf("%d resends, %v; want 1", n, err)
	}

	// Paid since: refused with the reason kept in the form, forced too (it
	// would ask for nothing owed).
	paidPath := fmt.Sprintf("/console/notifications/%d/resend", b.paid)
	for _, force := range []string{"", "1"} {
		code, body, _ = ops.post(paidPath, url.Values{"csrf": {ops.csrf}, "reason": {"再发一次"}, "force": {force}})
		if code != http.StatusConflict || !strings.Contains(body, "installment paid; a reminder would ask for nothing owed") ||
			!strings.Contains(body, ">再发一次</textarea>") {
			t.Errorf("paid (force %q) = %d\n%s", force, code, body)
		}
	}
	// Its plan cancelled since: refused unless forced.
	p1, err := b.r.GetPlan(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	p1.Status = repo.PlanCancelled
	if _, err := b.r.UpsertPlan(context.Background(), p1, t0); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := ops.post(path, url.Values{"csrf": {ops.csrf}, "reason": {"客户要求"}}); code != http.StatusConflict ||
		!strings.Contains(body, "plan cancelled") {
		t.Errorf("cancelled = %d\n%s", code, body)
	}
	if code, _, _ := ops.post(path, url.Values{"csrf": {ops.csrf}, "reason": {"客户要求"}, "force": {"1"}}); code != http.StatusSeeOther {
		t.Errorf("forced = %d", code)
	}
	_, body, _ = ops.get("/console/audit?actor=ops")
	if strings.Count(body, "notification.resend") != 2 || !strings.Contains(body, "客户来电说没收到") {
		t.Errorf("audit page:\n%s", body)
	}
}

// TestConsoleRolesOnEveryRoute: anonymous browsers are sent to the login
// form, viewers read every page but cannot resend, operators do both.
func TestConsoleRolesOnEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	anon, viewer, ops := b.browser(t), b.browser(t), b.browser(t)
	viewer.login(viewerToken)
	ops.login(operatorToken)
	notice := fmt.Sprintf("/console/notifications/%d", b.orig)
	for _, path := range []string{"/console/", "/console/notifications", "/console/notifications?status=failed", notice, "/console/audit",
		"/console/customers", "/console/customers?q=c", "/console/customers/c1", "/console/resends"} {
		if code, _, h := anon.get(path); code != http.StatusSeeOther || h.Get("Location") != "/console/login" {
			t.Errorf("anonymous GET %s = %d to %q", path, code, h.Get("Location"))
		}
		for name, w := range map[string]*browser{"viewer": viewer, "operator": ops} {
			want := http.StatusOK // the home page is the overview
			if path == "/console/resends" && name == "viewer" {
				want = http.StatusForbidden // bulk resend is for operators
			}
			if code, _, _ := w.get(path); code != want {
				t.Errorf("%s GET %s = %d", name, path, code)
			}
		}
	}
	resend := notice + "/resend"
	for name, tt := range map[string]struct {
		w    *browser
		want int
	}{"anonymous": {anon, http.StatusSeeOther}, "viewer": {viewer, http.StatusForbidden}, "operator": {ops, http.StatusSeeOther}} {
		tt.w.get(notice)
		code, _, h := tt.w.post(resend, url.Values{"csrf": {tt.w.csrf}, "reason": {"roles"}})
		if code != tt.want || (name == "anonymous" && h.Get("Location") != "/console/login") {
			t.Errorf("%s POST resend = %d to %q, want %d", name, code, h.Get("Location"), tt.want)
		}
	}
	var n int
	if err := b.r.DB().GetContext(context.Background(), &n, `SELECT count(*) FROM notifications WHERE resend_of = $1`, b.orig); err != nil || n != 1 {
		t.Errorf("%d resends, want the operator's one", n)
	}
}
