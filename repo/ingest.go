package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"duebell/kinds"
)

// createdPG, after RETURNING *, tells a row an INSERT … ON CONFLICT DO
// UPDATE inserted from one it updated: an inserted row version has no xmax.
// Of pushes racing to create one row, exactly one inserts it.
const createdPG = `, (xmax = 0) AS created`

// UpsertCustomer creates or replaces the customer with c.Ref. created_at is
// set once; updated_at is now on every write; out.Created says which.
func (r *Repo) UpsertCustomer(ctx context.Context, c Customer, now time.Time) (Customer, error) {
	var out Customer
	err := r.db.GetContext(ctx, &out, CustomerUpsertSQL+createdPG,
		c.Ref, c.Name, c.Phone, c.Email, c.Locale, c.Timezone, c.SMSOptOut, c.EmailOptOut, now, c.KeepSMSOptOut,
		c.KeepEmailOptOut)
	if err != nil {
		return Customer{}, fmt.Errorf("upsert customer: %w", err)
	}
	return out, nil
}

// GetCustomer returns the customer with ref, or an error wrapping ErrNotFound.
func (q Common) GetCustomer(ctx context.Context, ref string) (Customer, error) {
	var c Customer
	if err := q.db.GetContext(ctx, &c, `SELECT * FROM customers WHERE ref = $1`, ref); err != nil {
		return Customer{}, NotFound(err, fmt.Sprintf("customer %q", ref))
	}
	return c, nil
}

// UpsertPlan creates or replaces plan p.Ref and its installments in one
// transaction. The customer is p.CustomerRef (ErrNotFound when unknown). A
// plan cannot move to another customer and an installment cannot be removed
// (both ErrConflict, nothing written). A pending installment whose paid
// reaches its amount is stored as paid, with paid_at kept or set to now.
// A push with an as_of older than the plan's last recorded payment or its
// stored as_of is ErrStale (nothing written); an accepted one stores it.
func (r *Repo) UpsertPlan(ctx context.Context, p Plan, now time.Time) (Plan, error) {
	var out Plan
	err := r.withTx(ctx, func(tx *sqlx.Tx) error {
		var customerID int64
		if err := tx.GetContext(ctx, &customerID, `SELECT id FROM customers WHERE ref = $1`, p.CustomerRef); err != nil {
			return NotFound(err, fmt.Sprintf("customer %q", p.CustomerRef))
		}
		// The currency as stored ("" for a new plan), the row locked as the
		// upsert below would lock it.
		was, err := StoredCurrency(ctx, tx, p.Ref, " FOR NO KEY UPDATE")
		if err != nil {
			return err
		}
		// ON CONFLICT … WHERE leaves another customer's plan untouched (but
		// locked) and returns no row, which is the conflict.
		err = tx.GetContext(ctx, &out, `
			INSERT INTO plans (ref, customer_id, merchant, title, currency, total, periods, status, repay_method, card_last4, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
			`+PlanUpsertSQL+`
			RETURNING *`+createdPG,
			p.Ref, customerID, p.Merchant, p.Title, p.Currency, p.Total, p.Periods, p.Status, p.RepayMethod, p.CardLast4, now)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("plan %q belongs to another customer: %w", p.Ref, ErrConflict)
			}
			return fmt.Errorf("upsert plan: %w", err)
		}
		out.CustomerRef = p.CustomerRef
		// The upsert left as_of as stored (it wrote none): out.AsOf is
		// the last push's, read on the row it locked.
		if err := upsertInstallments(ctx, tx, out.ID, p.AsOf, out.AsOf, was, p.Currency, p.Installments, now); err != nil {
			return err
		}
		if p.AsOf != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE plans SET as_of = $2 WHERE id = $1`, out.ID, *p.AsOf); err != nil {
				return fmt.Errorf("upsert plan: as_of: %w", err)
			}
			out.AsOf = p.AsOf
		}
		out.Installments, err = installmentsOf(ctx, tx, out.ID)
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	return out, nil
}

func upsertInstallments(ctx context.Context, tx *sqlx.Tx, planID int64, asOf, storedAsOf *time.Time, was, currency string, in []Installment, now time.Time) error {
	n := len(in)
	seqs, dues, amounts, paids := make([]int64, n), make([]string, n), make([]int64, n), make([]*int64, n)
	statuses, paidAts := make([]string, n), make([]string, n)
	for i, it := range in {
		seqs[i], dues[i], amounts[i], statuses[i] = int64(it.Seq), it.DueDate.String(), it.Amount, it.Status
		if !it.KeepPaid {
			paids[i] = &in[i].Paid
		}
		if it.PaidAt != nil {
			paidAts[i] = it.PaidAt.Format(time.RFC3339Nano)
		}
	}
	// The plan row is locked by the upsert above, so no other writer adds
	// installments between these checks and the insert. Its installments
	// are locked by the first read of what they hold: a payment recorded
	// meanwhile (RecordPayment locks its installment) has then committed and
	// is read, or waits for this push; a paid read before it committed
	// would be written back over it. Likewise a push's as_of is checked
	// against the payments recorded once they are locked.
	if err := CheckPushedInstallments(ctx, tx, planID, asOf, storedAsOf, was, currency, in, " FOR UPDATE OF i"); err != nil {
		return err
	}
	var missing []int64
	if err := tx.SelectContext(ctx, &missing, `
		SELECT seq FROM installments WHERE plan_id = $1 AND NOT (seq = ANY($2)) ORDER BY seq`,
		planID, pq.Array(seqs)); err != nil {
		return fmt.Errorf("check installments: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("installment %d is missing from the plan; installments cannot be removed, mark them waived: %w", missing[0], ErrConflict)
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO installments (plan_id, seq, due_date, amount, paid, status, paid_at)
		SELECT $1, i.seq, i.due_date, i.amount, pd.paid, st.status,
			CASE WHEN st.status = 'paid' THEN coalesce(NULLIF(i.paid_at, '')::timestamptz, cur.paid_at, $8) END
		FROM unnest($2::int[], $3::date[], $4::bigint[], $5::bigint[], $6::text[], $7::text[])
			AS i (seq, due_date, amount, paid, status, paid_at)
		LEFT JOIN installments cur ON cur.plan_id = $1 AND cur.seq = i.seq
		CROSS JOIN LATERAL (SELECT coalesce(i.paid, cur.paid, 0) AS paid) pd
		CROSS JOIN LATERAL (SELECT CASE WHEN i.status = 'pending' AND pd.paid >= i.amount
			THEN 'paid' ELSE i.status END AS status) st
		ON CONFLICT (plan_id, seq) DO UPDATE SET
			due_date = EXCLUDED.due_date, amount = EXCLUDED.amount, paid = EXCLUDED.paid,
			status = EXCLUDED.status, paid_at = EXCLUDED.paid_at`,
		planID, pq.Array(seqs), pq.Array(dues), pq.Array(amounts), pq.Array(paids),
		pq.Array(statuses), pq.Array(paidAts), now)
	if err != nil {
		return fmt.Errorf("upsert installments: %w", err)
	}
	return nil
}

// CheckPushedInstallments checks a plan push against what is stored, in
// both stores' plan push: a push with an as_of is checked against the
// plan's last recorded payment and its stored as_of (CheckAsOf), a change
// of currency (from was) against what was paid on it (CheckCurrency), then
// each pushed installment that is stored against it (CheckPushedInstallment:
// payments recorded through the payments endpoint win over a stale push).
// lock is appended to the read of the installments, which comes first
// (PostgreSQL locks the rows it reads, so no payment lands after the
// check; SQLite's writer owns the file).
func CheckPushedInstallments(ctx context.Context, q sqlx.QueryerContext, planID int64, asOf, storedAsOf *time.Time,
	was, currency string, in []Installment, lock string) error {
	var stored []ImportStoredInstallment
	if err := sqlx.SelectContext(ctx, q, &stored, StoredInstallmentsSQL+lock, planID); err != nil {
		return fmt.Errorf("check recorded payments: %w", err)
	}
	if asOf != nil {
		last, err := latest[LastRecorded](ctx, q, LastRecordedSQL, planID)
		if err != nil {
			return err
		}
		event, err := latest[LastEvent](ctx, q, LastEventsSQL("= $1"), planID)
		if err != nil {
			return err
		}
		if err := CheckAsOf(asOf, storedAsOf, last, event); err != nil {
			return err
		}
	}
	if err := CheckCurrency(was, currency, slices.Values(stored)); err != nil {
		return err
	}
	bySeq := make(map[int]ImportStoredInstallment, len(stored))
	for _, s := range stored {
		bySeq[s.Seq] = s
	}
	for _, it := range in {
		if old, ok := bySeq[it.Seq]; ok {
			if err := CheckPushedInstallment(it, old); err != nil {
				return err
			}
		}
	}
	return nil
}

// GetPlan returns plan ref with its installments ordered by seq.
func (q Common) GetPlan(ctx context.Context, ref string) (Plan, error) {
	var p Plan
	if err := q.db.GetContext(ctx, &p, `
		SELECT p.*, c.ref AS customer_ref FROM plans p JOIN customers c ON c.id = p.customer_id
		WHERE p.ref = $1`, ref); err != nil {
		return Plan{}, NotFound(err, fmt.Sprintf("plan %q", ref))
	}
	var err error
	if p.Installments, err = installmentsOf(ctx, q.db, p.ID); err != nil {
		return Plan{}, err
	}
	return p, nil
}

func installmentsOf(ctx context.Context, q sqlx.QueryerContext, planID int64) ([]Installment, error) {
	var out []Installment
	if err := sqlx.SelectContext(ctx, q, &out, `SELECT * FROM installments WHERE plan_id = $1 ORDER BY seq`, planID); err != nil {
		return nil, fmt.Errorf("list installments: %w", err)
	}
	return out, nil
}

// PaymentInput is one payment the lender reports against an installment.
type PaymentInput struct {
	PlanRef string
	Seq     int
	// Amount in minor units: > 0 a payment, at most what is still due
	// (an overpayment is refused); < 0 a reversal (chargeback, bank return)
	// of at most what was paid, which needs a Reason and is audited.
	Amount int64
	Reason string    // why a reversal is made
	Actor  string    // who asked (the API token's name), for the audit log
	PaidAt time.Time // when the borrower paid; zero means Now
	// Ref is the lender's payment id. With it a replayed report changes
	// nothing; without it every call records a payment.
	Ref string
	Now time.Time // zero means the database clock
	// ConfirmChannels are the channels a payment_received notice goes out
	// on when this payment settles the installment (policy.payment_received).
	ConfirmChannels []string
}

// PaymentResult is the installment after a payment.
type PaymentResult struct {
	Installment Installment
	Settled     bool // this payment settled the installment
	Reopened    bool // this reversal made a settled installment due again
	Replayed    bool // Ref was already recorded with this amount; nothing changed
	Queued      int  // payment_received notices created to be sent (not counting suppressed ones)
}

// RecordPayment adds a payment to installment (PlanRef, Seq) in one
// transaction with the installment row locked. Unknown plan or seq is
// ErrNotFound; a Ref already recorded with another amount is ErrConflict.
// When the payment brings a pending installment's paid up to its amount, the
// installment becomes paid at PaidAt and a payment_received notice is queued
// per confirm channel, not before PaidAt (suppressed when the customer opted
// out of the channel or has no address on it). Its dedup key names the
// settlement (installment, kind, channel, PaidAt in Unix microseconds), so a
// bill settled again after a reversal reopened it is confirmed again, and
// only once.
func (r *Repo) RecordPayment(ctx context.Context, in PaymentInput) (PaymentResult, error) {
	in, err := in.Prepare()
	if err != nil {
		return PaymentResult{}, err
	}
	var res PaymentResult
	err = r.withTx(ctx, func(tx *sqlx.Tx) error {
		var cur struct {
			Installment
			CustomerID int64 `db:"customer_id"`
		}
		if err := tx.GetContext(ctx, &cur, `
			SELECT i.*, p.customer_id FROM installments i JOIN plans p ON p.id = i.plan_id
			WHERE p.ref = $1 AND i.seq = $2 FOR UPDATE OF i`, in.PlanRef, in.Seq); err != nil {
			return NotFound(err, fmt.Sprintf("plan %q installment %d", in.PlanRef, in.Seq))
		}
		if in.Ref != "" {
			var amount int64
			err := tx.GetContext(ctx, &amount, `SELECT amount FROM payments WHERE installment_id = $1 AND ref = $2`, cur.ID, in.Ref)
			switch {
			case err == nil && amount == in.Amount:
				res = PaymentResult{Installment: cur.Installment, Replayed: true}
				return nil
			case err == nil:
				return fmt.Errorf("payment %q was already recorded with another amount: %w", in.Ref, ErrConflict)
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("look up payment: %w", err)
			}
		}
		if err := CheckPaymentFits(cur.Installment, in.Amount); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO payments (installment_id, ref, amount, paid_at, created_at, reason, actor)
			VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7)`, cur.ID, in.Ref, in.Amount, in.PaidAt, in.Now,
			in.Reason, in.Actor); err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		res.Settled, res.Reopened = PaymentEffect(cur.Installment, in.Amount)
		if err := tx.GetContext(ctx, &res.Installment, `
			UPDATE installments SET paid = paid + $2,
				status  = CASE WHEN $3 THEN 'paid' WHEN $5 THEN 'pending' ELSE status END,
				paid_at = CASE WHEN $3 THEN $4 WHEN $5 THEN NULL ELSE paid_at END
			WHERE id = $1 RETURNING *`, cur.ID, in.Amount, res.Settled, in.PaidAt, res.Reopened); err != nil {
			return fmt.Errorf("update installment: %w", err)
		}
		if in.Amount < 0 {
			action, target, detail := ReversalAudit(in, res.Reopened)
			if err := r.Audit(ctx, tx, in.Now, in.Actor, action, target, detail); err != nil {
				return err
			}
		}
		if !res.Settled || len(in.ConfirmChannels) == 0 {
			return nil
		}
		var statuses []string
		if err := tx.SelectContext(ctx, &statuses, `
			INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
				channel, locale, status, status_reason, not_before, next_attempt_at, created_at, updated_at)
			SELECT $1::bigint || ':' || $7::text || ':' || ch || ':' || $8::bigint, c.id, $2, $1, $7::text, $7::text, NULL,
				ch, c.locale, `+newNoticeStatusSQL+`, reason, $5, $5, $6, $6
			FROM customers c
			CROSS JOIN (SELECT DISTINCT unnest($4::text[]) AS ch) chans
			CROSS JOIN LATERAL (SELECT `+suppressReasonSQL+` AS reason) s
			WHERE c.id = $3
			ON CONFLICT (dedup_key) DO NOTHING
			RETURNING status`,
			cur.ID, cur.PlanID, cur.CustomerID, pq.Array(in.ConfirmChannels), in.PaidAt, in.Now, kinds.PaymentReceived,
			in.PaidAt.UnixMicro()); err != nil {
			return fmt.Errorf("queue payment_received: %w", err)
		}
		for _, st := range statuses {
			if st == StatusPending {
				res.Queued++
			}
		}
		return nil
	})
	if err != nil {
		return PaymentResult{}, err
	}
	return res, nil
}
