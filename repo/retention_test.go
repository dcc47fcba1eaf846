package repo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

func TestRetentionRemovesOldFinishedNoticesAndWhatHangsOffThem(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	c := repotest.Customer(t, r, "c1")
	now := time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC)
	old, recent := now.AddDate(0, 0, -500), now.AddDate(0, 0, -10)
	notice := func(status string, at time.Time, resendOf *int64) int64 {
		t.Helper()
		var id int64
		if err := r.DB().Get(&id, `INSERT INTO notifications (customer_id, kind, channel, locale, status,
			not_before, next_attempt_at, created_at, updated_at, resend_of)
			VALUES ($1, 'due_soon', 'sms', 'zh-CN', $2, $3, $3, $3, $3, $4) RETURNING id`, c.ID, status, at, resendOf); err != nil {
			t.Fatal(err)
		}
		if _, err := r.DB().Exec(`INSERT INTO delivery_attempts (notification_id, n, channel, provider, started_at,
			finished_at, outcome) VALUES ($1, 1, 'sms', 'webhook', $2, $2, 'sent')`, id, at); err != nil {
			t.Fatal(err)
		}
		if _, err := r.DB().Exec(`INSERT INTO sms_receipts (provider, out_id, status, received_at, notification_id, raw)
			VALUES ('webhook', $1::bigint::text, 'delivered', $2, $1::bigint, '{}')`, id, at); err != nil {
			t.Fatal(err)
		}
		return id
	}
	var oldIDs []int64
	for range 3 {
		oldIDs = append(oldIDs, notice("delivered", old, nil))
	}
	oldFailed := notice("failed", old, nil)
	oldPending := notice("pending", old, nil) // still to send: never removed
	resend := notice("sent", recent, &oldIDs[0])
	recentSent := notice("sent", recent, nil)
	if _, err := r.DB().Exec(`INSERT INTO idempotency_keys (actor, key, scope, target, notification_id, created_at)
		VALUES ('ops', 'k-old', 'resend', 'x', $1, $2), ('ops', 'k-loose', 'resend', 'x', NULL, $2),
		       ('ops', 'k-new', 'resend', 'x', NULL, $3)`, oldFailed, old, recent); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DB().Exec(`INSERT INTO sms_receipts (provider, out_id, status, received_at, raw)
		VALUES ('webhook', 'nobody', 'delivered', $1, '{}')`, old); err != nil {
		t.Fatal(err)
	}

	p, err := r.PurgeFinished(ctx, now.AddDate(0, 0, -400), 2) // small batches: several transactions
	if err != nil {
		t.Fatal(err)
	}
	if p.Notifications != 4 || p.Attempts != 4 || p.Receipts != 5 || p.IdempotencyKeys != 2 {
		t.Errorf("purged %+v, want 4 notices, 4 attempts, 5 receipts, 2 keys", p)
	}
	var left []int64
	if err := r.DB().Select(&left, `SELECT id FROM notifications ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	want := []int64{oldPending, resend, recentSent}
	if len(left) != len(want) || left[0] != want[0] || left[1] != want[1] || left[2] != want[2] {
		t.Errorf("notices left %v, want %v (old pending, recent resend, recent sent)", left, want)
	}
	var orphans int
	if err := r.DB().Get(&orphans, `SELECT (SELECT count(*) FROM delivery_attempts) + (SELECT count(*) FROM sms_receipts)
		+ (SELECT count(*) FROM idempotency_keys)`); err != nil || orphans != 3+3+1 {
		t.Errorf("attempts+receipts+keys left %d (%v), want the 3 kept notices' and the recent key", orphans, err)
	}
	n, err := r.GetNotification(ctx, resend)
	if err != nil || n.ResendOf != nil {
		t.Errorf("resend of a removed notice: %+v %v, want kept without the link", n.ResendOf, err)
	}
	if p, err := r.PurgeFinished(ctx, now.AddDate(0, 0, -400), 2); err != nil || p.Total() != 0 {
		t.Errorf("second run: %+v %v, want nothing", p, err)
	}
}

func TestRetentionRunsOnOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.HoldLock(t, r, "retention") // another replica's cleaner
	if _, err := r.PurgeFinished(context.Background(), time.Now(), 10); !errors.Is(err, repo.ErrBusy) {
		t.Errorf("with another replica cleaning: %v, want ErrBusy", err)
	}
}
