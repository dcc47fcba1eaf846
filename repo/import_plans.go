package repo

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// plans upserts in with the rules of UpsertPlan: the customer must exist, a
// plan stays with its customer, installments are never removed, and a plan
// never lowers an installment's paid below what payments recorded (an
// omitted paid keeps the stored one). Every line is decided in Go on one
// read of what is stored; the lines that would change a stored plan are
// decided again on their plans and installments locked (so a payment
// cannot land in between), and the changed plans and their installments
// are written with one statement each. An unchanged plan is never locked
// or written, which keeps a nightly re-sync of the same book cheap.
func (t *importTx) plans(ctx context.Context, in []ImportPlan, now time.Time, customerIDs map[string]int64) ([]ImportLineResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out, finals, err := t.decidePlans(ctx, in, now, false, customerIDs)
	if err != nil {
		return nil, err
	}
	var again []int
	for i, r := range out {
		if r.Outcome == ImportUpdated {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		sub := make([]ImportPlan, len(again))
		for j, i := range again {
			sub[j] = in[i]
		}
		out2, finals2, err := t.decidePlans(ctx, sub, now, true, customerIDs)
		if err != nil {
			return nil, err
		}
		for j, i := range again {
			out[i], finals[i] = out2[j], finals2[j]
		}
	}
	var w planWrites
	for i, r := range out {
		if r.Outcome == ImportCreated || r.Outcome == ImportUpdated {
			w.add(finals[i])
		}
	}
	if err := t.writePlans(ctx, &w, now); err != nil {
		return nil, err
	}
	return out, nil
}

// decidePlans reads what is stored for in (locked when lock) and decides
// every line: its result and the plan as it is to be stored.
func (t *importTx) decidePlans(ctx context.Context, in []ImportPlan, now time.Time, lock bool, customerIDs map[string]int64) ([]ImportLineResult, []Plan, error) {
	st, err := t.loadPlans(ctx, in, lock, customerIDs)
	if err != nil {
		return nil, nil, err
	}
	out, finals := st.Decide(in, now)
	return out, finals, nil
}

// loadPlans reads what is stored for in; customerIDs are the ids of the
// customers the batch itself wrote or read, the others are looked up.
func (t *importTx) loadPlans(ctx context.Context, in []ImportPlan, lock bool, customerIDs map[string]int64) (ImportPlanState, error) {
	st, refs, custRefs := NewImportPlanState(in, customerIDs)
	if len(custRefs) > 0 {
		if err := t.customerIDs(ctx, custRefs, st.Customers); err != nil {
			return st, fmt.Errorf("import plans: %w", err)
		}
	}
	// NO KEY UPDATE: a payment holding its installment inserts a notice,
	// whose foreign key takes KEY SHARE on the plan; FOR UPDATE here would
	// wait on that payment while it waits on this lock (a deadlock).
	lockPlans, lockInstallments := "", ""
	if lock {
		lockPlans, lockInstallments = " FOR NO KEY UPDATE OF p", " FOR UPDATE OF i"
	}
	var plans []Plan
	if err := t.tx.SelectContext(ctx, &plans, `
		SELECT p.*, c.ref AS customer_ref FROM plans p JOIN customers c ON c.id = p.customer_id
		WHERE p.ref = ANY($1) ORDER BY p.id`+lockPlans, pq.Array(refs)); err != nil {
		return st, fmt.Errorf("import plans: lock plans: %w", err)
	}
	ids := st.AddPlans(plans)
	if len(ids) == 0 {
		return st, nil
	}
	// Locked, the installments cannot take a payment between this read and
	// the write (RecordPayment locks the installment).
	var insts []ImportStoredInstallment
	if err := t.tx.SelectContext(ctx, &insts, `
		SELECT i.*, coalesce((SELECT sum(y.amount) FROM payments y WHERE y.installment_id = i.id), 0) AS recorded
		FROM installments i WHERE i.plan_id = ANY($1) ORDER BY i.id`+lockInstallments, pq.Array(ids)); err != nil {
		return st, fmt.Errorf("import plans: lock installments: %w", err)
	}
	st.AddInstallments(insts)
	// Read after the installments are locked: no payment lands on them
	// between this read and the write.
	if ids := st.AsOfPlanIDs(in); len(ids) > 0 {
		var last []LastRecorded
		if err := t.tx.SelectContext(ctx, &last, `
			SELECT DISTINCT ON (i.plan_id) i.plan_id, i.seq, y.ref, y.amount, y.created_at
			FROM payments y JOIN installments i ON i.id = y.installment_id
			WHERE i.plan_id = ANY($1)
			ORDER BY i.plan_id, y.created_at DESC, y.id DESC`, pq.Array(ids)); err != nil {
			return st, fmt.Errorf("import plans: last payments: %w", err)
		}
		var events []LastEvent
		if err := t.tx.SelectContext(ctx, &events, LastEventsSQL("= ANY($1)"), pq.Array(ids)); err != nil {
			return st, fmt.Errorf("import plans: last events: %w", err)
		}
		st.AddLast(last, events)
	}
	return st, nil
}

// planWrites are the plans (and their installments) to write, as columns.
type planWrites struct {
	refs, merchants, titles, currencies, statuses, methods, last4s []string
	asOfs                                                          []string // RFC 3339, "" for none
	customers, totals                                              []int64
	periods                                                        []int64
	plans                                                          []Plan
}

func (w *planWrites) add(p Plan) {
	asOf := ""
	if p.AsOf != nil {
		asOf = p.AsOf.Format(time.RFC3339Nano)
	}
	w.asOfs = append(w.asOfs, asOf)
	w.refs, w.merchants, w.titles = append(w.refs, p.Ref), append(w.merchants, p.Merchant), append(w.titles, p.Title)
	w.currencies, w.statuses = append(w.currencies, p.Currency), append(w.statuses, p.Status)
	w.methods, w.last4s = append(w.methods, p.RepayMethod), append(w.last4s, p.CardLast4)
	w.customers, w.totals, w.periods = append(w.customers, p.CustomerID), append(w.totals, p.Total), append(w.periods, int64(p.Periods))
	w.plans = append(w.plans, p)
}

func (t *importTx) writePlans(ctx context.Context, w *planWrites, now time.Time) error {
	if len(w.refs) == 0 {
		return nil
	}
	var ids []struct {
		ID       int64  `db:"id"`
		Ref      string `db:"ref"`
		Inserted bool   `db:"inserted"`
	}
	if err := t.tx.SelectContext(ctx, &ids, `
		INSERT INTO plans (ref, customer_id, merchant, title, currency, total, periods, status, repay_method, card_last4,
			created_at, updated_at, as_of)
		SELECT x.ref, x.customer_id, x.merchant, x.title, x.currency, x.total, x.periods, x.status, x.repay_method,
			x.card_last4, $11, $11, NULLIF(x.as_of, '')::timestamptz
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::int[], $8::text[], $9::text[],
			$10::text[], $12::text[])
			AS x (ref, customer_id, merchant, title, currency, total, periods, status, repay_method, card_last4, as_of)
		`+PlanUpsertSQL+`
		RETURNING id, ref, xmax = 0 AS inserted`,
		pq.Array(w.refs), pq.Array(w.customers), pq.Array(w.merchants), pq.Array(w.titles), pq.Array(w.currencies),
		pq.Array(w.totals), pq.Array(w.periods), pq.Array(w.statuses), pq.Array(w.methods), pq.Array(w.last4s), now,
		pq.Array(w.asOfs)); err != nil {
		return fmt.Errorf("import plans: write plans: %w", err)
	}
	if len(ids) != len(w.refs) {
		// Only a plan created for another customer by another writer since
		// loadPlans gets here: the import stops with this error, and running
		// it again decides the line anew (refused as a conflict).
		return fmt.Errorf("import plans: %d of %d plans changed customer while importing: %w", len(w.refs)-len(ids), len(w.refs), ErrConflict)
	}
	planID := make(map[string]int64, len(ids))
	inserted := make(map[string]bool, len(ids))
	for _, x := range ids {
		planID[x.Ref], inserted[x.Ref] = x.ID, x.Inserted
	}
	for _, p := range w.plans {
		if p.ID == 0 && !inserted[p.Ref] {
			// Another writer (a concurrent import or push) created the plan
			// since loadPlans found none: this chunk's view of it is stale.
			// Refused like the case above; running the import again applies
			// the line to the plan as stored.
			return fmt.Errorf("import plans: plan %q was created by another writer while importing; import again: %w",
				p.Ref, ErrConflict)
		}
	}
	// Installments of new plans are plain inserts; only plans that were
	// stored take the upsert's conflict path.
	var fresh, stored installmentColumns
	for _, p := range w.plans {
		c := &fresh
		if p.ID != 0 {
			c = &stored
		}
		c.add(planID[p.Ref], p.Installments)
	}
	if err := t.copyInstallments(ctx, fresh); err != nil {
		return err
	}
	return t.writeInstallments(ctx, stored, `ON CONFLICT (plan_id, seq) DO UPDATE SET
			due_date = EXCLUDED.due_date, amount = EXCLUDED.amount, paid = EXCLUDED.paid,
			status = EXCLUDED.status, paid_at = EXCLUDED.paid_at`)
}

// installmentColumns are installments to write, as columns.
type installmentColumns struct {
	plans, seqs, amounts, paids []int64
	dues, statuses, paidAts     []string
}

func (c *installmentColumns) add(planID int64, in []Installment) {
	for _, it := range in {
		c.plans, c.seqs, c.amounts, c.paids = append(c.plans, planID), append(c.seqs, int64(it.Seq)), append(c.amounts, it.Amount), append(c.paids, it.Paid)
		at := ""
		if it.PaidAt != nil {
			at = it.PaidAt.Format(time.RFC3339Nano)
		}
		c.dues, c.statuses, c.paidAts = append(c.dues, it.DueDate.String()), append(c.statuses, it.Status), append(c.paidAts, at)
	}
}

// copyInstallments inserts the installments of new plans with COPY, the
// cheapest bulk path PostgreSQL has (no conflict is possible: the plans are
// new and the batch names each once). The rows go to lib/pq's COPY
// statement on the transaction's connection directly: through
// database/sql, its per-call bookkeeping cost the importer more CPU than
// the copy itself (1.2 million calls for a book of 100k plans).
func (t *importTx) copyInstallments(ctx context.Context, c installmentColumns) error {
	if len(c.plans) == 0 {
		return nil
	}
	err := t.conn.Raw(func(dc any) error {
		conn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection is a %T", dc)
		}
		stmt, err := conn.Prepare(`COPY installments (plan_id, seq, due_date, amount, paid, status, paid_at) FROM STDIN`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		row := make([]driver.Value, 7)
		for i := range c.plans {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = c.plans[i], c.seqs[i], c.dues[i], c.amounts[i], c.paids[i], c.statuses[i], nil
			if c.paidAts[i] != "" {
				row[6] = c.paidAts[i]
			}
			//lint:ignore SA1019 lib/pq's COPY statement has no ExecContext; database/sql calls this Exec too
			if _, err := stmt.Exec(row); err != nil {
				return err
			}
		}
		//lint:ignore SA1019 as above: Exec with no row ends the COPY
		_, err = stmt.Exec(nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("import plans: copy installments: %w", err)
	}
	return nil
}

func (t *importTx) writeInstallments(ctx context.Context, c installmentColumns, onConflict string) error {
	if len(c.plans) == 0 {
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, `
		INSERT INTO installments (plan_id, seq, due_date, amount, paid, status, paid_at)
		SELECT x.plan_id, x.seq, x.due_date, x.amount, x.paid, x.status, NULLIF(x.paid_at, '')::timestamptz
		FROM unnest($1::bigint[], $2::int[], $3::date[], $4::bigint[], $5::bigint[], $6::text[], $7::text[])
			AS x (plan_id, seq, due_date, amount, paid, status, paid_at) `+onConflict,
		pq.Array(c.plans), pq.Array(c.seqs), pq.Array(c.dues), pq.Array(c.amounts), pq.Array(c.paids),
		pq.Array(c.statuses), pq.Array(c.paidAts)); err != nil {
		return fmt.Errorf("import plans: write installments: %w", err)
	}
	return nil
}
