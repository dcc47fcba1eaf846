package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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

// lastRecorded reads plan planID's LastRecorded; nil when none is.
func lastRecorded(ctx context.Context, q sqlx.QueryerContext, planID int64) (*LastRecorded, error) {
	var last LastRecorded
	err := sqlx.GetContext(ctx, q, &last, LastRecordedSQL, planID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("check as_of: %w", err)
	}
	return &last, nil
}

// CheckAsOf refuses (ErrStale) a push whose as_of is older than the last
// payment or reversal recorded on its plan (last, nil for none) or than
// the as_of stored on the plan (stored, nil for none): the message names
// what it lost to and when, the payment first (it is what the push would
// undo). A push without as_of (nil) is not checked; one as old as what it
// is checked against passes (a retried push).
func CheckAsOf(asOf, stored *time.Time, last *LastRecorded) error {
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
	if stored != nil && asOf.Before(*stored) {
		return fmt.Errorf("as_of %s is older than the as_of of the last push written for the plan, %s; "+
			"read the plan again and push it with a new as_of: %w",
			formatAsOf(*asOf), formatAsOf(*stored), ErrStale)
	}
	return nil
}

func formatAsOf(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
