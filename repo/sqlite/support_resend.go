package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"duebell/kinds"
	"duebell/repo"
)

// supportSettledSQL mirrors the dispatcher's pre-send re-check, as the
// PostgreSQL store's settledReasonSQL does: a notice that asks for payment
// (its kind in the JSON array parameter askParam, kinds.AsksPayment) of a
// settled installment or on an inactive plan is not sent, nor a digest none
// of whose bills asks for payment (repo.DigestSettledSQL). It reads the
// notice n, its installment i and plan p (both possibly NULL).
func supportSettledSQL(askParam string) string {
	return `CASE WHEN n.kind IN (SELECT value FROM json_each(` + askParam + `)) THEN coalesce(` + repo.DigestSettledSQL + `, CASE
		WHEN i.status = 'paid' OR i.paid >= i.amount THEN 'installment paid'
		WHEN i.status = 'waived' THEN 'installment waived'
		WHEN p.status IN ('cancelled', 'closed') THEN 'plan ' || p.status
		ELSE '' END)
	ELSE '' END`
}

// supportResendCheckSQL loads what a single resend must check: the
// original's status, the channel to use ($2, or the original's), and why it
// should not go out (settled, nothing owed, or unreachable on that channel: the rule every
// statement creating notices keeps, repo.SuppressReasonSQL, on column ch),
// and a resend of it still queued.
var supportResendCheckSQL = `
SELECT n.status, n.ch AS channel, ` + supportSettledSQL("$3") + ` AS settled,
	` + repo.NothingOwedSQL("n.kind IN (SELECT value FROM json_each($3))") + ` AS nothing_owed,
	` + repo.SuppressReasonSQL + ` AS unreachable,
	` + repo.QueuedResendSQL("n.ch") + ` AS queued_resend
FROM (SELECT *, coalesce(nullif($2, ''), channel) AS ch FROM notifications WHERE id = $1) n
JOIN customers c ON c.id = n.customer_id
LEFT JOIN plans p ON p.id = n.plan_id
LEFT JOIN installments i ON i.id = n.installment_id`

// supportResendColumns and supportResendSelect copy a notice n into a new
// pending one on channel $5 ("": the original's): outside dedup (no key), not superseded by later
// scans (no stage offset), with no content — the dispatcher renders it at
// send time from current data, with a fresh link, to the contact on file.
// Parameters: $1 now, $2 actor, $3 reason, $4 forced, $5 channel.
const (
	supportResendColumns = `dedup_key, customer_id, plan_id, installment_id, event_id, kind, stage, stage_offset,
	channel, locale, status, not_before, next_attempt_at, resend_of, requested_by, resend_reason, forced,
	created_at, updated_at`
	supportResendSelect = `NULL, n.customer_id, n.plan_id, n.installment_id, n.event_id, n.kind, n.stage, NULL,
	coalesce(nullif($5, ''), n.channel), n.locale, 'pending', $1, $1, n.id, $2, $3, $4, $1, $1`
)

// Resend queues a new notice copying in.ID, with resend_of, requested_by and
// the reason, and appends an audit_log row, in one transaction. An unknown ID
// is ErrNotFound; bad input is ErrInvalid. It is refused with ErrConflict
// when the original is still queued, or a resend of it on that channel is,
// or its plan inactive (unless Force; for
// a digest, when every bill of it is), when nothing is left to pay on it
// (even forced: a notice that asks for payment of an installment paid or
// waived, a digest none of whose bills has anything left to pay), and when
// the customer opted out of the channel or has no address on it. Writers
// are serialized, so a
// repeated idempotency key always finds the first request committed.
func (s *Store) Resend(ctx context.Context, in repo.ResendInput) (repo.ResendResult, error) {
	if err := in.Prepare(); err != nil {
		return repo.ResendResult{}, err
	}
	asks, err := json.Marshal(kinds.AsksPayment())
	if err != nil {
		return repo.ResendResult{}, fmt.Errorf("resend: %w", err)
	}
	var res repo.ResendResult
	err = s.withTx(ctx, func(tx *sqlx.Tx) error {
		if in.IdempotencyKey != "" {
			target, err := repo.KeyTargetOf(ctx, tx, in)
			if err != nil {
				return err
			}
			prior, err := supportClaimIdempotencyKey(ctx, tx, in, target)
			if err != nil || prior != 0 {
				if err == nil {
					res.Replayed = true
					err = tx.GetContext(ctx, &res.Notification, `SELECT * FROM notifications WHERE id = ?`, prior)
				}
				return err
			}
		}
		var chk repo.ResendCheck
		if err := tx.GetContext(ctx, &chk, supportResendCheckSQL, in.ID, in.Channel, string(asks)); err != nil {
			return repo.NotFound(err, fmt.Sprintf("notification %d", in.ID))
		}
		if err := chk.Refusal(in); err != nil {
			return err
		}
		var id int64
		if err := tx.GetContext(ctx, &id, `
			INSERT INTO notifications (`+supportResendColumns+`)
			SELECT `+supportResendSelect+` FROM notifications n WHERE n.id = $6
			RETURNING id`, in.Now, in.Actor, in.Reason, in.Force, chk.Channel, in.ID); err != nil {
			return fmt.Errorf("queue resend: %w", err)
		}
		if err := tx.GetContext(ctx, &res.Notification, `SELECT * FROM notifications WHERE id = ?`, id); err != nil {
			return fmt.Errorf("queue resend: %w", err)
		}
		if in.IdempotencyKey != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET notification_id = $3 WHERE actor = $1 AND key = $2`,
				in.Actor, in.IdempotencyKey, id); err != nil {
				return fmt.Errorf("record idempotency key: %w", err)
			}
		}
		return s.Audit(ctx, tx, in.Now, in.Actor, repo.ActionResend, repo.ResendTarget(in.ID),
			repo.ResendAuditDetail(in, chk.Channel, id))
	})
	if err != nil {
		return repo.ResendResult{}, err
	}
	return res, nil
}

// supportClaimIdempotencyKey records (actor, key) for this request. When the
// key was used before it returns the notice that request queued.
func supportClaimIdempotencyKey(ctx context.Context, tx *sqlx.Tx, in repo.ResendInput, target string) (int64, error) {
	r, err := tx.ExecContext(ctx, `
		INSERT INTO idempotency_keys (actor, key, scope, target, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (actor, key) DO NOTHING`, in.Actor, in.IdempotencyKey, repo.IdempotencyScopeResend, target, in.Now)
	if err != nil {
		return 0, fmt.Errorf("idempotency key: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return 0, fmt.Errorf("idempotency key: %w", err)
	} else if n == 1 {
		return 0, nil
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
	return repo.PriorResend(prior.Scope, prior.Target, prior.NotificationID, target)
}
