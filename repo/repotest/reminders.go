package repotest

import (
	"context"
	"testing"
	"time"

	"duebell/repo"
)

// ReminderOpts describes a reminder notice that Reminder stores as a scan
// and the dispatcher would have left it.
type ReminderOpts struct {
	PlanRef string
	Seq     int
	Stage   string // e.g. overdue_1
	Offset  int    // the stage's offset_days
	Kind    string // default overdue
	Channel string // sms or email
	// Created is when the scan queued it.
	Created time.Time
	// SentAt, when set, makes it a sent notice that rendered Template
	// (through the channel's usual provider, as a send leaves it);
	// otherwise it is suppressed with Reason (e.g. opted_out).
	SentAt   *time.Time
	Template string
	Reason   string
	// ResendOf makes it a support resend of that notice.
	ResendOf int64
}

// Reminder stores one reminder notice for installment (PlanRef, Seq) and
// returns its id.
func Reminder(t testing.TB, r *repo.Repo, o ReminderOpts) int64 {
	t.Helper()
	if o.Kind == "" {
		o.Kind = "overdue"
	}
	status := repo.StatusSuppressed
	if o.SentAt != nil {
		status = repo.StatusSent
	}
	var resendOf *int64
	if o.ResendOf != 0 {
		resendOf = &o.ResendOf
	}
	var id int64
	err := r.DB().GetContext(context.Background(), &id, `
		INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset, channel,
		                           locale, template, status, status_reason, attempts, not_before, next_attempt_at,
		                           created_at, updated_at, sent_at, resend_of, provider)
		SELECT CASE WHEN $11::bigint IS NULL THEN i.id || ':' || $3 || ':' || $5 END, p.customer_id, p.id, i.id,
		       $2, $3, $4, $5, 'zh-CN', $6, $7, $8, CASE WHEN $9::timestamptz IS NULL THEN 0 ELSE 1 END,
		       $10, $10, $10, coalesce($9, $10), $9, $11,
		       CASE WHEN $9::timestamptz IS NULL THEN '' WHEN $5 = 'sms' THEN 'webhook' ELSE 'smtp' END
		FROM plans p JOIN installments i ON i.plan_id = p.id AND i.seq = $12
		WHERE p.ref = $1
		RETURNING id`, o.PlanRef, o.Kind, o.Stage, o.Offset, o.Channel, o.Template, status, o.Reason, o.SentAt,
		o.Created, resendOf, o.Seq)
	if err != nil {
		t.Fatalf("fixture reminder %s/%d %s %s: %v", o.PlanRef, o.Seq, o.Stage, o.Channel, err)
	}
	return id
}
