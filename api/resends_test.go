package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/link"
	"duebell/notify"
	"duebell/repo"
	"duebell/templates"
)

func (b bundle) post(t *testing.T, path, token, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return newRecorder(b, req)
}

// recordingSender is a provider that accepts everything and remembers it.
type recordingSender struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (s *recordingSender) Provider() string { return "test" }

func (s *recordingSender) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return notify.Result{ProviderMsgID: fmt.Sprint("m", len(s.sent))}, nil
}

// dispatchNow runs the real dispatcher once at at, sending through sender.
func (b bundle) dispatchNow(t *testing.T, at time.Time, sender *recordingSender) notify.Counts {
	t.Helper()
	tpl, err := templates.Load(templates.Options{AllowedDomains: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	links, err := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}, nil, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	d, err := notify.New(notify.Config{Store: b.r, Templates: tpl, Links: links, Logger: slog.New(slog.DiscardHandler),
		Senders: map[string]notify.Sender{"sms": sender, "email": sender}, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// TestResendGoesToTheContactOnFile: the request cannot carry an address; the
// resend is rendered at send time and goes to the phone on file now, with a
// fresh link, and the action is audited with the token's name.
func TestResendGoesToTheContactOnFile(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	orig := b.notice(t, "p1", 1, "due_soon", "sms", t0.Add(-2*time.Hour))
	b.finish(t, t0.Add(-2*time.Hour), "aliyun", repo.StatusFailed)
	path := fmt.Sprintf("/api/v1/notifications/%d/resend", orig)

	before := b.snapshot(t)
	for _, body := range []string{
		`{"reason":"客户说没收到","to":"+8613900009999"}`,
		`{"reason":"客户说没收到","recipient":"evil@example.org"}`,
	} {
		rec := b.post(t, path, operatorToken, body, nil)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"code":"unknown_field"`) {
			t.Errorf("%s = %d %s, want 400 unknown_field", body, rec.Code, rec.Body)
		}
	}
	for body, want := range map[string]int{`{"reason":"  "}`: 422, `{}`: 422, ``: 400, `{"reason":"x","channel":"fax"}`: 422,
		`{"reason":"x","force":"yes"}`: 422} {
		if rec := b.post(t, path, operatorToken, body, nil); rec.Code != want {
			t.Errorf("%q = %d %s, want %d", body, rec.Code, rec.Body, want)
		}
	}
	if rec := b.post(t, "/api/v1/notifications/987654/resend", operatorToken, `{"reason":"x"}`, nil); rec.Code != 404 ||
		!strings.Contains(rec.Body.String(), `"code":"not_found"`) {
		t.Errorf("unknown id = %d %s, want 404", rec.Code, rec.Body)
	}
	assertUnchanged(t, before, b.snapshot(t))

	// The borrower changed phones since; the resend goes to the new one.
	b.mustDo(t, http.StatusOK, "PUT", "/api/v1/customers/c1", ingestToken, `{"phone":"13900001111","email":"li.lei@example.com"}`)
	rec := b.post(t, path, operatorToken, `{"reason":"客户说没收到"}`, nil)
	if rec.Code != 201 {
		t.Fatalf("resend = %d %s", rec.Code, rec.Body)
	}
	var n repo.Notification
	mustJSON(t, rec.Body.Bytes(), &n)
	if n.ResendOf == nil || *n.ResendOf != orig || n.RequestedBy != "ops" || n.ResendReason != "客户说没收到" ||
		n.Status != "pending" || n.Channel != "sms" || n.DedupKey != nil || n.Recipient != "" ||
		rec.Header().Get("Location") != fmt.Sprintf("/api/v1/notifications/%d", n.ID) {
		t.Errorf("resend = %+v (Location %q)", n, rec.Header().Get("Location"))
	}
	entries, err := b.r.ListAudit(context.Background(), time.Time{}, "ops", 10)
	if err != nil || len(entries) != 1 || entries[0].Action != "notification.resend" ||
		entries[0].Target != fmt.Sprintf("notification:%d", orig) || !strings.Contains(string(entries[0].Detail), "客户说没收到") {
		t.Errorf("audit = %+v, %v", entries, err)
	}

	sender := &recordingSender{}
	if counts := b.dispatchNow(t, t0, sender); counts["sent"] != 1 {
		t.Fatalf("dispatch = %v", counts)
	}
	if len(sender.sent) != 1 || sender.sent[0].To != "+8613900001111" || sender.sent[0].NotificationID != n.ID ||
		!strings.Contains(sender.sent[0].Text, "pay.example.com") {
		t.Errorf("sent = %+v, want the new phone on file and a fresh link", sender.sent)
	}
	detail := b.mustDo(t, http.StatusOK, "GET", fmt.Sprintf("/api/v1/notifications/%d", n.ID), viewerToken, "")
	if detail["status"] != "sent" || detail["recipient"] != "+8613900001111" || detail["link"] == "" {
		t.Errorf("resend after dispatch = %v", detail)
	}
}

// TestResendRefusedWhenPaidEvenForced: 409 for a paid installment, forced
// or not (the reminder would ask for ¥0.00 as owed), and nothing is queued
// or audited. On a cancelled plan the refusal yields to force, and the
// forced resend goes through the dispatcher's re-check.
func TestResendRefusedWhenPaidEvenForced(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	paid := b.notice(t, "p1", 1, "due_today", "sms", t0.Add(-time.Hour))
	owed := b.notice(t, "p1", 2, "due_soon", "sms", t0.Add(-time.Hour))
	b.finish(t, t0.Add(-time.Hour), "aliyun", repo.StatusSent)
	b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken, `{"amount":10000,"ref":"pay"}`)
	b.mustDo(t, http.StatusOK, "PUT", "/api/v1/customers/c1", ingestToken, `{"phone":"13812345678","email":"li.lei@example.com","email_opt_out":true}`)

	before := b.snapshot(t)
	path := fmt.Sprintf("/api/v1/notifications/%d/resend", paid)
	for _, body := range []string{`{"reason":"客户要求再发"}`, `{"reason":"客户要求再发","force":true}`,
		`{"reason":"客户要求再发","channel":"email","force":true}`} {
		rec := b.post(t, path, operatorToken, body, nil)
		if rec.Code != 409 || !strings.Contains(rec.Body.String(), `"code":"conflict"`) ||
			!strings.Contains(rec.Body.String(), "installment paid; a reminder would ask for nothing owed") {
			t.Errorf("%s on a paid installment = %d %s, want 409: nothing owed", body, rec.Code, rec.Body)
		}
	}
	assertUnchanged(t, before, b.snapshot(t))

	p, err := b.r.GetPlan(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	p.Status = repo.PlanCancelled
	if _, err := b.r.UpsertPlan(context.Background(), p, t0); err != nil {
		t.Fatal(err)
	}
	path = fmt.Sprintf("/api/v1/notifications/%d/resend", owed)
	rec := b.post(t, path, operatorToken, `{"reason":"客户要求再发"}`, nil)
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), "plan cancelled; resend with force") {
		t.Errorf("cancelled plan = %d %s, want 409 naming the cancelled plan", rec.Code, rec.Body)
	}
	rec = b.post(t, path, operatorToken, `{"reason":"客户要求再发","channel":"email","force":true}`, nil)
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), "opted out of email") {
		t.Errorf("forced to an opted-out channel = %d %s, want 409", rec.Code, rec.Body)
	}
	if n := b.count(t, "audit_log"); n != 0 {
		t.Errorf("%d audit rows after refusals", n)
	}
	rec = b.post(t, path, operatorToken, `{"reason":"客户要求再发","force":true}`, nil)
	if rec.Code != 201 || !strings.Contains(rec.Body.String(), `"forced":true`) {
		t.Fatalf("forced = %d %s", rec.Code, rec.Body)
	}
	sender := &recordingSender{}
	// The payment's SMS confirmation goes out too (its email one is
	// suppressed: opted out); the forced reminder passes the re-check.
	counts := b.dispatchNow(t, t0, sender)
	if counts["sent"] != 2 || counts["suppressed"] != 1 {
		t.Errorf("dispatch = %v, want the forced resend and the SMS confirmation sent", counts)
	}
	var status string
	if err := b.r.DB().GetContext(context.Background(), &status, `SELECT status FROM notifications WHERE resend_of = $1`, owed); err != nil || status != "sent" {
		t.Errorf("forced resend status %q, %v", status, err)
	}
	for _, m := range sender.sent {
		if strings.Contains(m.Text, "¥0.00") {
			t.Errorf("sent a bill of ¥0.00: %s", m.Text)
		}
	}
}

func TestResendIdempotencyKeySendsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	orig := b.notice(t, "p1", 1, "due_soon", "sms", t0.Add(-time.Hour))
	b.finish(t, t0.Add(-time.Hour), "aliyun", repo.StatusFailed)
	path := fmt.Sprintf("/api/v1/notifications/%d/resend", orig)
	key := map[string]string{"Idempotency-Key": "2f1c-double-click"}

	first := b.post(t, path, operatorToken, `{"reason":"double click"}`, key)
	second := b.post(t, path, operatorToken, `{"reason":"double click"}`, key)
	var n1, n2 repo.Notification
	mustJSON(t, first.Body.Bytes(), &n1)
	mustJSON(t, second.Body.Bytes(), &n2)
	if first.Code != 201 || second.Code != 200 || n1.ID == 0 || n1.ID != n2.ID ||
		second.Header().Get("Idempotent-Replayed") != "true" || first.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("first %d %s, second %d %s (replayed %q)", first.Code, first.Body, second.Code, second.Body,
			second.Header().Get("Idempotent-Replayed"))
	}
	if n := b.count(t, "notifications"); n != 2 {
		t.Errorf("%d notices, want the original and one resend", n)
	}
	if n := b.count(t, "audit_log"); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}
	bad := b.post(t, path, operatorToken, `{"reason":"x"}`, map[string]string{"Idempotency-Key": "has space"})
	if bad.Code != 422 {
		t.Errorf("bad key = %d %s", bad.Code, bad.Body)
	}
}

// TestBulkResendOutage: every SMS that failed in an outage window; the dry
// run's count is the real run's, and the real run is one audit row.
func TestBulkResendOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	for i := 2; i <= 9; i++ {
		ref := fmt.Sprintf("c%d", i+1)
		b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/"+ref, ingestToken, fmt.Sprintf(`{"phone":"1391234%04d"}`, i))
		b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/plans/p"+ref, ingestToken, planJSON(ref, 1))
		b.notice(t, "p"+ref, 1, "due_soon", "sms", t0.Add(-3*time.Hour))
	}
	b.notice(t, "p1", 1, "due_soon", "sms", t0.Add(-3*time.Hour))
	b.notice(t, "p1", 1, "due_soon", "email", t0.Add(-3*time.Hour))
	outage := t0.Add(-2 * time.Hour)
	b.finish(t, outage.Add(10*time.Minute), "aliyun", repo.StatusFailed)
	b.notice(t, "p1", 2, "due_soon", "sms", t0.Add(-3*time.Hour))
	b.finish(t, outage.Add(-time.Hour), "aliyun", repo.StatusFailed) // before the outage

	body := func(dry bool) string {
		return fmt.Sprintf(`{"filter":{"status":"failed","channel":"sms","since":%q,"until":%q},"reason":"短信通道故障","dry_run":%t}`,
			outage.Format(time.RFC3339), outage.Add(time.Hour).Format(time.RFC3339), dry)
	}
	before := b.count(t, "notifications")
	dry := b.mustDo(t, http.StatusOK, "POST", "/api/v1/resends", operatorToken, body(true))
	sample, _ := dry["sample"].([]any)
	if dry["dry_run"] != true || dry["count"] != float64(9) || len(sample) != 9 {
		t.Errorf("dry run = %v", dry)
	}
	if n := b.count(t, "notifications"); n != before || b.count(t, "audit_log") != 0 {
		t.Errorf("dry run wrote: %d notices (was %d), %d audit rows", n, before, b.count(t, "audit_log"))
	}
	real := b.mustDo(t, http.StatusOK, "POST", "/api/v1/resends", operatorToken, body(false))
	if real["dry_run"] != false || real["count"] != dry["count"] {
		t.Errorf("real run = %v, dry run = %v", real, dry)
	}
	if n := b.count(t, "notifications"); n != before+9 {
		t.Errorf("%d notices after the real run, want %d", n, before+9)
	}
	entries, err := b.r.ListAudit(context.Background(), time.Time{}, "", 10)
	if err != nil || len(entries) != 1 || entries[0].Action != "notification.resend_bulk" || entries[0].Actor != "ops" ||
		!strings.Contains(string(entries[0].Detail), `"count": 9`) && !strings.Contains(string(entries[0].Detail), `"count":9`) {
		t.Errorf("audit = %+v, %v", entries, err)
	}

	for name, bad := range map[string]string{
		"no reason":    `{"filter":{"status":"failed","since":"2025-03-10T00:00:00Z","until":"2025-03-10T01:00:00Z"},"reason":""}`,
		"no window":    `{"filter":{"status":"failed"},"reason":"x"}`,
		"pending":      `{"filter":{"status":"pending","since":"2025-03-10T00:00:00Z","until":"2025-03-10T01:00:00Z"},"reason":"x"}`,
		"bad time":     `{"filter":{"status":"failed","since":"today","until":"2025-03-10T01:00:00Z"},"reason":"x"}`,
		"unknown kind": `{"filter":{"status":"failed","kind":"overdue_1","since":"2025-03-10T00:00:00Z","until":"2025-03-10T01:00:00Z"},"reason":"x"}`,
		"to address":   `{"filter":{"status":"failed"},"reason":"x","to":"+8613900000000"}`,
	} {
		want := 422
		if name == "to address" {
			want = 400
		}
		if rec := b.post(t, "/api/v1/resends", operatorToken, bad, nil); rec.Code != want {
			t.Errorf("%s = %d %s, want %d", name, rec.Code, rec.Body, want)
		}
	}
}
