package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"duebell/repo"
)

// events records in with the rules of RecordEvent (decided in package
// repo, as for PostgreSQL): the customer, plan and installment named must
// exist and fit; a new ref is stored; a known ref with the same body
// changes nothing; with another body it is ErrConflict. SQLite has no
// jsonb, so the payloads are compared here as PostgreSQL compares jsonb:
// as JSON values, whatever their key order, spacing or number spelling.
func (t *importTx) events(ctx context.Context, in []repo.ImportEvent, now time.Time) ([]repo.ImportLineResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	tg, err := t.loadEventTargets(ctx, in)
	if err != nil {
		return nil, err
	}
	out, writes := repo.DecideImportEvents(in, tg)
	if len(writes) == 0 {
		return out, nil
	}
	type row struct {
		Ref        string          `json:"ref"`
		Kind       string          `json:"kind"`
		Scope      string          `json:"scope"`
		CustomerID int64           `json:"customer_id"`
		PlanID     int64           `json:"plan_id"`
		Payload    json.RawMessage `json:"payload"`
		OccurredAt int64           `json:"occurred_at"`
	}
	w := make([]row, len(writes))
	for i, x := range writes {
		w[i] = row{x.Event.Ref, x.Event.Kind, x.Event.Scope, x.CustomerID, x.PlanID, json.RawMessage(x.Payload), x.Event.OccurredAt.UnixMicro()}
	}
	list, err := importJSON(w)
	if err != nil {
		return nil, err
	}
	var created []string
	if err := t.tx.SelectContext(ctx, &created, `
		INSERT INTO channel_events (ref, kind, scope, customer_id, plan_id, payload, occurred_at, received_at)
		SELECT value->>'ref', value->>'kind', value->>'scope', nullif(value->>'customer_id', 0),
			nullif(value->>'plan_id', 0), value->'payload', value->>'occurred_at', $2
		FROM json_each($1) WHERE true
		ON CONFLICT (ref) DO NOTHING RETURNING ref`, list, now); err != nil {
		return nil, fmt.Errorf("import events: insert: %w", err)
	}
	isNew := make(map[string]bool, len(created))
	for _, ref := range created {
		isNew[ref] = true
	}
	var known []string
	for _, x := range writes {
		if !isNew[x.Event.Ref] {
			known = append(known, x.Event.Ref)
		}
	}
	isSame := map[string]bool{}
	if len(known) > 0 {
		refs, err := importJSON(known)
		if err != nil {
			return nil, err
		}
		var stored []repo.Event
		if err := t.tx.SelectContext(ctx, &stored, `
			SELECT e.*, '' AS customer_ref, '' AS plan_ref FROM channel_events e
			WHERE e.ref IN (SELECT value FROM json_each($1))`, refs); err != nil {
			return nil, fmt.Errorf("import events: compare: %w", err)
		}
		byRef := make(map[string]repo.Event, len(stored))
		for _, e := range stored {
			byRef[e.Ref] = e
		}
		for _, x := range writes {
			if e, ok := byRef[x.Event.Ref]; ok {
				isSame[e.Ref] = importSameEvent(e, x)
			}
		}
	}
	repo.SettleImportEvents(out, writes, isNew, isSame)
	return out, nil
}

// importSameEvent reports whether the stored event e has the body of line
// x: kind, scope, customer, plan, instant (to the microsecond, as stored)
// and payload as JSON.
func importSameEvent(e repo.Event, x repo.ImportEventWrite) bool {
	sameID := func(p *int64, id int64) bool { return (p == nil && id == 0) || (p != nil && *p == id) }
	return e.Kind == x.Event.Kind && e.Scope == x.Event.Scope && sameID(e.CustomerID, x.CustomerID) &&
		sameID(e.PlanID, x.PlanID) && e.OccurredAt.UnixMicro() == x.Event.OccurredAt.UnixMicro() &&
		repo.SameJSON([]byte(e.Payload), []byte(x.Payload))
}

// loadEventTargets reads the customers, plans and installments in names.
func (t *importTx) loadEventTargets(ctx context.Context, in []repo.ImportEvent) (repo.ImportEventTargets, error) {
	tg, custRefs, planRefs, seqRefs, seqs := repo.NewImportEventTargets(in)
	if err := t.customerIDs(ctx, custRefs, tg.Customers); err != nil {
		return tg, fmt.Errorf("import events: %w", err)
	}
	if len(planRefs) == 0 {
		return tg, nil
	}
	list, err := importJSON(planRefs)
	if err != nil {
		return tg, err
	}
	var plans []repo.ImportEventPlan
	if err := t.tx.SelectContext(ctx, &plans, `SELECT p.ref, p.id, p.customer_id, c.ref AS customer_ref
		FROM plans p JOIN customers c ON c.id = p.customer_id
		WHERE p.ref IN (SELECT value FROM json_each($1))`, list); err != nil {
		return tg, fmt.Errorf("import events: plans: %w", err)
	}
	for _, p := range plans {
		tg.Plans[p.Ref] = p
	}
	if len(seqRefs) == 0 {
		return tg, nil
	}
	type key struct {
		Ref string `json:"ref"`
		Seq int64  `json:"seq"`
	}
	keys := make([]key, len(seqRefs))
	for i := range seqRefs {
		keys[i] = key{seqRefs[i], seqs[i]}
	}
	if list, err = importJSON(keys); err != nil {
		return tg, err
	}
	var found []struct {
		Ref string `db:"ref"`
		Seq int64  `db:"seq"`
	}
	if err := t.tx.SelectContext(ctx, &found, `
		SELECT DISTINCT p.ref, i.seq FROM (SELECT value->>'ref' AS ref, value->>'seq' AS seq FROM json_each($1)) x
		JOIN plans p ON p.ref = x.ref JOIN installments i ON i.plan_id = p.id AND i.seq = x.seq`, list); err != nil {
		return tg, fmt.Errorf("import events: installments: %w", err)
	}
	for _, k := range found {
		tg.Installments[repo.ImportInstallmentKey(k.Ref, k.Seq)] = true
	}
	return tg, nil
}
