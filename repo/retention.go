package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// FinishedStatuses are the states a notice never leaves by itself: the
// retention cleaner may remove such notices once they are old enough.
var FinishedStatuses = []string{StatusSent, StatusDelivered, StatusUndelivered, StatusSuppressed, StatusFailed, StatusSkipped}

// Purged counts what one retention run removed.
type Purged struct {
	Notifications   int `db:"notifications"`
	Attempts        int `db:"attempts"`
	Receipts        int `db:"receipts"`
	IdempotencyKeys int `db:"idempotency_keys"`
}

// Add adds q's counts to p.
func (p *Purged) Add(q Purged) {
	p.Notifications += q.Notifications
	p.Attempts += q.Attempts
	p.Receipts += q.Receipts
	p.IdempotencyKeys += q.IdempotencyKeys
}

// Total is every row removed.
func (p Purged) Total() int { return p.Notifications + p.Attempts + p.Receipts + p.IdempotencyKeys }

// KeepsStageSQL is true for a notice (n) of a reminder stage whose bill the
// due-date scan still reminds of: unpaid, on an active plan. Retention keeps
// such notices whatever their age, in both stores: their dedup key
// (installment:stage:channel) is what makes each stage go out once, and
// without it the next scan would queue the bill's latest stage again. A
// digest's leader is kept while any bill of its digest is so (its members
// point at it): it is the message that reminded the borrower of that bill,
// its text, link and attempts what support shows in a dispute. A resend or
// a fallback of a notice so kept is kept with it: it is often the message
// that reached the borrower (the original failed), and the bulk resend
// reads it to resend nobody twice.
var KeepsStageSQL = `(` + keepsStageSQL("n") + ` OR EXISTS (SELECT 1 FROM notifications o
	WHERE o.id IN (n.resend_of, n.fallback_of) AND ` + keepsStageSQL("o") + `))`

// keepsStageSQL is KeepsStageSQL of notice n (an alias) alone.
func keepsStageSQL(n string) string {
	return `(` + n + `.stage_offset IS NOT NULL AND (` + owedBillSQL(n+".installment_id") + `
	OR ` + n + `.digest_of = ` + n + `.id AND EXISTS (SELECT 1 FROM notifications m
		WHERE m.digest_of = ` + n + `.id AND m.id <> ` + n + `.id AND m.stage_offset IS NOT NULL AND ` + owedBillSQL("m.installment_id") + `)))`
}

// owedBillSQL is true when installment (an SQL expression) is unpaid on an
// active plan.
func owedBillSQL(installment string) string {
	return `EXISTS (SELECT 1 FROM installments i JOIN plans p ON p.id = i.plan_id
	WHERE i.id = ` + installment + ` AND i.status = 'pending' AND i.paid < i.amount AND p.status = 'active')`
}

// purgeNoticesSQL removes up to $3 finished notices ($2) last changed
// before $1, except the stages of bills still unpaid (KeepsStageSQL), with their attempts, receipts and idempotency keys; newer
// notices that point at one (a resend, a fallback) keep their row and lose
// the link. It is one statement, so it removes all of a notice or none.
var purgeNoticesSQL = `
WITH doomed AS (
	SELECT id FROM notifications n WHERE status = ANY($2) AND updated_at < $1 AND NOT ` + KeepsStageSQL + `
	LIMIT $3 FOR UPDATE SKIP LOCKED
), a AS (
	DELETE FROM delivery_attempts WHERE notification_id IN (SELECT id FROM doomed) RETURNING 1
), rc AS (
	DELETE FROM sms_receipts WHERE notification_id IN (SELECT id FROM doomed) RETURNING 1
), ik AS (
	DELETE FROM idempotency_keys WHERE notification_id IN (SELECT id FROM doomed) RETURNING 1
), rs AS (
	UPDATE notifications SET resend_of = NULL
	WHERE resend_of IN (SELECT id FROM doomed) AND id NOT IN (SELECT id FROM doomed) RETURNING 1
), fb AS (
	UPDATE notifications SET fallback_of = NULL
	WHERE fallback_of IN (SELECT id FROM doomed) AND id NOT IN (SELECT id FROM doomed) RETURNING 1
), dg AS (
	UPDATE notifications SET digest_of = NULL
	WHERE digest_of IN (SELECT id FROM doomed) AND id NOT IN (SELECT id FROM doomed) RETURNING 1
), n AS (
	DELETE FROM notifications WHERE id IN (SELECT id FROM doomed) RETURNING 1
)
SELECT (SELECT count(*) FROM n) AS notifications, (SELECT count(*) FROM a) AS attempts,
	(SELECT count(*) FROM rc) AS receipts, (SELECT count(*) FROM ik) AS idempotency_keys,
	(SELECT count(*) FROM rs) + (SELECT count(*) FROM fb) + (SELECT count(*) FROM dg) AS unlinked`

// purgeLooseSQL removes receipts that never matched a notice and
// idempotency keys without one, received or created before $1.
const purgeLooseSQL = `
WITH rc AS (
	DELETE FROM sms_receipts WHERE id IN (
		SELECT id FROM sms_receipts WHERE notification_id IS NULL AND received_at < $1 LIMIT $2) RETURNING 1
), ik AS (
	DELETE FROM idempotency_keys WHERE (actor, key) IN (
		SELECT actor, key FROM idempotency_keys WHERE notification_id IS NULL AND created_at < $1 LIMIT $2) RETURNING 1
)
SELECT (SELECT count(*) FROM rc) AS receipts, (SELECT count(*) FROM ik) AS idempotency_keys`

// PurgeFinished removes, in batches of batch rows each in its own
// transaction, the finished notices last changed before before and what
// hangs off them, then receipts and idempotency keys older than that. One
// replica at a time: ErrBusy when another holds the retention lock at the
// start; if one takes it over between batches, this run stops there.
func (r *Repo) PurgeFinished(ctx context.Context, before time.Time, batch int) (Purged, error) {
	// Each step removes one batch and says whether a full batch was found.
	steps := []func(tx *sqlx.Tx) (Purged, bool, error){
		func(tx *sqlx.Tx) (Purged, bool, error) {
			var p struct {
				Purged
				Unlinked int `db:"unlinked"`
			}
			err := tx.GetContext(ctx, &p, purgeNoticesSQL, before, pq.Array(FinishedStatuses), batch)
			return p.Purged, p.Notifications == batch, err
		},
		func(tx *sqlx.Tx) (Purged, bool, error) {
			var p Purged
			err := tx.GetContext(ctx, &p, purgeLooseSQL, before, batch)
			return p, p.Receipts == batch || p.IdempotencyKeys == batch, err
		},
	}
	var total Purged
	first := true
	for _, step := range steps {
		for more := true; more; first = false {
			var got Purged
			err := r.withTx(ctx, func(tx *sqlx.Tx) error {
				ok, err := r.tryXactLock(ctx, tx, "retention")
				switch {
				case err != nil:
					return err
				case !ok:
					return ErrBusy
				}
				if got, more, err = step(tx); err != nil {
					return fmt.Errorf("purge: %w", err)
				}
				return nil
			})
			switch {
			case errors.Is(err, ErrBusy) && first:
				return total, ErrBusy
			case errors.Is(err, ErrBusy): // another replica took over
				return total, nil
			case err != nil:
				return total, err
			}
			total.Add(got)
		}
	}
	return total, nil
}
