package sqlite

import (
	"context"
	"fmt"
	"time"

	"duebell/repo"
)

// plans upserts in with the rules of UpsertPlan (decided in package repo,
// as for PostgreSQL): every line is decided on one read of what is stored,
// which nothing else can change before the write (the import holds the
// write lock), and the changed plans and their installments are written
// with one statement each. An unchanged plan is not written.
func (t *importTx) plans(ctx context.Context, in []repo.ImportPlan, now time.Time, customerIDs map[string]int64) ([]repo.ImportLineResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	st, err := t.loadPlans(ctx, in, customerIDs)
	if err != nil {
		return nil, err
	}
	out, finals := st.Decide(in, now)
	var w []repo.Plan
	for i, r := range out {
		if r.Outcome == repo.ImportCreated || r.Outcome == repo.ImportUpdated {
			w = append(w, finals[i])
		}
	}
	if err := t.writePlans(ctx, w, now); err != nil {
		return nil, err
	}
	return out, nil
}

// loadPlans reads what is stored for in; customerIDs are the ids of the
// customers the batch itself wrote or read, the others are looked up.
func (t *importTx) loadPlans(ctx context.Context, in []repo.ImportPlan, customerIDs map[string]int64) (repo.ImportPlanState, error) {
	st, refs, custRefs := repo.NewImportPlanState(in, customerIDs)
	if err := t.customerIDs(ctx, custRefs, st.Customers); err != nil {
		return st, fmt.Errorf("import plans: %w", err)
	}
	list, err := importJSON(refs)
	if err != nil {
		return st, err
	}
	var plans []repo.Plan
	if err := t.tx.SelectContext(ctx, &plans, `
		SELECT p.*, c.ref AS customer_ref FROM plans p JOIN customers c ON c.id = p.customer_id
		WHERE p.ref IN (SELECT value FROM json_each($1)) ORDER BY p.id`, list); err != nil {
		return st, fmt.Errorf("import plans: read plans: %w", err)
	}
	ids := st.AddPlans(plans)
	if len(ids) == 0 {
		return st, nil
	}
	if list, err = importJSON(ids); err != nil {
		return st, err
	}
	var insts []repo.ImportStoredInstallment
	if err := t.tx.SelectContext(ctx, &insts, `
		SELECT i.*, coalesce((SELECT sum(y.amount) FROM payments y WHERE y.installment_id = i.id), 0) AS recorded
		FROM installments i WHERE i.plan_id IN (SELECT value FROM json_each($1)) ORDER BY i.id`, list); err != nil {
		return st, fmt.Errorf("import plans: read installments: %w", err)
	}
	st.AddInstallments(insts)
	if ids := st.AsOfPlanIDs(in); len(ids) > 0 {
		if list, err = importJSON(ids); err != nil {
			return st, err
		}
		var last []repo.LastRecorded
		if err := t.tx.SelectContext(ctx, &last, `
			SELECT plan_id, seq, ref, amount, created_at FROM (
				SELECT i.plan_id, i.seq, y.ref, y.amount, y.created_at,
					row_number() OVER (PARTITION BY i.plan_id ORDER BY y.created_at DESC, y.id DESC) AS n
				FROM payments y JOIN installments i ON i.id = y.installment_id
				WHERE i.plan_id IN (SELECT value FROM json_each($1)))
			WHERE n = 1`, list); err != nil {
			return st, fmt.Errorf("import plans: last payments: %w", err)
		}
		var events []repo.LastEvent
		if err := t.tx.SelectContext(ctx, &events, repo.LastEventsSQL("IN (SELECT value FROM json_each($1))"), list); err != nil {
			return st, fmt.Errorf("import plans: last events: %w", err)
		}
		st.AddLast(last, events)
	}
	return st, nil
}

// writePlans upserts plans, then their installments.
func (t *importTx) writePlans(ctx context.Context, plans []repo.Plan, now time.Time) error {
	if len(plans) == 0 {
		return nil
	}
	type planRow struct {
		Ref         string `json:"ref"`
		CustomerID  int64  `json:"customer_id"`
		Merchant    string `json:"merchant"`
		Title       string `json:"title"`
		Currency    string `json:"currency"`
		Total       int64  `json:"total"`
		Periods     int    `json:"periods"`
		Status      string `json:"status"`
		RepayMethod string `json:"repay_method"`
		CardLast4   string `json:"card_last4"`
		AsOf        *int64 `json:"as_of"`
	}
	rows := make([]planRow, len(plans))
	for i, p := range plans {
		rows[i] = planRow{p.Ref, p.CustomerID, p.Merchant, p.Title, p.Currency, p.Total, p.Periods, p.Status, p.RepayMethod,
			p.CardLast4, importMicros(p.AsOf)}
	}
	list, err := importJSON(rows)
	if err != nil {
		return err
	}
	var ids []struct {
		ID  int64  `db:"id"`
		Ref string `db:"ref"`
	}
	if err := t.tx.SelectContext(ctx, &ids, `
		INSERT INTO plans (ref, customer_id, merchant, title, currency, total, periods, status, repay_method, card_last4,
			created_at, updated_at, as_of)
		SELECT value->>'ref', value->>'customer_id', value->>'merchant', value->>'title', value->>'currency',
			value->>'total', value->>'periods', value->>'status', value->>'repay_method', value->>'card_last4', $2, $2,
			value->>'as_of'
		FROM json_each($1) WHERE true
		`+repo.PlanUpsertSQL+`
		RETURNING id, ref`, list, now); err != nil {
		return fmt.Errorf("import plans: write plans: %w", err)
	}
	if len(ids) != len(plans) {
		// The lines were decided in this transaction, which no other writer
		// can enter: only a bug gets here. Stop rather than write
		// installments on another customer's plan.
		return fmt.Errorf("import plans: %d of %d plans changed customer while importing: %w", len(plans)-len(ids), len(plans), repo.ErrConflict)
	}
	planID := make(map[string]int64, len(ids))
	for _, x := range ids {
		planID[x.Ref] = x.ID
	}
	type instRow struct {
		PlanID  int64  `json:"plan_id"`
		Seq     int    `json:"seq"`
		DueDate string `json:"due_date"`
		Amount  int64  `json:"amount"`
		Paid    int64  `json:"paid"`
		Status  string `json:"status"`
		PaidAt  *int64 `json:"paid_at"`
	}
	var insts []instRow
	for _, p := range plans {
		for _, it := range p.Installments {
			insts = append(insts, instRow{planID[p.Ref], it.Seq, it.DueDate.String(), it.Amount, it.Paid, it.Status, importMicros(it.PaidAt)})
		}
	}
	if len(insts) == 0 {
		return nil
	}
	if list, err = importJSON(insts); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, `
		INSERT INTO installments (plan_id, seq, due_date, amount, paid, status, paid_at)
		SELECT value->>'plan_id', value->>'seq', value->>'due_date', value->>'amount', value->>'paid',
			value->>'status', value->>'paid_at'
		FROM json_each($1) WHERE true
		ON CONFLICT (plan_id, seq) DO UPDATE SET
			due_date = excluded.due_date, amount = excluded.amount, paid = excluded.paid,
			status = excluded.status, paid_at = excluded.paid_at`, list); err != nil {
		return fmt.Errorf("import plans: write installments: %w", err)
	}
	return nil
}
