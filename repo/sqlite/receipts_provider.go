package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// OptOutSMS sets the customer's SMS opt-out with its reason and audits it,
// in one transaction. It reports false, and audits nothing, when the
// customer had already opted out (or does not exist).
func (s *Store) OptOutSMS(ctx context.Context, in repo.OptOutSMSInput) (bool, error) {
	changed := false
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		changed = false
		var ref string
		err := tx.GetContext(ctx, &ref, `
			UPDATE customers SET sms_opt_out = 1, sms_opt_out_reason = $2, updated_at = $3
			 WHERE id = $1 AND NOT sms_opt_out
			RETURNING ref`, in.CustomerID, in.Reason, in.Now)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // opted out already, or no such customer
		}
		if err != nil {
			return err
		}
		changed = true
		e, err := in.AuditEntry(ref)
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, e.At, e.Actor, e.Action, e.Target, repo.AuditDetailOf(e))
	})
	if err != nil {
		return false, fmt.Errorf("opt out sms: %w", err)
	}
	return changed, nil
}
