package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"duebell/api"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
	"duebell/scheduler"
)

// t0 is the business clock: 2026-11-10 10:00 in Shanghai.
var t0 = time.Date(2026, 11, 10, 2, 0, 0, 0, time.UTC)

const (
	ingestToken   = "ingest-secret-0123456789"
	viewerToken   = "viewer-secret-0123456789"
	operatorToken = "operator-secret-012345678"
)

type bundle struct {
	r    *repo.Repo
	srv  *httptest.Server
	orig int64 // c1's failed due_soon SMS
	paid int64 // c2's sent due_today SMS, whose installment is paid since
}

// setup serves the API (and so the console) over HTTP against a fresh
// schema with two borrowers: c1 (phone 138 1234 5678) whose reminder SMS
// failed, and c2 whose reminder went out and who has paid since.
func setup(t *testing.T) bundle {
	t.Helper()
	r := repotest.New(t)
	h, err := api.New(api.Config{
		Tokens: []api.Token{
			{Name: "lender", Token: ingestToken, Role: api.RoleIngest},
			{Name: "support", Token: viewerToken, Role: api.RoleViewer},
			{Name: "ops", Token: operatorToken, Role: api.RoleOperator},
		},
		Repo: r, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 },
		ConsolePlainHTTP: true, // the test server is plain http://
		Collection:       scheduler.Collection{PerDay: 1, PerWeek: 3, Window: scheduler.DefaultCollectionWindow},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := bundle{r: r, srv: httptest.NewServer(h)}
	t.Cleanup(b.srv.Close)

	dues := []repo.Date{repo.NewDate(2026, 11, 12), repo.NewDate(2026, 12, 12)}
	storetest.Customer(t, r, "c1")
	p1 := storetest.Plan(t, r, "p1", "c1", dues)
	storetest.Customer(t, r, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	p2 := storetest.Plan(t, r, "p2", "c2", dues)
	b.orig = b.notice(t, p1, "due_soon")
	b.finish(t, t0.Add(-50*time.Minute), repo.StatusFailed)
	b.paid = b.notice(t, p2, "due_today")
	b.finish(t, t0.Add(-40*time.Minute), repo.StatusSent)
	if _, err := r.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: "p2", Seq: 1, Amount: 50000, Now: t0}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b bundle) notice(t *testing.T, p repo.Plan, kind string) int64 {
	t.Helper()
	return b.noticeOf(t, p, 1, kind)
}

// noticeOf queues a pending SMS notice of kind for plan p's installment seq.
func (b bundle) noticeOf(t *testing.T, p repo.Plan, seq int, kind string) int64 {
	t.Helper()
	var id int64
	at := t0.Add(-time.Hour)
	if err := b.r.DB().GetContext(context.Background(), &id, `
		INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
			channel, locale, status, not_before, next_attempt_at, created_at, updated_at)
		VALUES ($1::bigint || ':' || $4 || ':sms', $2, $3, $1::bigint, $4, $4, -2, 'sms', 'zh-CN', 'pending', $5, $5, $5, $5)
		RETURNING id`, p.Installments[seq-1].ID, p.CustomerID, p.ID, kind, at); err != nil {
		t.Fatal(err)
	}
	return id
}

// finish records every sendable notice as status, as the dispatcher would.
func (b bundle) finish(t *testing.T, at time.Time, status string) {
	t.Helper()
	ctx := context.Background()
	claims, err := b.r.ClaimNotifications(ctx, "test", at, at, time.Minute, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var outs []repo.Outcome
	for _, c := range claims {
		o := repo.Outcome{ID: c.ID, Status: status, Provider: "aliyun", Recipient: c.Customer.Phone, Template: c.Kind + ".sms.zh-CN",
			Body: "【优品分期】张三您好，您的iPhone 17 12期第1期账单¥500.00将于11月12日到期，请及时还款：https://pay.example.com/r?t=abc",
			Link: "https://pay.example.com/r?t=abc",
			Attempt: &repo.Attempt{N: c.Attempts, Channel: "sms", Provider: "aliyun", StartedAt: at, FinishedAt: at.Add(300 * time.Millisecond),
				Outcome: repo.OutcomeSent, ProviderMsgID: fmt.Sprint("ali-", c.ID)}}
		if status == repo.StatusFailed {
			o.Reason, o.LastError = "permanent provider error", "isv.BUSINESS_LIMIT_CONTROL"
			o.Attempt.Outcome, o.Attempt.Code, o.Attempt.Error, o.Attempt.ProviderMsgID = repo.OutcomePermanent, "isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控", ""
		} else {
			o.ProviderMsgID = o.Attempt.ProviderMsgID
		}
		outs = append(outs, o)
	}
	if err := b.r.FinishNotifications(ctx, "test", at, outs); err != nil {
		t.Fatal(err)
	}
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t    *testing.T
	b    bundle
	c    *http.Client
	csrf string // the last page's CSRF token
}

func (b bundle) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, b: b, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (w *browser) get(path string) (int, string, http.Header) {
	w.t.Helper()
	res, err := w.c.Get(w.b.srv.URL + path)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.read(res)
}

func (w *browser) post(path string, form url.Values) (int, string, http.Header) {
	w.t.Helper()
	req, _ := http.NewRequest("POST", w.b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.read(res)
}

func (w *browser) read(res *http.Response) (int, string, http.Header) {
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		w.csrf = string(m[1])
	}
	return res.StatusCode, string(body), res.Header
}

func (w *browser) login(token string) {
	w.t.Helper()
	w.get("/console/login")
	if code, body, h := w.post("/console/login", url.Values{"csrf": {w.csrf}, "token": {token}}); code != http.StatusSeeOther ||
		h.Get("Location") != "/console/" {
		w.t.Fatalf("login = %d %s, want the overview first", code, body)
	}
	w.get("/console/notifications")
}
