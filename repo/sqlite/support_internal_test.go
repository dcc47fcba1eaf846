package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"duebell/repo"
)

// TestSupportSQL runs the support area's SQL against SQLite with rows
// written by SQL (a check of the statements while the fixtures' store
// methods are ported elsewhere; the conformance suite covers behaviour).
func TestSupportSQL(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 10, 2, 0, 0, 0, time.UTC)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO customers (id, ref, phone, email, created_at, updated_at) VALUES
		(1, 'c1', '+8613812345678', 'c1@example.net', ?, ?), (2, 'c2', '+8613900001111', '', ?, ?)`, t0, t0, t0, t0)
	exec(`INSERT INTO plans (id, ref, customer_id, total, periods, created_at, updated_at) VALUES
		(1, 'p1', 1, 100000, 2, ?, ?), (2, 'p2', 2, 50000, 1, ?, ?)`, t0, t0, t0, t0)
	exec(`INSERT INTO installments (id, plan_id, seq, due_date, amount, paid, status) VALUES
		(1, 1, 1, '2026-11-12', 50000, 0, 'pending'), (2, 1, 2, '2026-12-12', 50000, 0, 'pending'),
		(3, 2, 1, '2026-11-12', 50000, 50000, 'paid')`)
	ins := `INSERT INTO notifications (customer_id, plan_id, installment_id, kind, stage, channel, locale, status,
		not_before, next_attempt_at, created_at, updated_at, provider, recipient) VALUES (?, ?, ?, ?, ?, ?, 'zh-CN', ?, ?, ?, ?, ?, 'aliyun', ?)`
	exec(ins, 1, 1, 1, "due_soon", "due_soon", "sms", "failed", t0, t0, t0, t0, "+8613812345678")                    // 1
	exec(ins, 1, 1, 1, "due_today", "due_today", "sms", "failed", t0, t0, t0.Add(time.Minute), t0, "+8613812345678") // 2: dup of 1
	exec(ins, 2, 2, 3, "due_soon", "due_soon", "sms", "failed", t0, t0, t0.Add(2*time.Minute), t0, "+8613900001111")  // 3: paid
	exec(ins, 1, 1, 2, "due_soon", "due_soon", "email", "pending", t0, t0, t0.Add(3*time.Minute), t0, "")            // 4: queued
	exec(`INSERT INTO delivery_attempts (notification_id, n, channel, provider, started_at, finished_at, outcome)
		VALUES (1, 1, 'sms', 'aliyun', ?, ?, 'permanent')`, t0, t0)

	f := repo.NoticeFilter{Phone: "13812345678", Since: t0.Add(time.Minute)}
	if err := f.Normalize(); err != nil {
		t.Fatal(err)
	}
	page, err := s.SearchNotifications(ctx, f, 1, "")
	if err != nil || len(page.Notices) != 1 || page.Notices[0].ID != 4 || page.NextCursor != "4" ||
		page.Notices[0].PlanRef != "p1" || page.Notices[0].Seq != 2 || !page.Notices[0].CreatedAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("search = %+v, %v", page, err)
	}
	page, err = s.SearchNotifications(ctx, f, 1, page.NextCursor)
	if err != nil || len(page.Notices) != 1 || page.Notices[0].ID != 2 || page.NextCursor != "" {
		t.Fatalf("page 2 = %+v, %v", page, err)
	}

	dry, err := s.ResendMatching(ctx, repo.BulkResendInput{Filter: repo.BulkFilter{Status: "failed", Since: t0, Until: t0.Add(time.Hour)},
		Reason: "outage", Actor: "ops", DryRun: true, Now: t0.Add(time.Hour)})
	if err != nil || dry.Count != 1 || dry.Matched != 3 || dry.Skipped["duplicate"] != 1 || dry.Skipped["installment paid"] != 1 ||
		len(dry.Sample) != 1 || dry.Sample[0].ID != 2 {
		t.Fatalf("dry = %+v, %v", dry, err)
	}
	real, err := s.ResendMatching(ctx, repo.BulkResendInput{Filter: repo.BulkFilter{Status: "failed", Since: t0, Until: t0.Add(time.Hour)},
		Reason: "outage", Actor: "ops", Now: t0.Add(time.Hour)})
	if err != nil || real.Count != 1 {
		t.Fatalf("real = %+v, %v", real, err)
	}
	again, err := s.ResendMatching(ctx, repo.BulkResendInput{Filter: repo.BulkFilter{Status: "failed", Since: t0, Until: t0.Add(time.Hour)},
		Reason: "outage", Actor: "ops", Now: t0.Add(time.Hour)})
	if err != nil || again.Count != 0 || again.Skipped["already resent"] != 1 {
		t.Fatalf("again = %+v, %v", again, err)
	}

	in := repo.ResendInput{ID: 1, Channel: "email", Reason: "why", Actor: "ops", IdempotencyKey: "k", Now: t0.Add(2 * time.Hour)}
	res, err := s.Resend(ctx, in)
	if err != nil || res.Replayed || res.Notification.Channel != "email" || *res.Notification.ResendOf != 1 ||
		!res.Notification.NotBefore.Equal(in.Now) {
		t.Fatalf("resend = %+v, %v", res, err)
	}
	rep, err := s.Resend(ctx, in)
	if err != nil || !rep.Replayed || rep.Notification.ID != res.Notification.ID {
		t.Fatalf("replay = %+v, %v", rep, err)
	}
	if _, err := s.Resend(ctx, repo.ResendInput{ID: 3, Reason: "why", Actor: "ops"}); !errors.Is(err, repo.ErrConflict) {
		t.Fatalf("paid: %v", err)
	}
	if _, err := s.Resend(ctx, repo.ResendInput{ID: 3, Channel: "email", Force: true, Reason: "why", Actor: "ops"}); !errors.Is(err, repo.ErrConflict) {
		t.Fatalf("no email: %v", err)
	}
	if _, err := s.Resend(ctx, repo.ResendInput{ID: 99, Reason: "why", Actor: "ops"}); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	d, err := s.GetNotificationDetail(ctx, 1)
	if err != nil || len(d.DeliveryAttempts) != 1 || len(d.ResentAs) != 1 || d.CustomerRef != "c1" || d.Seq != 1 {
		t.Fatalf("detail = %+v, %v", d, err)
	}
	var audits int
	if err := s.db.GetContext(ctx, &audits, `SELECT count(*) FROM audit_log`); err != nil || audits != 3 {
		t.Fatalf("%d audit rows, %v", audits, err)
	}
}
