package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// events records in with the rules of RecordEvent: the customer, plan and
// installment named must exist and fit; a new ref is stored; a known ref
// with the same body changes nothing; with another body it is ErrConflict.
func (t *importTx) events(ctx context.Context, in []ImportEvent, now time.Time) ([]ImportLineResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	tg, err := t.loadEventTargets(ctx, in)
	if err != nil {
		return nil, err
	}
	out, writes := DecideImportEvents(in, tg)
	if len(writes) == 0 {
		return out, nil
	}
	var w struct {
		refs, kinds, scopes, payloads, occurred []string
		customers, plans                        []int64
	}
	for _, x := range writes {
		e := x.Event
		w.refs, w.kinds, w.scopes = append(w.refs, e.Ref), append(w.kinds, e.Kind), append(w.scopes, e.Scope)
		w.payloads, w.occurred = append(w.payloads, x.Payload), append(w.occurred, e.OccurredAt.Format(time.RFC3339Nano))
		w.customers, w.plans = append(w.customers, x.CustomerID), append(w.plans, x.PlanID)
	}
	args := []any{pq.Array(w.refs), pq.Array(w.kinds), pq.Array(w.scopes), pq.Array(w.customers), pq.Array(w.plans),
		pq.Array(w.payloads), pq.Array(w.occurred)}
	const input = `unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::jsonb[], $7::timestamptz[])
		AS x (ref, kind, scope, customer_id, plan_id, payload, occurred_at)`
	var created []string
	if err := t.tx.SelectContext(ctx, &created, `
		INSERT INTO channel_events (ref, kind, scope, customer_id, plan_id, payload, occurred_at, received_at)
		SELECT x.ref, x.kind, x.scope, NULLIF(x.customer_id, 0), NULLIF(x.plan_id, 0), x.payload, x.occurred_at, $8
		FROM `+input+`
		ON CONFLICT (ref) DO NOTHING RETURNING ref`, append(args, now)...); err != nil {
		return nil, fmt.Errorf("import events: insert: %w", err)
	}
	var same []struct {
		Ref  string `db:"ref"`
		Same bool   `db:"same"`
	}
	if err := t.tx.SelectContext(ctx, &same, `
		SELECT x.ref, e.kind = x.kind AND e.scope = x.scope
			AND e.customer_id IS NOT DISTINCT FROM NULLIF(x.customer_id, 0)
			AND e.plan_id IS NOT DISTINCT FROM NULLIF(x.plan_id, 0)
			AND e.payload = x.payload AND e.occurred_at = x.occurred_at AS same
		FROM `+input+` JOIN channel_events e ON e.ref = x.ref`, args...); err != nil {
		return nil, fmt.Errorf("import events: compare: %w", err)
	}
	isNew := make(map[string]bool, len(created))
	for _, ref := range created {
		isNew[ref] = true
	}
	isSame := make(map[string]bool, len(same))
	for _, s := range same {
		isSame[s.Ref] = s.Same
	}
	SettleImportEvents(out, writes, isNew, isSame)
	return out, nil
}

// loadEventTargets reads the customers, plans and installments in names.
func (t *importTx) loadEventTargets(ctx context.Context, in []ImportEvent) (ImportEventTargets, error) {
	tg, custRefs, planRefs, seqRefs, seqs := NewImportEventTargets(in)
	if err := t.customerIDs(ctx, custRefs, tg.Customers); err != nil {
		return tg, fmt.Errorf("import events: %w", err)
	}
	var plans []ImportEventPlan
	if err := t.tx.SelectContext(ctx, &plans, `SELECT p.ref, p.id, p.customer_id, c.ref AS customer_ref
		FROM plans p JOIN customers c ON c.id = p.customer_id WHERE p.ref = ANY($1)`, pq.Array(planRefs)); err != nil {
		return tg, fmt.Errorf("import events: plans: %w", err)
	}
	for _, p := range plans {
		tg.Plans[p.Ref] = p
	}
	var found []string
	if err := t.tx.SelectContext(ctx, &found, `
		SELECT DISTINCT x.ref || ':' || x.seq FROM unnest($1::text[], $2::int[]) AS x (ref, seq)
		JOIN plans p ON p.ref = x.ref JOIN installments i ON i.plan_id = p.id AND i.seq = x.seq`,
		pq.Array(seqRefs), pq.Array(seqs)); err != nil {
		return tg, fmt.Errorf("import events: installments: %w", err)
	}
	for _, k := range found {
		tg.Installments[k] = true
	}
	return tg, nil
}

// customerIDs adds the ids of the customers with refs to ids (refs not
// found are left out).
func (t *importTx) customerIDs(ctx context.Context, refs []string, ids map[string]int64) error {
	var custs []struct {
		Ref string `db:"ref"`
		ID  int64  `db:"id"`
	}
	if err := t.tx.SelectContext(ctx, &custs, `SELECT ref, id FROM customers WHERE ref = ANY($1)`, pq.Array(refs)); err != nil {
		return fmt.Errorf("customers: %w", err)
	}
	for _, c := range custs {
		ids[c.Ref] = c.ID
	}
	return nil
}
