package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// UpsertCustomer creates or replaces the customer with c.Ref. created_at is
// set once; updated_at is now on every write. An SMS opt-out duebell set
// itself (sms_opt_out_reason) survives a push that clears it.
func (s *Store) UpsertCustomer(ctx context.Context, c repo.Customer, now time.Time) (repo.Customer, error) {
	var out repo.Customer
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		existed, err := exists(ctx, tx, "customers", c.Ref)
		if err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &out, repo.CustomerUpsertSQL,
			c.Ref, c.Name, c.Phone, c.Email, c.Locale, c.Timezone, c.SMSOptOut, c.EmailOptOut, now, c.KeepSMSOptOut,
			c.KeepEmailOptOut); err != nil {
			return err
		}
		out.Created = !existed
		return nil
	})
	if err != nil {
		return repo.Customer{}, fmt.Errorf("upsert customer: %w", err)
	}
	return out, nil
}

// UpsertPlan creates or replaces plan p.Ref and its installments in one
// transaction. The customer is p.CustomerRef (ErrNotFound when unknown). A
// plan cannot move to another customer and an installment cannot be removed
// (both ErrConflict, nothing written). A pending installment whose paid
// reaches its amount is stored as paid, with paid_at kept or set to now.
// A push with an as_of older than the plan's last recorded payment or its
// stored as_of is ErrStale (nothing written); an accepted one stores it.
func (s *Store) UpsertPlan(ctx context.Context, p repo.Plan, now time.Time) (repo.Plan, error) {
	var out repo.Plan
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		var customerID int64
		if err := tx.GetContext(ctx, &customerID, `SELECT id FROM customers WHERE ref = $1`, p.CustomerRef); err != nil {
			return repo.NotFound(err, fmt.Sprintf("customer %q", p.CustomerRef))
		}
		was, err := repo.StoredCurrency(ctx, tx, p.Ref, "")
		if err != nil {
			return err
		}
		existed := was != ""
		// ON CONFLICT … WHERE leaves another customer's plan untouched and
		// returns no row, which is the conflict.
		err = tx.GetContext(ctx, &out, `
			INSERT INTO plans (ref, customer_id, merchant, title, currency, total, periods, status, repay_method, card_last4, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
			`+repo.PlanUpsertSQL+`
			RETURNING *`,
			p.Ref, customerID, p.Merchant, p.Title, p.Currency, p.Total, p.Periods, p.Status, p.RepayMethod, p.CardLast4, now)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("plan %q belongs to another customer: %w", p.Ref, repo.ErrConflict)
			}
			return fmt.Errorf("upsert plan: %w", err)
		}
		out.CustomerRef, out.Created = p.CustomerRef, !existed
		// The upsert left as_of as stored (it wrote none): out.AsOf is
		// the last push's.
		if err := ingestUpsertInstallments(ctx, tx, out.ID, p.AsOf, out.AsOf, was, p.Currency, p.Installments, now); err != nil {
			return err
		}
		if p.AsOf != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE plans SET as_of = $2 WHERE id = $1`, out.ID, *p.AsOf); err != nil {
				return fmt.Errorf("upsert plan: as_of: %w", err)
			}
			out.AsOf = p.AsOf
		}
		out.Installments, err = ingestInstallmentsOf(ctx, tx, out.ID)
		return err
	})
	if err != nil {
		return repo.Plan{}, err
	}
	return out, nil
}

// ingestInstallment is one pushed installment as the statements below read
// it from a JSON array: paid is null when the push keeps the stored paid,
// paid_at (Unix micros) null when the push did not say.
type ingestInstallment struct {
	Seq     int    `json:"seq"`
	DueDate string `json:"due_date"`
	Amount  int64  `json:"amount"`
	Paid    *int64 `json:"paid"`
	Status  string `json:"status"`
	PaidAt  *int64 `json:"paid_at"`
}

// ingestUpsertInstallments writes a plan's pushed installments in one
// statement, reading them from a JSON array where PostgreSQL unnests arrays.
// The write transaction owns the file, so nothing adds installments between
// the checks and the write.
func ingestUpsertInstallments(ctx context.Context, tx *sqlx.Tx, planID int64, asOf, storedAsOf *time.Time, was, currency string,
	in []repo.Installment, now time.Time) error {
	rows := make([]ingestInstallment, len(in))
	for i, it := range in {
		rows[i] = ingestInstallment{Seq: it.Seq, DueDate: it.DueDate.String(), Amount: it.Amount, Status: it.Status}
		if !it.KeepPaid {
			rows[i].Paid = &in[i].Paid
		}
		if it.PaidAt != nil {
			us := it.PaidAt.UnixMicro()
			rows[i].PaidAt = &us
		}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("upsert installments: %w", err)
	}
	pushed := string(b)
	// Checked first, as the PostgreSQL store does: a stale push is refused
	// as stale whatever else is wrong with it.
	if err := repo.CheckPushedInstallments(ctx, tx, planID, asOf, storedAsOf, was, currency, in, ""); err != nil {
		return err
	}
	var missing []int64
	if err := tx.SelectContext(ctx, &missing, `
		SELECT seq FROM installments
		WHERE plan_id = $1 AND seq NOT IN (SELECT value ->> 'seq' FROM json_each($2))
		ORDER BY seq LIMIT 1`, planID, pushed); err != nil {
		return fmt.Errorf("check installments: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("installment %d is missing from the plan; installments cannot be removed, mark them waived: %w", missing[0], repo.ErrConflict)
	}
	// WHERE true: an upsert's SELECT needs a WHERE before ON CONFLICT.
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO installments (plan_id, seq, due_date, amount, paid, status, paid_at)
		SELECT $1, seq, due_date, amount, paid, status,
			CASE WHEN status = 'paid' THEN coalesce(pushed_paid_at, cur_paid_at, $3) END
		FROM (
			SELECT seq, due_date, amount, paid, pushed_paid_at, cur_paid_at,
				CASE WHEN pushed_status = 'pending' AND paid >= amount THEN 'paid' ELSE pushed_status END AS status
			FROM (
				SELECT j.value ->> 'seq' AS seq, j.value ->> 'due_date' AS due_date,
					j.value ->> 'amount' AS amount, j.value ->> 'status' AS pushed_status,
					coalesce(j.value ->> 'paid', cur.paid, 0) AS paid,
					j.value ->> 'paid_at' AS pushed_paid_at, cur.paid_at AS cur_paid_at
				FROM json_each($2) j
				LEFT JOIN installments cur ON cur.plan_id = $1 AND cur.seq = j.value ->> 'seq'
				ORDER BY j.key))
		WHERE true
		ON CONFLICT (plan_id, seq) DO UPDATE SET
			due_date = excluded.due_date, amount = excluded.amount, paid = excluded.paid,
			status = excluded.status, paid_at = excluded.paid_at`,
		planID, pushed, now); err != nil {
		return fmt.Errorf("upsert installments: %w", err)
	}
	return nil
}

func ingestInstallmentsOf(ctx context.Context, q sqlx.QueryerContext, planID int64) ([]repo.Installment, error) {
	var out []repo.Installment
	if err := sqlx.SelectContext(ctx, q, &out, `SELECT * FROM installments WHERE plan_id = $1 ORDER BY seq`, planID); err != nil {
		return nil, fmt.Errorf("list installments: %w", err)
	}
	return out, nil
}

// exists reports whether table holds a row with ref: read in the write
// transaction, which no other write can come between, it tells an upsert
// that creates the row from one that replaces it.
func exists(ctx context.Context, tx *sqlx.Tx, table, ref string) (bool, error) {
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM `+table+` WHERE ref = $1`, ref); err != nil {
		return false, fmt.Errorf("read %s %q: %w", table, ref, err)
	}
	return n > 0, nil
}
