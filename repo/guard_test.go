package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
)

// isForeignKey reports whether err is PostgreSQL's foreign-key violation.
func isForeignKey(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23503"
}

var guardStages = []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"}}}

// An installment a notice names cannot be deleted (or renumbered) by hand,
// as when it was the notice's foreign key; one no notice names can.
func TestNoticedInstallmentCannotBeDeleted(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	storetest.Customer(t, r, "c1")
	storetest.Plan(t, r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	storetest.Customer(t, r, "c2")
	storetest.Plan(t, r, "p2", "c2", []repo.Date{repo.NewDate(2026, 12, 24)}) // not due: no notice
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	if res, err := r.QueueDueReminders(ctx, at, guardStages); err != nil || res.Total() != 1 {
		t.Fatalf("scan: %+v, %v", res, err)
	}
	for _, stmt := range []string{
		`DELETE FROM installments WHERE plan_id = (SELECT id FROM plans WHERE ref = 'p1')`,
		`UPDATE installments SET id = id + 1000 WHERE plan_id = (SELECT id FROM plans WHERE ref = 'p1')`,
	} {
		if _, err := r.DB().ExecContext(ctx, stmt); !isForeignKey(err) {
			t.Errorf("%s: %v, want a foreign-key violation", stmt, err)
		}
	}

	// An installment no notice names goes; one a notice names stays.
	if _, err := r.DB().ExecContext(ctx, `DELETE FROM installments WHERE plan_id = (SELECT id FROM plans WHERE ref = 'p2')`); err != nil {
		t.Errorf("deleting an installment no notice names: %v", err)
	}
	var n int
	if err := r.DB().GetContext(ctx, &n, `SELECT count(*) FROM notifications n JOIN installments i ON i.id = n.installment_id`); err != nil || n != 1 {
		t.Errorf("notices with their installment: %d, %v", n, err)
	}
}

// The plan and customer guards, without the installments' and plans' own
// keys in the way: a customer whose only notice is a customer-scope one
// (no plan) cannot be deleted; the plan of a notice whose installment is
// not set cannot either.
func TestNoticedCustomerAndPlanCannotBeDeleted(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	c := storetest.Customer(t, r, "c1")
	p := storetest.Plan(t, r, "p1", "c1", []repo.Date{repo.NewDate(2026, 12, 24)})
	if _, err := r.DB().ExecContext(ctx, `
		INSERT INTO notifications (dedup_key, customer_id, plan_id, kind, stage, channel, locale, status, not_before,
		                           next_attempt_at, created_at, updated_at)
		VALUES ('g1', $1, $2, 'card_unbound', 'card_unbound', 'sms', 'zh-CN', 'pending', now(), now(), now(), now()),
		       ('g2', $1, NULL, 'service_closed', 'service_closed', 'sms', 'zh-CN', 'pending', now(), now(), now(), now())`,
		c.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DB().ExecContext(ctx, `DELETE FROM plans WHERE id = $1`, p.ID); !isForeignKey(err) {
		t.Errorf("deleting a plan a notice names: %v, want a foreign-key violation", err)
	}
	if _, err := r.DB().ExecContext(ctx, `DELETE FROM notifications WHERE dedup_key = 'g1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DB().ExecContext(ctx, `DELETE FROM installments WHERE plan_id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DB().ExecContext(ctx, `DELETE FROM plans WHERE id = $1`, p.ID); err != nil {
		t.Fatalf("deleting a plan no notice names: %v", err)
	}
	if _, err := r.DB().ExecContext(ctx, `DELETE FROM customers WHERE id = $1`, c.ID); !isForeignKey(err) {
		t.Errorf("deleting a customer a notice names: %v, want a foreign-key violation", err)
	}
}

// A delete racing a transaction that is inserting a notice for the same
// customer (not yet committed, so the delete's check cannot see it) waits
// for that transaction, then sees its notice and is refused: no notice is
// left without its customer.
func TestDeleteWaitsForNoticesBeingWritten(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	c := storetest.Customer(t, r, "c1")
	writer, err := r.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = writer.Rollback() }()
	if _, err := writer.ExecContext(ctx, `
		INSERT INTO notifications (dedup_key, customer_id, kind, stage, channel, locale, status, not_before,
		                           next_attempt_at, created_at, updated_at)
		VALUES ('g1', $1, 'service_closed', 'service_closed', 'sms', 'zh-CN', 'pending', now(), now(), now(), now())`, c.ID); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() {
		_, err := r.DB().ExecContext(ctx, `DELETE FROM customers WHERE id = $1`, c.ID)
		deleted <- err
	}()
	// The delete must be waiting for the writer, not done.
	waitsForLock(t, r, "DELETE FROM customers%", deleted, "the delete, for the notice being written")
	if err := writer.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; !isForeignKey(err) {
		t.Fatalf("delete after the notice committed: %v, want a foreign-key violation", err)
	}
	var orphans int
	if err := r.DB().GetContext(ctx, &orphans, `SELECT count(*) FROM notifications n
		WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = n.customer_id)`); err != nil || orphans != 0 {
		t.Errorf("notices without their customer: %d, %v", orphans, err)
	}
}

// insertNotice inserts a pending SMS notice of customer, with the given
// resend_of and event_id links (0 = none), and returns its id or the error.
func insertNotice(ctx context.Context, db interface {
	GetContext(context.Context, any, string, ...any) error
}, key string, customer, resendOf, event int64) (int64, error) {
	var id int64
	err := db.GetContext(ctx, &id, `
		INSERT INTO notifications (dedup_key, customer_id, kind, stage, channel, locale, status, not_before,
		                           next_attempt_at, created_at, updated_at, resend_of, event_id)
		VALUES ($1, $2, 'service_closed', 'service_closed', 'sms', 'zh-CN', 'pending', now(), now(), now(), now(),
		        nullif($3, 0), nullif($4, 0))
		RETURNING id`, key, customer, resendOf, event)
	return id, err
}

// A notice's links to another notice and to its event are checked as the
// foreign keys they were: a link to a row that is not there is refused, and
// a notice or event that a notice names cannot be deleted or renumbered
// until the link is gone (or goes in the same statement).
func TestNoticeLinksAreKept(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	c := storetest.Customer(t, r, "c1")
	orig, err := insertNotice(ctx, r.DB(), "orig", c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var event int64
	if err := r.DB().GetContext(ctx, &event, `INSERT INTO channel_events (ref, kind, scope, customer_id, occurred_at)
		VALUES ('e1', 'service_closed', 'customer', $1, now()) RETURNING id`, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := insertNotice(ctx, r.DB(), "bad-resend", c.ID, orig+1000, 0); !isForeignKey(err) {
		t.Errorf("a resend of a notice that is not there: %v, want a foreign-key violation", err)
	}
	if _, err := insertNotice(ctx, r.DB(), "bad-event", c.ID, 0, event+1000); !isForeignKey(err) {
		t.Errorf("a notice of an event that is not there: %v, want a foreign-key violation", err)
	}
	if _, err := r.DB().ExecContext(ctx, `UPDATE notifications SET fallback_of = $1 WHERE id = $2`, orig+1000, orig); !isForeignKey(err) {
		t.Errorf("a fallback link to a notice that is not there: %v, want a foreign-key violation", err)
	}
	resend, err := insertNotice(ctx, r.DB(), "resend", c.ID, orig, event)
	if err != nil {
		t.Fatalf("a resend of a notice that is there: %v", err)
	}
	for _, stmt := range []string{
		`DELETE FROM notifications WHERE dedup_key = 'orig'`,
		`UPDATE notifications SET id = id + 1000 WHERE dedup_key = 'orig'`,
		`DELETE FROM channel_events`,
	} {
		if _, err := r.DB().ExecContext(ctx, stmt); !isForeignKey(err) {
			t.Errorf("%s: %v, want a foreign-key violation", stmt, err)
		}
	}
	// The digest link too, a leader naming itself included.
	if _, err := r.DB().ExecContext(ctx, `UPDATE notifications SET resend_of = NULL, digest_of = $1 WHERE id IN ($1, $2)`, orig, resend); err != nil {
		t.Fatalf("grouping two notices under one: %v", err)
	}
	if _, err := r.DB().ExecContext(ctx, `DELETE FROM notifications WHERE id = $1`, orig); !isForeignKey(err) {
		t.Errorf("deleting a digest leader its member names: %v, want a foreign-key violation", err)
	}
	// Unlinked and deleted in one statement, as the retention cleaner does.
	if _, err := r.DB().ExecContext(ctx, `WITH u AS (UPDATE notifications SET digest_of = NULL WHERE id = $2)
		DELETE FROM notifications WHERE id = $1`, orig, resend); err != nil {
		t.Errorf("deleting a notice its one link leaves in the same statement: %v", err)
	}
	// A notice linked, then deleted with what it names, by one transaction
	// (the demo's reset).
	if _, err := r.DB().ExecContext(ctx, `BEGIN;
		UPDATE notifications SET digest_of = id, fallback_of = id;
		DELETE FROM notifications; DELETE FROM channel_events;
		COMMIT`); err != nil {
		t.Errorf("linking, then deleting every notice and the event, in one transaction: %v", err)
	}
}

// A resend written while another transaction is deleting its original
// waits for that transaction, then finds the original gone and is refused:
// no notice is left naming one that is gone.
func TestLinkToANoticeBeingDeletedIsRefused(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	c := storetest.Customer(t, r, "c1")
	orig, err := insertNotice(ctx, r.DB(), "orig", c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	deleter, err := r.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = deleter.Rollback() }()
	if _, err := deleter.ExecContext(ctx, `DELETE FROM notifications WHERE id = $1`, orig); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() {
		_, err := insertNotice(ctx, r.DB(), "resend", c.ID, orig, 0)
		written <- err
	}()
	waitsForLock(t, r, "%INSERT INTO notifications%", written, "the resend, for the delete of its original")
	if err := deleter.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-written; !isForeignKey(err) {
		t.Fatalf("a resend of a notice deleted meanwhile: %v, want a foreign-key violation", err)
	}
	var dangling int
	if err := r.DB().GetContext(ctx, &dangling, `SELECT count(*) FROM notifications n
		WHERE n.resend_of IS NOT NULL AND NOT EXISTS (SELECT 1 FROM notifications o WHERE o.id = n.resend_of)`); err != nil || dangling != 0 {
		t.Errorf("resends of a notice that is gone: %d, %v", dangling, err)
	}
}

// waitsForLock fails the test unless a statement like pattern (LIKE) comes
// to wait for a lock within 10 s without ending (done) first; what names
// the statement and what it waits for.
func waitsForLock(t *testing.T, r *repo.Repo, pattern string, done <-chan error, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		var waiting bool
		if err := r.DB().GetContext(context.Background(), &waiting, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE query LIKE $1 AND wait_event_type = 'Lock')`, pattern); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("%s: ended instead of waiting: %v", what, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("%s: never waited", what)
}

// A push that moves a bill back to the date a stage went for takes the
// stage's key back; when a scan queues a notice of the stage under that key
// while the push waits for it, the scan's notice keeps the key and the
// push goes through (it failed with a unique-key violation, a 500).
func TestMoveBackRacingTheScanGoesThrough(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	storetest.Customer(t, r, "c1")
	due, later := repo.NewDate(2026, 12, 10), repo.NewDate(2026, 12, 20)
	storetest.Plan(t, r, "p1", "c1", []repo.Date{due})
	sent := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	id := repotest.Reminder(t, r, repotest.ReminderOpts{PlanRef: "p1", Seq: 1, Stage: "due_soon", Offset: -3, Kind: "due_soon",
		Channel: "sms", Created: sent, SentAt: &sent})
	storetest.Plan(t, r, "p1", "c1", []repo.Date{later}) // the sent due_soon gives its key up
	tx := r.DB().MustBegin()
	defer func() { _ = tx.Rollback() }()
	// The scan of the new date queues the stage under the key given up.
	tx.MustExec(`INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
		channel, locale, status, not_before, next_attempt_at, created_at, updated_at)
		SELECT split_part(dedup_key, '#', 1), customer_id, plan_id, installment_id, kind, stage, stage_offset, channel,
		       locale, 'pending', $2, $2, $2, $2 FROM notifications WHERE id = $1`, id, sent.Add(24*time.Hour))
	back, err := r.GetPlan(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	back.Installments[0].DueDate = due
	done := make(chan error, 1)
	go func() {
		_, err := r.UpsertPlan(ctx, back, sent.Add(25*time.Hour))
		done <- err
	}()
	waitsForLock(t, r, "%installments%", done, "the push moving the bill back")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the push moving the bill back: %v, want it to go through", err)
	}
	var keys []string
	if err := r.DB().SelectContext(ctx, &keys, `SELECT dedup_key FROM notifications ORDER BY id`); err != nil || len(keys) != 2 ||
		keys[1] != strings.Split(keys[0], "#")[0] {
		t.Errorf("keys %v, %v; want the sent one's given up and the scan's holding the stage's", keys, err)
	}
}
