package repo

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// deleteCustomersSQL removes customers by ref with everything recorded
// about them, children first, in one transaction. It first waits for the
// transactions writing notices and holds new ones off: the delete of a
// customer waits for them anyway (migration 049), and waiting then, with
// notice rows already locked, could deadlock with a dispatcher's finish.
var deleteCustomersSQL = []string{
	`LOCK TABLE notifications IN SHARE ROW EXCLUSIVE MODE`,
	`CREATE TEMPORARY TABLE gone_notices ON COMMIT DROP AS
		SELECT id FROM notifications WHERE customer_id = ANY(SELECT id FROM customers WHERE ref = ANY($1))`,
	`DELETE FROM delivery_attempts WHERE notification_id IN (SELECT id FROM gone_notices)`,
	`UPDATE sms_receipts SET notification_id = NULL WHERE notification_id IN (SELECT id FROM gone_notices)`,
	`DELETE FROM idempotency_keys WHERE notification_id IN (SELECT id FROM gone_notices)`,
	`UPDATE notifications SET resend_of = NULL, fallback_of = NULL WHERE id IN (SELECT id FROM gone_notices)`,
	`DELETE FROM notifications WHERE id IN (SELECT id FROM gone_notices)`,
	`DELETE FROM payments WHERE installment_id IN (SELECT i.id FROM installments i JOIN plans p ON p.id = i.plan_id
		JOIN customers c ON c.id = p.customer_id WHERE c.ref = ANY($1))`,
	`DELETE FROM installments WHERE plan_id IN (SELECT p.id FROM plans p JOIN customers c ON c.id = p.customer_id WHERE c.ref = ANY($1))`,
	`DELETE FROM channel_events WHERE customer_id IN (SELECT id FROM customers WHERE ref = ANY($1))`,
	`DELETE FROM plans WHERE customer_id IN (SELECT id FROM customers WHERE ref = ANY($1))`,
	`DELETE FROM customers WHERE ref = ANY($1)`,
}

// DeleteCustomers removes the customers with these refs, their plans,
// installments, payments, events, notices and delivery attempts (receipts
// stay, unmatched). It is how `duebell demo --reset` starts the demo over;
// it returns how many customers it removed.
func (r *Repo) DeleteCustomers(ctx context.Context, refs []string) (int, error) {
	var n int
	err := r.withTx(ctx, func(tx *sqlx.Tx) error {
		for i, q := range deleteCustomersSQL {
			var args []any
			if strings.Contains(q, "$1") {
				args = []any{pq.Array(refs)}
			}
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return fmt.Errorf("delete customers: %w", err)
			}
			if i == len(deleteCustomersSQL)-1 {
				rows, _ := res.RowsAffected()
				n = int(rows)
			}
		}
		return nil
	})
	return n, err
}
