package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"duebell/kinds"

	"github.com/jmoiron/sqlx"
)

// A plan push may carry as_of: when the lender read the data in it. A push
// read before something duebell already knows of the plan is stale: a
// payment or reversal recorded since (a push built before a chargeback
// would settle the reopened bill again), or a push written since with a
// later as_of. Both stores refuse it, single or imported, with the rules
// of this file.

// LastRecorded is the payment or reversal recorded last on a plan: last
// by the instant duebell recorded it (payments.created_at, its clock), not
// by when the lender says it was paid (paid_at, which a bank return may
// date days back).
type LastRecorded struct {
	PlanID     int64     `db:"plan_id"`
	Seq        int       `db:"seq"`
	Ref        *string   `db:"ref"`
	Amount     int64     `db:"amount"`
	RecordedAt time.Time `db:"created_at"`
}

// LastRecordedSQL reads plan $1's LastRecorded, in both stores.
const LastRecordedSQL = `
SELECT i.plan_id, i.seq, y.ref, y.amount, y.created_at
FROM payments y JOIN installments i ON i.id = y.installment_id
WHERE i.plan_id = $1
ORDER BY y.created_at DESC, y.id DESC LIMIT 1`

// LastEvent is the channel event recorded last (by received_at, duebell's
// clock, as LastRecorded) of those processed that may have changed a plan:
// a card unbound or bound for its customer or for it, the plan cancelled.
// A push read before it would undo it (a cancelled plan active and
// reminded again, an unbound card's bills said to be auto-debited).
type LastEvent struct {
	PlanID     int64     `db:"plan_id"`
	Ref        string    `db:"ref"`
	Kind       string    `db:"kind"`
	RecordedAt time.Time `db:"received_at"`
}

// LastEventsSQL reads the LastEvent of each plan whose id is planIn ("= $1",
// or a store's test of membership in the list $1), in both stores.
func LastEventsSQL(planIn string) string {
	return `
SELECT plan_id, ref, kind, received_at FROM (
	SELECT p.id AS plan_id, e.ref, e.kind, e.received_at,
		row_number() OVER (PARTITION BY p.id ORDER BY e.received_at DESC, e.id DESC) AS n
	FROM plans p JOIN channel_events e ON e.customer_id = p.customer_id AND (e.scope = 'customer' OR e.plan_id = p.id)
	WHERE p.id ` + planIn + ` AND e.processed_at IS NOT NULL
	  AND e.kind IN ('` + strings.Join(kinds.ChangesPlan(), "', '") + `')) x
WHERE n = 1`
}

// latest reads the one row of query (a LastRecorded or a LastEvent of a
// plan) into a T; nil when there is none.
func latest[T any](ctx context.Context, q sqlx.QueryerContext, query string, planID int64) (*T, error) {
	var last T
	err := sqlx.GetContext(ctx, q, &last, query, planID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("check as_of: %w", err)
	}
	return &last, nil
}

// CheckAsOf refuses (ErrStale) a push whose as_of is older than the last
// payment or reversal recorded on its plan (last, nil for none), than the
// last channel event that may have changed it (event, nil for none) or
// than the as_of stored on the plan (stored, nil for none): the message
// names what it lost to and when, the payment first (it is what the push
// would undo). A push without as_of (nil) is not checked; one as old as what it
// is checked against passes (a retried push).
func CheckAsOf(asOf, stored *time.Time, last *LastRecorded, event *LastEvent) error {
	if asOf == nil {
		return nil
	}
	if last != nil && asOf.Before(last.RecordedAt) {
		what := "payment"
		if last.Amount < 0 {
			what = "reversal"
		}
		if last.Ref != nil {
			what += fmt.Sprintf(" %q", *last.Ref)
		} else {
			what = "a " + what
		}
		return fmt.Errorf("as_of %s is older than %s on installment %d, recorded at %s; "+
			"read the plan again and push it with a new as_of: %w",
			formatAsOf(*asOf), what, last.Seq, formatAsOf(last.RecordedAt), ErrStale)
	}
	if event != nil && asOf.Before(event.RecordedAt) {
		return fmt.Errorf("as_of %s is older than event %q (%s), recorded at %s; "+
			"read the plan again and push it with a new as_of: %w",
			formatAsOf(*asOf), event.Ref, event.Kind, formatAsOf(event.RecordedAt), ErrStale)
	}
	if stored != nil && asOf.Before(*stored) {
		return fmt.Errorf("as_of %s is older than the as_of of the last push written for the plan, %s; "+
			"read the plan again and push it with a new as_of: %w",
			formatAsOf(*asOf), formatAsOf(*stored), ErrStale)
	}
	return nil
}

func formatAsOf(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
