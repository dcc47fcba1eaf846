package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// scanPurgeSteps remove one batch of finished notices ($1: their ids, a
// JSON array) and what hangs off them; newer notices that point at one (a
// resend, a fallback, a digest's member) keep their row and lose the link.
// They run in one transaction, so a notice goes entirely or not at all.
var scanPurgeSteps = []struct {
	count func(*repo.Purged) *int // nil: not counted
	query string
}{
	{func(p *repo.Purged) *int { return &p.Attempts },
		`DELETE FROM delivery_attempts WHERE notification_id IN (SELECT value FROM json_each($1))`},
	{func(p *repo.Purged) *int { return &p.Receipts },
		`DELETE FROM sms_receipts WHERE notification_id IN (SELECT value FROM json_each($1))`},
	{func(p *repo.Purged) *int { return &p.IdempotencyKeys },
		`DELETE FROM idempotency_keys WHERE notification_id IN (SELECT value FROM json_each($1))`},
	{nil, `UPDATE notifications SET resend_of = NULL
		WHERE resend_of IN (SELECT value FROM json_each($1)) AND id NOT IN (SELECT value FROM json_each($1))`},
	{nil, `UPDATE notifications SET fallback_of = NULL
		WHERE fallback_of IN (SELECT value FROM json_each($1)) AND id NOT IN (SELECT value FROM json_each($1))`},
	{nil, `UPDATE notifications SET digest_of = NULL
		WHERE digest_of IN (SELECT value FROM json_each($1)) AND id NOT IN (SELECT value FROM json_each($1))`},
	{func(p *repo.Purged) *int { return &p.Notifications },
		`DELETE FROM notifications WHERE id IN (SELECT value FROM json_each($1))`},
}

// PurgeFinished removes, in batches of batch rows each in its own
// transaction, the finished notices last changed before before and what
// hangs off them, then receipts and idempotency keys older than that (see
// repo.Repo.PurgeFinished). Writers are serialized in the process, so no
// other cleaner interleaves (no ErrBusy).
func (s *Store) PurgeFinished(ctx context.Context, before time.Time, batch int) (repo.Purged, error) {
	statuses, err := json.Marshal(repo.FinishedStatuses)
	if err != nil {
		return repo.Purged{}, fmt.Errorf("purge: %w", err)
	}
	// Each step removes one batch and says whether a full batch was found.
	steps := []func(tx *sqlx.Tx) (repo.Purged, bool, error){
		func(tx *sqlx.Tx) (repo.Purged, bool, error) {
			var p repo.Purged
			var ids []int64
			if err := tx.SelectContext(ctx, &ids, `SELECT id FROM notifications n
				WHERE status IN (SELECT value FROM json_each($1)) AND updated_at < $2
				AND NOT `+repo.KeepsStageSQL+` LIMIT $3`,
				string(statuses), before, batch); err != nil {
				return p, false, err
			}
			if len(ids) == 0 {
				return p, false, nil
			}
			idJSON, err := json.Marshal(ids)
			if err != nil {
				return p, false, err
			}
			for _, st := range scanPurgeSteps {
				n, err := scanExecCount(ctx, tx, st.query, string(idJSON))
				if err != nil {
					return p, false, err
				}
				if st.count != nil {
					*st.count(&p) += n
				}
			}
			return p, p.Notifications == batch, nil
		},
		func(tx *sqlx.Tx) (repo.Purged, bool, error) {
			var p repo.Purged
			var err error
			if p.Receipts, err = scanExecCount(ctx, tx, `DELETE FROM sms_receipts WHERE id IN (
				SELECT id FROM sms_receipts WHERE notification_id IS NULL AND received_at < $1 LIMIT $2)`, before, batch); err != nil {
				return p, false, err
			}
			if p.IdempotencyKeys, err = scanExecCount(ctx, tx, `DELETE FROM idempotency_keys WHERE rowid IN (
				SELECT rowid FROM idempotency_keys WHERE notification_id IS NULL AND created_at < $1 LIMIT $2)`, before, batch); err != nil {
				return p, false, err
			}
			return p, p.Receipts == batch || p.IdempotencyKeys == batch, nil
		},
	}
	var total repo.Purged
	for _, step := range steps {
		for more := true; more; {
			var got repo.Purged
			if err := s.withTx(ctx, func(tx *sqlx.Tx) error {
				var err error
				if got, more, err = step(tx); err != nil {
					return fmt.Errorf("purge: %w", err)
				}
				return nil
			}); err != nil {
				return total, err
			}
			total.Add(got)
		}
	}
	return total, nil
}
