package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"duebell/kinds"
)

// Audit actions written by resends.
const (
	ActionResend     = "notification.resend"
	ActionBulkResend = "notification.resend_bulk"
)

// Limits on resend input.
const (
	MaxReasonChars         = 500
	MaxIdempotencyKeyLen   = 200
	idempotencyScopeResend = "resend"
)

// ResendInput asks for one notice to be sent again.
type ResendInput struct {
	ID      int64  // the notice to resend
	Channel string // sms or email; "" keeps the original's
	Reason  string // why; required, stored and audited
	Actor   string // who; required (a token name or an OS user)
	// Force sends a notice that is still queued, or a reminder although
	// its plan is no longer active. It never sends a reminder for an
	// installment paid or waived (it would ask for ¥0.00), nor overrides an
	// opt-out.
	Force bool
	// IdempotencyKey, when set, makes a repeat by the same actor return the
	// first result instead of queueing another notice.
	IdempotencyKey string
	Now            time.Time // zero: time.Now()
}

// ResendResult is the queued resend.
type ResendResult struct {
	Notification Notification
	// Replayed: the idempotency key was used before; Notification is the
	// notice that first request queued, as it is now.
	Replayed bool
}

// settledReasonSQL mirrors the dispatcher's pre-send re-check (notify's
// suppressReason and recheck): a notice that asks for payment (the kinds in
// the statement's parameter askParam, kinds.AsksPayment) of a settled
// installment or on an inactive plan is not sent, nor a digest none of
// whose bills asks for payment (DigestSettledSQL). It reads the notice n,
// its installment i and plan p (both possibly NULL).
func settledReasonSQL(askParam string) string {
	return `CASE WHEN n.kind = ANY(` + askParam + `::text[]) THEN coalesce(` + DigestSettledSQL + `, CASE
		WHEN i.status = 'paid' OR i.paid >= i.amount THEN 'installment paid'
		WHEN i.status = 'waived' THEN 'installment waived'
		WHEN p.status IN ('cancelled', 'closed') THEN 'plan ' || p.status
		ELSE '' END)
	ELSE '' END`
}

// resendCheckSQL loads what a single resend must check: the original's
// status, the channel to use ($2, or the original's), why it should not
// go out (settled, nothing owed, or unreachable on that channel), and a
// resend of it still queued. The original's row lock makes concurrent
// resends of one notice take turns, so the second sees the first's.
var resendCheckSQL = `
SELECT n.status, x.ch AS channel, ` + settledReasonSQL("$3") + ` AS settled,
	` + NothingOwedSQL("n.kind = ANY($3::text[])") + ` AS nothing_owed,
	(SELECT ` + suppressReasonSQL + `) AS unreachable,
	` + QueuedResendSQL("x.ch") + ` AS queued_resend
FROM notifications n
JOIN customers c ON c.id = n.customer_id
LEFT JOIN plans p ON p.id = n.plan_id
LEFT JOIN installments i ON i.id = n.installment_id
CROSS JOIN LATERAL (SELECT coalesce(nullif($2, ''), n.channel) AS ch) x
WHERE n.id = $1
FOR NO KEY UPDATE OF n`

// resendColumns and resendSelect copy a notice n into a new pending one on
// channel x.ch: outside dedup (no key), not superseded by later scans (no
// stage offset), with no content — the dispatcher renders it at send time
// from current data, with a fresh link, to the contact on file.
// Parameters: $1 now, $2 actor, $3 reason, $4 forced.
const (
	resendColumns = `dedup_key, customer_id, plan_id, installment_id, event_id, kind, stage, stage_offset,
	channel, locale, status, not_before, next_attempt_at, resend_of, requested_by, resend_reason, forced,
	created_at, updated_at`
	resendSelect = `NULL, n.customer_id, n.plan_id, n.installment_id, n.event_id, n.kind, n.stage, NULL,
	x.ch, n.locale, 'pending', $1, $1, n.id, $2, $3, $4, $1, $1`
)

// Resend queues a new notice copying in.ID, with resend_of, requested_by and
// the reason, and appends an audit_log row, in one transaction. An unknown ID
// is ErrNotFound; bad input is ErrInvalid. It is refused with ErrConflict
// when the original is still queued, or a resend of it on that channel is,
// or its plan inactive (unless Force; for
// a digest, when every bill of it is), when nothing is left to pay on it
// (even forced: a notice that asks for payment of an installment paid or
// waived, a digest none of whose bills has anything left to pay), and when
// the customer opted out of the channel or has no address on it.
func (r *Repo) Resend(ctx context.Context, in ResendInput) (ResendResult, error) {
	if err := in.Prepare(); err != nil {
		return ResendResult{}, err
	}
	var res ResendResult
	err := r.withTx(ctx, func(tx *sqlx.Tx) error {
		if in.IdempotencyKey != "" {
			target, err := KeyTargetOf(ctx, tx, in)
			if err != nil {
				return err
			}
			prior, err := claimIdempotencyKey(ctx, tx, in, target)
			if err != nil || prior != 0 {
				if err == nil {
					res.Replayed = true
					err = tx.GetContext(ctx, &res.Notification, `SELECT * FROM notifications WHERE id = $1`, prior)
				}
				return err
			}
		}
		var chk ResendCheck
		if err := tx.GetContext(ctx, &chk, resendCheckSQL, in.ID, in.Channel, pq.Array(kinds.AsksPayment())); err != nil {
			return NotFound(err, fmt.Sprintf("notification %d", in.ID))
		}
		if err := chk.Refusal(in); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &res.Notification, `
			INSERT INTO notifications (`+resendColumns+`)
			SELECT `+resendSelect+`
			FROM notifications n CROSS JOIN LATERAL (SELECT coalesce(nullif($6, ''), n.channel) AS ch) x
			WHERE n.id = $5
			RETURNING *`, in.Now, in.Actor, in.Reason, in.Force, in.ID, in.Channel); err != nil {
			return fmt.Errorf("queue resend: %w", err)
		}
		if in.IdempotencyKey != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET notification_id = $3 WHERE actor = $1 AND key = $2`,
				in.Actor, in.IdempotencyKey, res.Notification.ID); err != nil {
				return fmt.Errorf("record idempotency key: %w", err)
			}
		}
		return r.Audit(ctx, tx, in.Now, in.Actor, ActionResend, ResendTarget(in.ID),
			ResendAuditDetail(in, chk.Channel, res.Notification.ID))
	})
	if err != nil {
		return ResendResult{}, err
	}
	return res, nil
}

// claimIdempotencyKey records (actor, key) for this request. When the key
// was used before it returns the notice that request queued; a concurrent
// first request holding the key is waited for (the unique index blocks).
func claimIdempotencyKey(ctx context.Context, tx *sqlx.Tx, in ResendInput, target string) (int64, error) {
	var inserted bool
	err := tx.GetContext(ctx, &inserted, `
		INSERT INTO idempotency_keys (actor, key, scope, target, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (actor, key) DO NOTHING RETURNING true`, in.Actor, in.IdempotencyKey, idempotencyScopeResend, target, in.Now)
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("idempotency key: %w", err)
	}
	var prior struct {
		Scope          string        `db:"scope"`
		Target         string        `db:"target"`
		NotificationID sql.NullInt64 `db:"notification_id"`
	}
	if err := tx.GetContext(ctx, &prior, `SELECT scope, target, notification_id FROM idempotency_keys
		WHERE actor = $1 AND key = $2`, in.Actor, in.IdempotencyKey); err != nil {
		return 0, fmt.Errorf("idempotency key: %w", err)
	}
	return PriorResend(prior.Scope, prior.Target, prior.NotificationID, target)
}
