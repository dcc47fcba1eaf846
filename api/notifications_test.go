package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"duebell/repo"
)

// notice queues a notice for installment seq of plan planRef as a scan
// would, created at at, and returns its id.
func (b bundle) notice(t *testing.T, planRef string, seq int, kind, channel string, at time.Time) int64 {
	t.Helper()
	var id int64
	if err := b.r.DB().GetContext(context.Background(), &id, `
		INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
			channel, locale, status, not_before, next_attempt_at, created_at, updated_at)
		SELECT i.id || ':' || $3 || ':' || $4 || ':' || (SELECT count(*) FROM notifications), p.customer_id, p.id, i.id,
			$3, $3, 0, $4, 'zh-CN', 'pending', $5, $5, $5, $5
		FROM plans p JOIN installments i ON i.plan_id = p.id
		WHERE p.ref = $1 AND i.seq = $2
		RETURNING id`, planRef, seq, kind, channel, at); err != nil {
		t.Fatalf("insert notice: %v", err)
	}
	return id
}

// finish claims every sendable notice at at and records it as status via
// provider, with one attempt each, as the dispatcher does.
func (b bundle) finish(t *testing.T, at time.Time, provider, status string) {
	t.Helper()
	ctx := context.Background()
	claims, err := b.r.ClaimNotifications(ctx, "test", at, at, time.Minute, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var outs []repo.Outcome
	for _, c := range claims {
		o := repo.Outcome{ID: c.ID, Status: status, Provider: provider, Recipient: c.Customer.Phone, Body: "提醒",
			Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: provider, StartedAt: at, FinishedAt: at,
				Outcome: repo.OutcomeSent}}
		if status != repo.StatusSent {
			o.LastError, o.Attempt.Outcome, o.Attempt.Error = "upstream down", repo.OutcomePermanent, "upstream down"
		}
		outs = append(outs, o)
	}
	if err := b.r.FinishNotifications(ctx, "test", at, outs); err != nil {
		t.Fatal(err)
	}
}

func listIDs(t *testing.T, body map[string]any) []int64 {
	t.Helper()
	rows, ok := body["notifications"].([]any)
	if !ok {
		t.Fatalf("no notifications array in %v", body)
	}
	out := []int64{}
	for _, r := range rows {
		out = append(out, int64(r.(map[string]any)["id"].(float64)))
	}
	return out
}

func TestListNotifications(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	a := b.notice(t, "p1", 1, "due_soon", "sms", t0.Add(-time.Hour))
	e := b.notice(t, "p1", 1, "due_soon", "email", t0.Add(-time.Hour))
	b.finish(t, t0.Add(-50*time.Minute), "aliyun", repo.StatusFailed)
	o := b.notice(t, "p1", 2, "overdue", "sms", t0)

	for _, tt := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{o, e, a}},
		{"phone=" + url.QueryEscape("138 1234-5678"), []int64{o, e, a}},
		{"phone=" + url.QueryEscape("+86 13900000000"), []int64{}},
		{"email=LI.LEI%40example.com", []int64{o, e, a}},
		{"customer_ref=c1&status=failed", []int64{e, a}},
		{"plan_ref=p1&kind=overdue", []int64{o}},
		{"channel=email", []int64{e}},
		{"since=" + url.QueryEscape(t0.Add(-time.Minute).Format(time.RFC3339)), []int64{o}},
		{"until=" + url.QueryEscape(t0.Format(time.RFC3339)), []int64{e, a}},
	} {
		body := b.mustDo(t, http.StatusOK, "GET", "/api/v1/notifications?"+tt.query, viewerToken, "")
		if got := listIDs(t, body); fmt.Sprint(got) != fmt.Sprint(tt.want) || body["next_cursor"] != nil {
			t.Errorf("?%s: %v (cursor %v), want %v", tt.query, got, body["next_cursor"], tt.want)
		}
	}
	body := b.mustDo(t, http.StatusOK, "GET", "/api/v1/notifications?status=failed&channel=sms", operatorToken, "")
	row := body["notifications"].([]any)[0].(map[string]any)
	if row["customer_ref"] != "c1" || row["plan_ref"] != "p1" || row["seq"] != float64(1) || row["provider"] != "aliyun" ||
		row["recipient"] != "+8613812345678" || row["attempts"] != float64(1) {
		t.Errorf("row = %v", row)
	}

	for _, q := range []string{"limit=abc", "limit=0", "since=yesterday", "until=2025-13-01", "channel=fax",
		"status=lost", "phone=12345", "cursor=xyz", "since=2025-03-10T00:00:00Z&until=2025-03-09T00:00:00Z"} {
		res := b.do(t, "GET", "/api/v1/notifications?"+q, viewerToken, "")
		if code, _ := res.errorOf(); res.status != http.StatusUnprocessableEntity || code != "invalid" {
			t.Errorf("?%s = %d %s, want 422 invalid", q, res.status, res.raw)
		}
	}
	if res := b.do(t, "GET", "/api/v1/notifications?phone=12345", viewerToken, ""); strings.Contains(res.raw, "12345") {
		t.Errorf("error echoes the phone: %s", res.raw)
	}
}

func TestListNotificationsLimitAndPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	if _, err := b.r.DB().ExecContext(context.Background(), `
		INSERT INTO notifications (customer_id, kind, stage, channel, locale, status, not_before, next_attempt_at, created_at, updated_at)
		SELECT (SELECT id FROM customers WHERE ref = 'c1'), 'card_unbound', '', 'sms', 'zh-CN', 'sent', $1, $1, $1, $1
		FROM generate_series(1, 230)`, t0); err != nil {
		t.Fatal(err)
	}
	body := b.mustDo(t, http.StatusOK, "GET", "/api/v1/notifications", viewerToken, "")
	if n := len(listIDs(t, body)); n != 50 || body["next_cursor"] == nil {
		t.Errorf("default page: %d rows, cursor %v; want 50 and a cursor", n, body["next_cursor"])
	}
	body = b.mustDo(t, http.StatusOK, "GET", "/api/v1/notifications?limit=1000", viewerToken, "")
	if n := len(listIDs(t, body)); n != 200 {
		t.Errorf("limit=1000: %d rows, want the cap of 200", n)
	}

	// Page through with newer notices arriving between pages.
	seen := map[int64]bool{}
	var order []int64
	cursor := ""
	for range 20 {
		body := b.mustDo(t, http.StatusOK, "GET", "/api/v1/notifications?limit=70&cursor="+cursor, viewerToken, "")
		for _, id := range listIDs(t, body) {
			if seen[id] {
				t.Fatalf("notice %d seen twice", id)
			}
			seen[id] = true
			order = append(order, id)
		}
		b.notice(t, "p1", 1, "due_soon", "sms", t0.Add(time.Hour))
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(order) != 230 {
		t.Errorf("paged %d notices, want the 230 that existed at the first page", len(order))
	}
	for i := 1; i < len(order); i++ {
		if order[i] >= order[i-1] {
			t.Fatalf("not newest first at %d: %d after %d", i, order[i], order[i-1])
		}
	}
}

func TestGetNotification(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	id := b.notice(t, "p1", 2, "due_soon", "sms", t0.Add(-time.Hour))
	b.finish(t, t0.Add(-time.Hour), "aliyun", repo.StatusFailed)
	body := b.mustDo(t, http.StatusOK, "GET", fmt.Sprintf("/api/v1/notifications/%d", id), viewerToken, "")
	attempts, _ := body["delivery_attempts"].([]any)
	if body["id"] != float64(id) || body["customer_ref"] != "c1" || body["plan_ref"] != "p1" || body["seq"] != float64(2) ||
		body["status"] != "failed" || body["body"] != "提醒" || body["last_error"] != "upstream down" || len(attempts) != 1 {
		t.Errorf("detail = %v", body)
	}
	if a, _ := attempts[0].(map[string]any); a["outcome"] != "permanent" || a["provider"] != "aliyun" {
		t.Errorf("attempt = %v", a)
	}
	res := b.do(t, "GET", "/api/v1/notifications/987654", viewerToken, "")
	if code, _ := res.errorOf(); res.status != 404 || code != "not_found" {
		t.Errorf("unknown id = %d %s", res.status, res.raw)
	}
	res = b.do(t, "GET", "/api/v1/notifications/abc", viewerToken, "")
	if code, _ := res.errorOf(); res.status != 422 || code != "invalid" {
		t.Errorf("bad id = %d %s", res.status, res.raw)
	}
}
