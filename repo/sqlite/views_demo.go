package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// viewsDeleteCustomersSQL removes the customers whose refs are in the JSON
// array $1 with everything recorded about them, children first, in one
// transaction. PostgreSQL collects the notices in a temporary table; here
// each statement selects them again by customer (notifications_customer):
// nothing adds notices while the write transaction holds the file.
var viewsDeleteCustomersSQL = []string{
	`DELETE FROM delivery_attempts WHERE notification_id IN (SELECT id FROM viewsGoneNotices)`,
	`UPDATE sms_receipts SET notification_id = NULL WHERE notification_id IN (SELECT id FROM viewsGoneNotices)`,
	`DELETE FROM idempotency_keys WHERE notification_id IN (SELECT id FROM viewsGoneNotices)`,
	`UPDATE notifications SET resend_of = NULL, fallback_of = NULL, digest_of = NULL
		WHERE id IN (SELECT id FROM viewsGoneNotices)`,
	`DELETE FROM notifications WHERE id IN (SELECT id FROM viewsGoneNotices)`,
	`DELETE FROM payments WHERE installment_id IN (SELECT i.id FROM installments i JOIN plans p ON p.id = i.plan_id
		WHERE p.customer_id IN (SELECT id FROM viewsGone))`,
	`DELETE FROM installments WHERE plan_id IN (SELECT id FROM plans WHERE customer_id IN (SELECT id FROM viewsGone))`,
	`DELETE FROM channel_events WHERE customer_id IN (SELECT id FROM viewsGone)`,
	`DELETE FROM plans WHERE customer_id IN (SELECT id FROM viewsGone)`,
	`DELETE FROM customers WHERE id IN (SELECT id FROM viewsGone)`, // opt-out history cascades
}

// viewsGoneCTE names the customers ($1) and their notices for each statement.
const viewsGoneCTE = `WITH viewsGone AS (SELECT id FROM customers WHERE ref IN (SELECT value FROM json_each($1))),
viewsGoneNotices AS (SELECT id FROM notifications WHERE customer_id IN (SELECT id FROM viewsGone))
`

// DeleteCustomers removes the customers with these refs, their plans,
// installments, payments, events, notices and delivery attempts (receipts
// stay, unmatched). It is how `duebell demo --reset` starts the demo over;
// it returns how many customers it removed.
func (s *Store) DeleteCustomers(ctx context.Context, refs []string) (int, error) {
	if refs == nil {
		refs = []string{}
	}
	refsJSON, err := json.Marshal(refs)
	if err != nil {
		return 0, fmt.Errorf("delete customers: %w", err)
	}
	var n int
	err = s.withTx(ctx, func(tx *sqlx.Tx) error {
		for i, q := range viewsDeleteCustomersSQL {
			res, err := tx.ExecContext(ctx, viewsGoneCTE+q, string(refsJSON))
			if err != nil {
				return fmt.Errorf("delete customers: %w", err)
			}
			if i == len(viewsDeleteCustomersSQL)-1 {
				rows, _ := res.RowsAffected()
				n = int(rows)
			}
		}
		return nil
	})
	return n, err
}
