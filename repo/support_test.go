package repo_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// supportT0 is the support tests' clock: 2026-11-10 10:00 in Shanghai.
var supportT0 = time.Date(2026, 11, 10, 2, 0, 0, 0, time.UTC)

type supportBundle struct {
	r   *repo.Repo
	ctx context.Context
	c1  repo.Customer
	p1  repo.Plan // c1's plan, three installments
	c2  repo.Customer
	p2  repo.Plan // c2's plan, one installment
}

// supportSetup stores customers c1 (phone +8613812345678) and c2 (phone
// +8613900001111, email C2@Example.net as c2@example.net), each with a plan.
func supportSetup(t *testing.T) supportBundle {
	t.Helper()
	r := repotest.New(t)
	dues := []repo.Date{repo.NewDate(2026, 11, 12), repo.NewDate(2026, 12, 12), repo.NewDate(2027, 1, 12)}
	b := supportBundle{r: r, ctx: context.Background()}
	b.c1 = repotest.Customer(t, r, "c1")
	b.p1 = repotest.Plan(t, r, "p1", "c1", dues)
	b.c2 = repotest.Customer(t, r, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	b.p2 = repotest.Plan(t, r, "p2", "c2", dues[:1])
	return b
}

var noticeSeq atomic.Int64

// notice inserts a notice for installment seq of plan p as it would be
// queued by a scan, created at at, and returns its id.
func (b supportBundle) notice(t *testing.T, p repo.Plan, seq int, kind, channel string, at time.Time) int64 {
	t.Helper()
	inst := p.Installments[seq-1]
	var id int64
	if err := b.r.DB().GetContext(b.ctx, &id, `
		INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
			channel, locale, status, not_before, next_attempt_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5, 0, $6, 'zh-CN', 'pending', $7, $7, $7, $7) RETURNING id`,
		fmt.Sprintf("%d:%s:%s:%d", inst.ID, kind, channel, noticeSeq.Add(1)), p.CustomerID, p.ID, inst.ID, kind, channel, at); err != nil {
		t.Fatalf("insert notice: %v", err)
	}
	return id
}

// dispatch claims every sendable notice at at and finishes each with the
// given status through provider, logging one attempt each, as the
// dispatcher does. It returns how many it finished.
func (b supportBundle) dispatch(t *testing.T, at time.Time, provider, status string) int {
	t.Helper()
	claims, err := b.r.ClaimNotifications(b.ctx, "test", at, time.Minute, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var outs []repo.Outcome
	for _, c := range claims {
		to := c.Customer.Phone
		if c.Channel == "email" {
			to = c.Customer.Email
		}
		o := repo.Outcome{ID: c.ID, Status: status, Provider: provider, Recipient: to, Body: "您的账单即将到期",
			Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: provider, StartedAt: at, FinishedAt: at}}
		if status == repo.StatusSent {
			o.Attempt.Outcome, o.Attempt.ProviderMsgID, o.ProviderMsgID = repo.OutcomeSent, fmt.Sprint("msg-", c.ID), fmt.Sprint("msg-", c.ID)
		} else {
			o.Reason, o.LastError = "permanent provider error", "503 upstream down"
			o.Attempt.Outcome, o.Attempt.Code, o.Attempt.Error = repo.OutcomePermanent, "503", "upstream down"
		}
		outs = append(outs, o)
	}
	if err := b.r.FinishNotifications(b.ctx, "test", at, outs); err != nil {
		t.Fatal(err)
	}
	return len(outs)
}

func ids(rows []repo.NoticeSummary) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func TestSearchNotificationsFilters(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	a := b.notice(t, b.p1, 1, "due_soon", "sms", supportT0)
	c := b.notice(t, b.p1, 1, "due_soon", "email", supportT0.Add(time.Minute))
	d := b.notice(t, b.p2, 1, "due_soon", "sms", supportT0.Add(2*time.Minute))
	b.dispatch(t, supportT0.Add(3*time.Minute), "webhook", repo.StatusSent)
	e := b.notice(t, b.p1, 2, "overdue", "sms", supportT0.Add(time.Hour))

	for _, tt := range []struct {
		name string
		f    repo.NoticeFilter
		want []int64
	}{
		{"all, newest first", repo.NoticeFilter{}, []int64{e, d, c, a}},
		{"phone as typed", repo.NoticeFilter{Phone: "138 1234-5678"}, []int64{e, c, a}},
		{"phone with country code", repo.NoticeFilter{Phone: "+86 139 0000 1111"}, []int64{d}},
		{"email any case", repo.NoticeFilter{Email: " C1@Example.NET "}, []int64{e, c, a}},
		{"customer", repo.NoticeFilter{CustomerRef: "c2"}, []int64{d}},
		{"unknown customer", repo.NoticeFilter{CustomerRef: "nobody"}, []int64{}},
		{"plan", repo.NoticeFilter{PlanRef: "p1"}, []int64{e, c, a}},
		{"kind", repo.NoticeFilter{Kind: "overdue"}, []int64{e}},
		{"channel", repo.NoticeFilter{Channel: "email"}, []int64{c}},
		{"status", repo.NoticeFilter{Status: "sent"}, []int64{d, c, a}},
		{"since until", repo.NoticeFilter{Since: supportT0.Add(time.Minute), Until: supportT0.Add(time.Hour)}, []int64{d, c}},
	} {
		f := tt.f
		if err := f.Normalize(); err != nil {
			t.Fatalf("%s: normalize: %v", tt.name, err)
		}
		page, err := b.r.SearchNotifications(b.ctx, f, 0, "")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := ids(page.Notices); fmt.Sprint(got) != fmt.Sprint(tt.want) || page.NextCursor != "" {
			t.Errorf("%s: ids %v cursor %q, want %v and no cursor", tt.name, got, page.NextCursor, tt.want)
		}
	}

	// The row carries the references a support agent reads.
	page, _ := b.r.SearchNotifications(b.ctx, repo.NoticeFilter{CustomerRef: "c2"}, 0, "")
	if r := page.Notices[0]; r.CustomerRef != "c2" || r.PlanRef != "p2" || r.Seq != 1 || r.Recipient != "+8613900001111" ||
		r.Status != "sent" || r.Provider != "webhook" || r.Attempts != 1 {
		t.Errorf("row = %+v", r)
	}

	for _, bad := range []repo.NoticeFilter{{Phone: "12345"}, {Channel: "fax"}, {Status: "lost"},
		{Since: supportT0, Until: supportT0}} {
		if err := bad.Normalize(); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("Normalize(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := b.r.SearchNotifications(b.ctx, repo.NoticeFilter{}, 10, "abc"); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("bad cursor: %v, want ErrInvalid", err)
	}
}

// TestSearchPaginationStableUnderInserts pages through the log while new
// notices keep arriving: every notice that existed at the first page is seen
// exactly once, and none of the newer ones slip in.
func TestSearchPaginationStableUnderInserts(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	var want []int64
	for i := range 11 {
		want = append([]int64{b.notice(t, b.p1, 1+i%3, "due_soon", "sms", supportT0.Add(time.Duration(i)*time.Minute))}, want...)
	}
	var got []int64
	cursor, pages := "", 0
	for {
		page, err := b.r.SearchNotifications(b.ctx, repo.NoticeFilter{PlanRef: "p1"}, 4, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, ids(page.Notices)...)
		// Newer notices arrive between page fetches, some created "earlier"
		// by a clock-skewed scan.
		b.notice(t, b.p1, 1, "overdue", "sms", supportT0.Add(time.Duration(-pages)*time.Hour))
		b.notice(t, b.p1, 2, "overdue", "email", supportT0.Add(48*time.Hour))
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Errorf("paged ids %v in %d pages, want %v in 3", got, pages, want)
	}
}

func TestGetNotificationDetail(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	id := b.notice(t, b.p1, 2, "due_soon", "sms", supportT0)
	b.dispatch(t, supportT0.Add(time.Minute), "aliyun", repo.StatusFailed)
	res, err := b.r.Resend(b.ctx, repo.ResendInput{ID: id, Reason: "客户说没收到", Actor: "ops", Now: supportT0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.r.GetNotificationDetail(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != id || d.CustomerRef != "c1" || d.PlanRef != "p1" || d.Seq != 2 || d.Status != "failed" ||
		d.Recipient != "+8613812345678" || d.Body == "" || d.LastError != "503 upstream down" {
		t.Errorf("detail = %+v", d)
	}
	if len(d.DeliveryAttempts) != 1 || d.DeliveryAttempts[0].Outcome != "permanent" || d.DeliveryAttempts[0].Provider != "aliyun" {
		t.Errorf("attempts = %+v", d.DeliveryAttempts)
	}
	if len(d.ResentAs) != 1 || d.ResentAs[0].ID != res.Notification.ID || d.ResentAs[0].RequestedBy != "ops" {
		t.Errorf("resent as = %+v, want the resend %d", d.ResentAs, res.Notification.ID)
	}
	if _, err := b.r.GetNotificationDetail(b.ctx, 999999); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
}
