package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// scanEventTx runs repo.ApplyEvent's statements in a scan transaction.
type scanEventTx struct{ tx *sqlx.Tx }

// LaterCardEvent: has an event of kinds (the card events) for an
// overlapping set of plans of the event's customer that occurred after it
// already been processed? Then this one arrived late and applying it would
// undo the newer state.
func (t scanEventTx) LaterCardEvent(ctx context.Context, ev *repo.ClaimedEvent, kinds []string) (bool, error) {
	k, err := json.Marshal(kinds)
	if err != nil {
		return false, err
	}
	var later bool
	err = t.tx.GetContext(ctx, &later, `
		SELECT EXISTS (SELECT 1 FROM channel_events l
			WHERE l.customer_id = $1 AND l.occurred_at > $2 AND l.id <> $3 AND l.processed_at IS NOT NULL
			  AND l.kind IN (SELECT value FROM json_each($5))
			  AND (l.scope = 'customer' OR $4 IS NULL OR l.plan_id = $4))`,
		*ev.CustomerID, ev.OccurredAt, ev.ID, ev.PlanID, string(k))
	return later, err
}

// SetRepayMethod switches the customer's active plans (or the one plan) to
// method, storing card when not "" (a card_unbound event keeps the last on file).
func (t scanEventTx) SetRepayMethod(ctx context.Context, customerID int64, planID *int64, method, card string, now time.Time) ([]int64, error) {
	var ids []int64
	err := t.tx.SelectContext(ctx, &ids, `
		UPDATE plans SET repay_method = $3, card_last4 = CASE WHEN $4 <> '' THEN $4 ELSE card_last4 END, updated_at = $5
		WHERE customer_id = $1 AND ($2 IS NULL OR id = $2) AND status = 'active'
		  AND (repay_method <> $3 OR ($4 <> '' AND card_last4 <> $4))
		RETURNING id`, customerID, planID, method, card, now)
	return ids, err
}

// CancelPlan cancels an active plan.
func (t scanEventTx) CancelPlan(ctx context.Context, planID int64, now time.Time) (int, error) {
	return scanExecCount(ctx, t.tx, `UPDATE plans SET status = 'cancelled', updated_at = $2 WHERE id = $1 AND status = 'active'`,
		planID, now)
}

// SuppressCancelled suppresses a cancelled plan's pending notices of kinds,
// except one leading a digest that covers bills of other plans: the
// dispatcher hands that digest over (repo's suppressCancelledSQL).
func (t scanEventTx) SuppressCancelled(ctx context.Context, planID int64, now time.Time, kinds []string) (int, error) {
	k, err := json.Marshal(kinds)
	if err != nil {
		return 0, err
	}
	return scanExecCount(ctx, t.tx, `
		UPDATE notifications SET status = 'suppressed', status_reason = 'plan cancelled', updated_at = $2
		WHERE plan_id = $1 AND status = 'pending' AND NOT forced AND kind IN (SELECT value FROM json_each($3))
		  AND NOT (digest_of = id AND EXISTS (SELECT 1 FROM notifications m
		                                      WHERE m.digest_of = notifications.id AND m.plan_id <> notifications.plan_id))`,
		planID, now, string(k))
}

// scanEventNoticeSQL queues one event's notices: one per target customer
// and channel, in one INSERT … SELECT whatever the scope (repo's
// eventNoticeSQL, whose rules it keeps). %s is the scope's target query,
// giving t(customer_id, plan_id, installment_id).
//
//	$1 event id, $2 now, $3 channels (a JSON array), $4 pick a plan, $5 name
//	the next unpaid installment, $6 needs an active plan, $7 installment seq
//	(0 = next unpaid), $8 needs an installment, $9 the plans a picked plan is
//	one of (a JSON array; empty: any)
const scanEventNoticeSQL = `
WITH ev AS (
	SELECT id, kind, customer_id, plan_id, occurred_at FROM channel_events WHERE id = $1
), t AS (%s
)
INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, event_id, kind, channel, locale,
                           status, status_reason, not_before, next_attempt_at, created_at, updated_at)
SELECT 'event:' || ev.id || ':' || x.customer_id || ':' || x.ch, x.customer_id, x.plan_id, x.installment_id,
       ev.id, ev.kind, x.ch, x.locale, ` + repo.NewNoticeStatusSQL + `, reason, ev.occurred_at, ev.occurred_at, $2, $2
FROM (
	SELECT c.id AS customer_id, t.plan_id, t.installment_id, c.locale, chans.ch, ` + repo.SuppressReasonSQL + ` AS reason
	FROM t
	JOIN customers c ON c.id = t.customer_id
	CROSS JOIN (SELECT DISTINCT value AS ch FROM json_each($3)) chans) x
CROSS JOIN ev
WHERE (NOT $6 OR x.plan_id IS NOT NULL)
  AND (NOT $8 OR x.installment_id IS NOT NULL)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING kind, channel, status`

// scanPickPlanSQL chooses, for each customer %s selects (among the plans
// in $9 when it lists any), the active plan
// with the earliest unpaid installment (that installment too, when $5),
// else the newest active plan; no row unless $4. Window functions stand in
// for PostgreSQL's LATERAL … LIMIT 1.
const scanPickPlanSQL = `
	SELECT customer_id, plan_id, installment_id FROM (
		SELECT p.customer_id, p.id AS plan_id, nx.id AS installment_id,
		       row_number() OVER (PARTITION BY p.customer_id ORDER BY nx.due_date NULLS LAST, p.id DESC) AS rn
		FROM plans p
		LEFT JOIN (
			SELECT plan_id, id, due_date FROM (
				SELECT i.plan_id, i.id, i.due_date,
				       row_number() OVER (PARTITION BY i.plan_id ORDER BY i.due_date, i.seq) AS rn
				FROM installments i JOIN plans ip ON ip.id = i.plan_id
				WHERE $5 AND i.status = 'pending' AND i.paid < i.amount
				  AND ip.status = 'active' AND ip.customer_id IN (%[1]s))
			WHERE rn = 1) nx ON nx.plan_id = p.id
		WHERE $4 AND p.status = 'active' AND p.customer_id IN (%[1]s)
		  AND ($9 = '[]' OR p.id IN (SELECT value FROM json_each($9))))
	WHERE rn = 1`

// scanEventTargetSQL is each scope's target query.
var scanEventTargetSQL = map[string]string{
	// The plan and its customer; the installment in $7, else the next unpaid one.
	repo.ScopePlan: `
	SELECT p.customer_id, p.id AS plan_id,
	       (SELECT i.id FROM installments i
	        WHERE $5 AND i.plan_id = p.id
	          AND CASE WHEN $7 > 0 THEN i.seq = $7 ELSE i.status = 'pending' AND i.paid < i.amount END
	        ORDER BY i.due_date, i.seq LIMIT 1) AS installment_id
	FROM ev JOIN plans p ON p.id = ev.plan_id
	WHERE NOT $6 OR p.status = 'active'`,
	repo.ScopeCustomer: `
	SELECT ev.customer_id, pk.plan_id, pk.installment_id
	FROM ev LEFT JOIN (` + fmt.Sprintf(scanPickPlanSQL, `SELECT customer_id FROM ev`) + `) pk ON pk.customer_id = ev.customer_id`,
	repo.ScopeAll: `
	SELECT c.id AS customer_id, pk.plan_id, pk.installment_id
	FROM customers c
	LEFT JOIN (` + fmt.Sprintf(scanPickPlanSQL, `SELECT customer_id FROM plans WHERE status = 'active'`) + `) pk ON pk.customer_id = c.id
	WHERE EXISTS (SELECT 1 FROM plans ap WHERE ap.customer_id = c.id AND ap.status = 'active')`,
}

// QueueEventNotices runs scanEventNoticeSQL for one event and counts what
// it queued by kind, channel and first status, in that order.
func (t scanEventTx) QueueEventNotices(ctx context.Context, ev *repo.ClaimedEvent, rule repo.EventRule, seq int, now time.Time,
	channels []string, plans []int64) ([]repo.QueuedCount, error) {
	ch, err := json.Marshal(channels)
	if err != nil {
		return nil, err
	}
	if plans == nil {
		plans = []int64{} // "[]", not "null"
	}
	only, err := json.Marshal(plans)
	if err != nil {
		return nil, err
	}
	rows, err := t.tx.QueryContext(ctx, fmt.Sprintf(scanEventNoticeSQL, scanEventTargetSQL[ev.Scope]),
		ev.ID, now, string(ch), rule.PickPlan, rule.Installment, rule.NeedsActivePlan, seq, rule.NeedsInstallment,
		string(only))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct{ kind, channel, status string }
	counts := map[key]int{}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.kind, &k.channel, &k.status); err != nil {
			return nil, err
		}
		counts[k]++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]repo.QueuedCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, repo.QueuedCount{Kind: k.kind, Channel: k.channel, Status: k.status, Count: n})
	}
	slices.SortFunc(out, func(a, b repo.QueuedCount) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Status, b.Status))
	})
	return out, nil
}

func scanExecCount(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (int, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
