package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"duebell/kinds"
	"duebell/repo"
)

// ingestSuppressReasonSQL is why a notice to customer c on channel ch is
// suppressed when it is created (empty when it is not): the PostgreSQL store's
// rule, in SQLite's terms (booleans are 0/1).
const ingestSuppressReasonSQL = `CASE
	WHEN ch = 'sms'   AND c.sms_opt_out   THEN 'opted_out'
	WHEN ch = 'email' AND c.email_opt_out THEN 'opted_out'
	WHEN ch = 'sms'   AND c.phone = ''    THEN 'no_phone'
	WHEN ch = 'email' AND c.email = ''    THEN 'no_email'
	ELSE '' END`

// RecordPayment adds a payment to installment (PlanRef, Seq) in one write
// transaction (which owns the file, so no row lock is needed). Unknown plan
// or seq is ErrNotFound; a Ref already recorded with another amount is
// ErrConflict. When the payment brings a pending installment's paid up to
// its amount, the installment becomes paid at PaidAt and a payment_received
// notice is queued per confirm channel, not before PaidAt (suppressed when
// the customer opted out of the channel or has no address on it).
func (s *Store) RecordPayment(ctx context.Context, in repo.PaymentInput) (repo.PaymentResult, error) {
	in, err := in.Prepare()
	if err != nil {
		return repo.PaymentResult{}, err
	}
	var res repo.PaymentResult
	err = s.withTx(ctx, func(tx *sqlx.Tx) error {
		var cur struct {
			repo.Installment
			CustomerID int64 `db:"customer_id"`
		}
		if err := tx.GetContext(ctx, &cur, `
			SELECT i.*, p.customer_id FROM installments i JOIN plans p ON p.id = i.plan_id
			WHERE p.ref = $1 AND i.seq = $2`, in.PlanRef, in.Seq); err != nil {
			return repo.NotFound(err, fmt.Sprintf("plan %q installment %d", in.PlanRef, in.Seq))
		}
		if in.Ref != "" {
			var amount int64
			err := tx.GetContext(ctx, &amount, `SELECT amount FROM payments WHERE installment_id = $1 AND ref = $2`, cur.ID, in.Ref)
			switch {
			case err == nil && amount == in.Amount:
				res = repo.PaymentResult{Installment: cur.Installment, Replayed: true}
				return nil
			case err == nil:
				return fmt.Errorf("payment %q was already recorded with another amount: %w", in.Ref, repo.ErrConflict)
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("look up payment: %w", err)
			}
		}
		if err := repo.CheckPaymentFits(cur.Installment, in.Amount); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO payments (installment_id, ref, amount, paid_at, created_at, reason, actor)
			VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7)`, cur.ID, in.Ref, in.Amount, in.PaidAt, in.Now,
			in.Reason, in.Actor); err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		res.Settled, res.Reopened = repo.PaymentEffect(cur.Installment, in.Amount)
		if err := tx.GetContext(ctx, &res.Installment, `
			UPDATE installments SET paid = paid + $2,
				status  = CASE WHEN $3 THEN 'paid' WHEN $5 THEN 'pending' ELSE status END,
				paid_at = CASE WHEN $3 THEN $4 WHEN $5 THEN NULL ELSE paid_at END
			WHERE id = $1 RETURNING *`, cur.ID, in.Amount, res.Settled, in.PaidAt, res.Reopened); err != nil {
			return fmt.Errorf("update installment: %w", err)
		}
		if in.Amount < 0 {
			action, target, detail := repo.ReversalAudit(in, res.Reopened)
			if err := s.Audit(ctx, tx, in.Now, in.Actor, action, target, detail); err != nil {
				return err
			}
		}
		if !res.Settled || len(in.ConfirmChannels) == 0 {
			return nil
		}
		chans, err := json.Marshal(in.ConfirmChannels)
		if err != nil {
			return fmt.Errorf("queue payment_received: %w", err)
		}
		// WHERE before ON CONFLICT: an upsert's SELECT needs one.
		var statuses []string
		if err := tx.SelectContext(ctx, &statuses, `
			INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
				channel, locale, status, status_reason, not_before, next_attempt_at, created_at, updated_at)
			SELECT CAST($1 AS TEXT) || ':' || $7 || ':' || ch || ':' || CAST($8 AS INTEGER), id, $2, $1, $7, $7, NULL,
				ch, locale, CASE WHEN reason = '' THEN 'pending' ELSE 'suppressed' END, reason, $5, $5, $6, $6
			FROM (SELECT c.id, c.locale, ch, `+ingestSuppressReasonSQL+` AS reason
				FROM customers c
				CROSS JOIN (SELECT DISTINCT value AS ch FROM json_each($4)) chans
				WHERE c.id = $3)
			WHERE true
			ON CONFLICT (dedup_key) DO NOTHING
			RETURNING status`,
			cur.ID, cur.PlanID, cur.CustomerID, string(chans), in.PaidAt, in.Now, kinds.PaymentReceived,
			in.PaidAt.UnixMicro()); err != nil {
			return fmt.Errorf("queue payment_received: %w", err)
		}
		for _, st := range statuses {
			if st == repo.StatusPending {
				res.Queued++
			}
		}
		return nil
	})
	if err != nil {
		return repo.PaymentResult{}, err
	}
	return res, nil
}
