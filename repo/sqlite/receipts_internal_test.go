package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"duebell/repo"
)

// These tests check the receipts area's SQL on SQLite with rows written by
// SQL, while the methods that write them in the conformance suite are
// ported by other areas.

var receiptsT0 = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)

func receiptsOpen(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "duebell.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// receiptsNotice inserts customer ref (once), a plan and installment, and an
// SMS notice of stage due_soon in status with provider/msgID.
func receiptsNotice(t *testing.T, s *Store, ref, status, reason, provider, msgID string, attempts int) int64 {
	t.Helper()
	db := s.DB()
	db.MustExec(`INSERT INTO customers (ref, phone, email, created_at, updated_at) VALUES ($1, '+8613812345678', $2, $3, $3)
		ON CONFLICT (ref) DO NOTHING`, ref, ref+"@example.net", receiptsT0)
	db.MustExec(`INSERT INTO plans (ref, customer_id, total, periods, created_at, updated_at)
		SELECT $1 || '-p' || (SELECT count(*) FROM plans), id, 50000, 1, $2, $2 FROM customers WHERE ref = $1`, ref, receiptsT0)
	db.MustExec(`INSERT INTO installments (plan_id, seq, due_date, amount) VALUES ((SELECT max(id) FROM plans), 1, '2026-11-24', 50000)`)
	var id int64
	if err := db.Get(&id, `INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
		channel, locale, status, status_reason, attempts, not_before, next_attempt_at, provider, provider_msg_id, created_at, updated_at)
		SELECT i.id || ':due_soon:sms', p.customer_id, p.id, i.id, 'due_soon', 'due_soon', -3, 'sms', 'zh-CN', $1, $2, $3,
		       $4, $4, $5, $6, $4, $4
		FROM installments i JOIN plans p ON p.id = i.plan_id WHERE i.id = (SELECT max(id) FROM installments) RETURNING id`,
		status, reason, attempts, receiptsT0, provider, msgID); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestReceiptsSQL(t *testing.T) {
	ctx := context.Background()
	s := receiptsOpen(t)
	sent := receiptsNotice(t, s, "c1", "sent", "", "aliyun", "biz-1", 1)
	sending := receiptsNotice(t, s, "c1", "sending", "", "", "", 1)
	retry := receiptsNotice(t, s, "c1", "pending", "", "", "", 1)

	reported := receiptsT0.Add(5 * time.Second)
	res, err := s.RecordReceipt(ctx, repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "delivered",
		Code: "DELIVERED", ReportedAt: &reported, Raw: "{}"}, receiptsT0.Add(time.Minute))
	if err != nil || !res.Applied || res.NotificationID != sent || res.Status != "delivered" {
		t.Fatalf("delivered: %+v, %v", res, err)
	}
	var n repo.Notification
	if err := s.db.Get(&n, `SELECT * FROM notifications WHERE id = $1`, sent); err != nil {
		t.Fatal(err)
	}
	if n.StatusReason != "delivered per aliyun receipt (code DELIVERED)" || n.DeliveredAt == nil || !n.DeliveredAt.Equal(reported) {
		t.Fatalf("delivered notice: %q %v", n.StatusReason, n.DeliveredAt)
	}
	if res, err := s.RecordReceipt(ctx, repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "undelivered", Raw: "{}"},
		receiptsT0.Add(time.Hour)); err != nil || res.Applied || res.Status != "delivered" {
		t.Fatalf("late undelivered: %+v, %v", res, err)
	}
	if res, err := s.RecordReceipt(ctx, repo.Receipt{Provider: "aliyun", OutID: strconv.FormatInt(sending, 10), Status: "delivered", Raw: "{}"},
		receiptsT0.Add(time.Minute)); err != nil || res.Applied || !res.Deferred || res.NotificationID != sending {
		t.Fatalf("while sending: %+v, %v", res, err)
	}
	res, err = s.RecordReceipt(ctx, repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-9", OutID: strconv.FormatInt(retry, 10),
		Status: "delivered", Raw: "{}"}, receiptsT0.Add(time.Minute))
	if err != nil || !res.Applied || res.Status != "delivered" {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	if err := s.db.Get(&n, `SELECT * FROM notifications WHERE id = $1`, retry); err != nil {
		t.Fatal(err)
	}
	if n.ProviderMsgID != "biz-9" || n.Provider != "aliyun" || n.SentAt == nil || !n.SentAt.Equal(receiptsT0.Add(time.Minute)) {
		t.Fatalf("retry notice: %+v", n)
	}
	if res, err := s.RecordReceipt(ctx, repo.Receipt{Provider: "tencent", ProviderMsgID: "biz-1", Status: "delivered", Raw: "{}"},
		receiptsT0); err != nil || res.NotificationID != 0 {
		t.Fatalf("other provider: %+v, %v", res, err)
	}
	if _, err := s.RecordReceipt(ctx, repo.Receipt{Provider: "aliyun", Status: "bogus"}, receiptsT0); !errors.Is(err, repo.ErrInvalid) {
		t.Fatalf("bad status: %v", err)
	}
	rcs, err := s.ListReceipts(ctx, sent)
	if err != nil || len(rcs) != 2 || rcs[0].ReportedAt == nil || !rcs[0].ReportedAt.Equal(reported) || rcs[1].AppliedAt == nil ||
		rcs[1].ReceivedAt.Location() != time.UTC {
		t.Fatalf("list: %+v, %v", rcs, err)
	}
	for _, q := range []string{receiptsMatchSQL, receiptsFallbackSQL} {
		var plan []struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		rows, err := s.db.Query(`EXPLAIN QUERY PLAN `+q, "aliyun", "biz-1", 0, "email")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var p struct {
				ID, Parent, NotUsed int
				Detail              string
			}
			if err := rows.Scan(&p.ID, &p.Parent, &p.NotUsed, &p.Detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, p)
			t.Logf("plan: %s", p.Detail)
		}
		rows.Close()
	}
}

func TestReceiptsFallbackSQL(t *testing.T) {
	ctx := context.Background()
	s := receiptsOpen(t)
	failed := receiptsNotice(t, s, "c1", "failed", "", "aliyun", "", 3)
	optedOut := receiptsNotice(t, s, "c2", "suppressed", "opted_out", "", "", 0)
	s.db.MustExec(`UPDATE customers SET email_opt_out = 1 WHERE ref = 'c2'`)
	receiptsNotice(t, s, "c3", "suppressed", "paid", "", "", 0) // not a reason to fall back
	for range 2 {
		n, err := s.QueueFallbacks(ctx, receiptsT0.Add(time.Hour), receiptsT0, []string{"due_soon"}, "email")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("queued %d", n)
	}
	var rows []struct {
		Of     int64  `db:"fallback_of"`
		Key    string `db:"dedup_key"`
		Status string `db:"status"`
		Reason string `db:"status_reason"`
		Src    string `db:"src"`
	}
	if err := s.db.Select(&rows, `SELECT f.fallback_of, f.dedup_key, f.status, f.status_reason, s.status_reason AS src
		FROM notifications f JOIN notifications s ON s.id = f.fallback_of ORDER BY f.fallback_of`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Of != failed || rows[0].Status != "pending" || rows[0].Reason != "fallback for sms notice 1 (failed)" ||
		rows[0].Key != "1:due_soon:email" || rows[0].Src != "; fallback: email notice 4" ||
		rows[1].Of != optedOut || rows[1].Status != "suppressed" || rows[1].Reason != "opted_out" {
		t.Fatalf("fallbacks: %+v", rows)
	}
	if n, err := s.QueueFallbacks(ctx, receiptsT0, receiptsT0, []string{"due_soon"}, "sms"); !errors.Is(err, repo.ErrInvalid) || n != 0 {
		t.Fatalf("sms fallback: %d, %v", n, err)
	}
}

func TestReceiptsProviderSQL(t *testing.T) {
	ctx := context.Background()
	s := receiptsOpen(t)
	receiptsNotice(t, s, "c1", "sent", "", "", "", 1)
	in := repo.OptOutSMSInput{CustomerID: 1, NotificationID: 7, Provider: "tencent", Code: "X", Reason: "unsubscribed", Now: receiptsT0}
	for i, want := range []bool{true, false} {
		if got, err := s.OptOutSMS(ctx, in); err != nil || got != want {
			t.Fatalf("call %d: %v, %v", i, got, err)
		}
	}
	var audit []repo.AuditEntry
	if err := s.db.Select(&audit, `SELECT id, at, actor, action, target, CAST(detail AS BLOB) AS detail FROM audit_log`); err != nil || len(audit) != 1 || audit[0].Target != "customer:c1" ||
		!audit[0].At.Equal(receiptsT0) {
		t.Fatalf("audit %+v, %v", audit, err)
	}
	at := receiptsT0
	open := func(when time.Time) {
		if err := s.OpenCircuit(ctx, repo.Circuit{Provider: "aliyun", Channel: "sms", OpenedAt: when, ProbeAt: when.Add(10 * time.Minute),
			UpdatedAt: when}); err != nil {
			t.Fatal(err)
		}
	}
	open(at)
	open(at.Add(10 * time.Minute))
	cs, err := s.OpenCircuits(ctx)
	if err != nil || len(cs) != 1 || !cs[0].OpenedAt.Equal(at) || !cs[0].ProbeAt.Equal(at.Add(20*time.Minute)) {
		t.Fatalf("circuits %+v, %v", cs, err)
	}
	if err := s.CloseCircuit(ctx, "aliyun", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	open(at.Add(2 * time.Hour))
	if cs, err := s.OpenCircuits(ctx); err != nil || len(cs) != 1 || !cs[0].OpenedAt.Equal(at.Add(2*time.Hour)) || cs[0].ClosedAt != nil {
		t.Fatalf("reopened %+v, %v", cs, err)
	}
}
