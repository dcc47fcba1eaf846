package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"duebell/kinds"
	"duebell/repo"
)

// supportBulkCandidatesSQL fills the transaction's temporary table with
// every notice the filter matches and why it is skipped ("" = resend it).
// Within one action a thing is resent once: matched notices about the same
// installment (reminders of every stage count as one) or event, to the same
// customer on the same channel, collapse to the newest. $7 and $8 are JSON
// arrays: kinds.AsksPayment and kinds.Reminders. The matched notices carry
// their channel as ch for repo.SuppressReasonSQL. The window on updated_at
// reads notifications_status_updated.
var supportBulkCandidatesSQL = `
INSERT INTO support_resend_candidates (id, skip)
SELECT id, CASE
		WHEN rn > 1 THEN 'duplicate'
		WHEN settled <> '' THEN settled
		WHEN unreachable <> '' THEN unreachable
		WHEN resent THEN 'already resent'
		ELSE '' END
FROM (
	SELECT n.id, ` + supportSettledSQL("$7") + ` AS settled,
		` + repo.SuppressReasonSQL + ` AS unreachable,
		` + repo.ResentSQL + ` AS resent,
		row_number() OVER (
			PARTITION BY n.customer_id, n.channel, coalesce(n.installment_id, 0), coalesce(n.event_id, 0),
			             CASE WHEN n.kind IN (SELECT value FROM json_each($8)) THEN 'reminder' ELSE n.kind END
			ORDER BY n.id DESC) AS rn
	FROM (SELECT *, channel AS ch FROM notifications
	      WHERE status = $1 AND ($2 = '' OR channel = $2) AND ($3 = '' OR kind = $3)
	        AND ($4 = '' OR provider = $4) AND updated_at >= $5 AND updated_at < $6) n
	JOIN customers c ON c.id = n.customer_id
	LEFT JOIN plans p ON p.id = n.plan_id
	LEFT JOIN installments i ON i.id = n.installment_id
) m`

// supportBulkInsertSQL queues every resend in one statement, in the
// originals' id order, on the original's channel. (The PostgreSQL store
// batches; SQLite writes the file under one lock either way.)
var supportBulkInsertSQL = `
INSERT INTO notifications (` + supportResendColumns + `)
SELECT ` + supportResendSelect + `
FROM support_resend_candidates rc
JOIN notifications n ON n.id = rc.id
WHERE rc.skip = ''
ORDER BY rc.id`

// ResendMatching resends every notice matching in.Filter, or on a dry run
// reports what it would do. The real run is one transaction and one audited
// action (a single audit_log row with the filter, reason and counts); a dry
// run runs the same statements and rolls back, so its count is the real
// run's. Writers are serialized, so two bulk resends at once never resend
// the same notice twice: the second sees the first's resends.
func (s *Store) ResendMatching(ctx context.Context, in repo.BulkResendInput) (repo.BulkResendResult, error) {
	if err := in.Prepare(); err != nil {
		return repo.BulkResendResult{}, err
	}
	asks, err := json.Marshal(kinds.AsksPayment())
	if err != nil {
		return repo.BulkResendResult{}, fmt.Errorf("bulk resend: %w", err)
	}
	reminders, err := json.Marshal(kinds.Reminders())
	if err != nil {
		return repo.BulkResendResult{}, fmt.Errorf("bulk resend: %w", err)
	}
	f := in.Filter
	res := repo.NewBulkResendResult(in.DryRun)
	err = s.withTx(ctx, func(tx *sqlx.Tx) error {
		// A temporary table lives with the connection: drop any left behind,
		// and drop this one before committing (a rollback undoes its creation).
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS temp.support_resend_candidates`); err != nil {
			return fmt.Errorf("bulk resend: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TEMPORARY TABLE support_resend_candidates
			(id INTEGER PRIMARY KEY, skip TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("bulk resend: %w", err)
		}
		if _, err := tx.ExecContext(ctx, supportBulkCandidatesSQL, f.Status, f.Channel, f.Kind, f.Provider,
			f.Since, f.Until, string(asks), string(reminders), in.Reason); err != nil {
			return fmt.Errorf("bulk resend: select: %w", err)
		}
		if err := repo.BulkCounts(ctx, tx, "support_resend_candidates", &res); err != nil {
			return err
		}
		if in.DryRun {
			return repo.ErrDryRun
		}
		r, err := tx.ExecContext(ctx, supportBulkInsertSQL, in.Now, in.Actor, in.Reason, false, "")
		if err != nil {
			return fmt.Errorf("bulk resend: queue: %w", err)
		}
		queued, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("bulk resend: queue: %w", err)
		}
		if err := res.CheckQueued(int(queued)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE temp.support_resend_candidates`); err != nil {
			return fmt.Errorf("bulk resend: %w", err)
		}
		return s.Audit(ctx, tx, in.Now, in.Actor, repo.ActionBulkResend, "notifications", res.AuditDetail(f, in.Reason))
	})
	if err != nil && !errors.Is(err, repo.ErrDryRun) {
		return repo.BulkResendResult{}, err
	}
	return res, nil
}
