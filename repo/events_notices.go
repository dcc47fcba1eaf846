package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// eventNoticeSQL queues one event's notices: one per target customer and
// channel, all in one INSERT … SELECT whatever the scope (scope all fans out
// to every customer with an active plan without a row loop). %s is the
// scope's target query, giving t(customer_id, plan_id, installment_id).
//
//	$1 event id, $2 now, $3 channels, $4 pick a plan, $5 name the next unpaid
//	installment, $6 needs an active plan, $7 installment seq (0 = next unpaid),
//	$8 needs an installment, $9 the plans a picked plan is one of (empty: any)
//
// The first status and reason come from the shared opt-out/address rule; the
// notice may go out from the instant the event occurred (the dispatcher
// applies send windows). ON CONFLICT makes a second run queue nothing.
const eventNoticeSQL = `
WITH ev AS (
	SELECT id, kind, customer_id, plan_id, occurred_at,
	       $4::bool AS pick_plan, $5::bool AS want_installment, $6::bool AS needs_active_plan, $7::int AS seq,
	       $8::bool AS needs_installment, $9::bigint[] AS only_plans
	FROM channel_events WHERE id = $1
), t AS (%s
), ins AS (
	INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, event_id, kind, channel, locale,
	                           status, status_reason, not_before, next_attempt_at, created_at, updated_at)
	SELECT 'event:' || ev.id || ':' || c.id || ':' || ch, c.id, t.plan_id, t.installment_id,
	       ev.id, ev.kind, ch, c.locale, ` + newNoticeStatusSQL + `, reason, ev.occurred_at, ev.occurred_at, $2, $2
	FROM t
	JOIN customers c ON c.id = t.customer_id
	CROSS JOIN ev
	CROSS JOIN (SELECT DISTINCT unnest($3::text[]) AS ch) chans
	CROSS JOIN LATERAL (SELECT ` + suppressReasonSQL + ` AS reason) s
	WHERE (NOT ev.needs_active_plan OR t.plan_id IS NOT NULL)
	  AND (NOT ev.needs_installment OR t.installment_id IS NOT NULL)
	ON CONFLICT (dedup_key) DO NOTHING
	RETURNING kind, channel, status
)
SELECT kind, '' AS stage, channel, status, count(*) AS n FROM ins GROUP BY kind, channel, status ORDER BY kind, channel, status`

// pickPlanSQL chooses, for customer %s, an active plan (one of $9 when it
// lists any: the plans a card event changed); no row unless $4.
// For a kind that names a bill ($5) it is the plan with the earliest unpaid
// installment, and that installment; otherwise, or when nothing is unpaid,
// the newest active plan (card_bound and verification_changed name no bill,
// so which plan hardly matters to the borrower).
const pickPlanSQL = `
		SELECT p.id AS plan_id, nx.id AS installment_id
		FROM plans p
		LEFT JOIN LATERAL (
			SELECT i.id, i.due_date FROM installments i
			WHERE $5 AND i.plan_id = p.id AND i.status = 'pending' AND i.paid < i.amount
			ORDER BY i.due_date, i.seq LIMIT 1) nx ON true
		WHERE $4 AND p.customer_id = %s AND p.status = 'active'
		  AND (cardinality($9::bigint[]) = 0 OR p.id = ANY($9::bigint[]))
		ORDER BY nx.due_date NULLS LAST, p.id DESC
		LIMIT 1`

// eventTargetSQL is each scope's target query.
var eventTargetSQL = map[string]string{
	// The plan and its customer; the installment in $7, else the next unpaid one.
	ScopePlan: `
	SELECT p.customer_id, p.id AS plan_id,
	       (SELECT i.id FROM installments i
	        WHERE $5 AND i.plan_id = p.id
	          AND CASE WHEN $7 > 0 THEN i.seq = $7 ELSE i.status = 'pending' AND i.paid < i.amount END
	        ORDER BY i.due_date, i.seq LIMIT 1) AS installment_id
	FROM ev JOIN plans p ON p.id = ev.plan_id
	WHERE NOT $6 OR p.status = 'active'`,
	ScopeCustomer: `
	SELECT ev.customer_id, pk.plan_id, pk.installment_id
	FROM ev LEFT JOIN LATERAL (` + fmt.Sprintf(pickPlanSQL, "ev.customer_id") + `) pk ON true`,
	ScopeAll: `
	SELECT c.id AS customer_id, pk.plan_id, pk.installment_id
	FROM customers c
	LEFT JOIN LATERAL (` + fmt.Sprintf(pickPlanSQL, "c.id") + `) pk ON true
	WHERE EXISTS (SELECT 1 FROM plans ap WHERE ap.customer_id = c.id AND ap.status = 'active')`,
}

// QueueEventNotices runs eventNoticeSQL for one event.
func (t pgEventTx) QueueEventNotices(ctx context.Context, ev *ClaimedEvent, rule EventRule, seq int, now time.Time,
	channels []string, plans []int64) ([]QueuedCount, error) {
	var counts []QueuedCount
	if plans == nil {
		plans = []int64{} // an empty array, not NULL: cardinality(NULL) is NULL
	}
	err := t.tx.SelectContext(ctx, &counts, fmt.Sprintf(eventNoticeSQL, eventTargetSQL[ev.Scope]),
		ev.ID, now, pq.Array(channels), rule.PickPlan, rule.Installment, rule.NeedsActivePlan, seq, rule.NeedsInstallment,
		pq.Array(plans))
	return counts, err
}
