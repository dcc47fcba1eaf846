package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// receiptsMatchSQL finds the SMS notice a receipt speaks of: by the
// provider's message id ($1 provider, $2 id), else by our out-id ($3) as
// long as the notice's provider and message id, once known, do not
// contradict it. The two ways are two index lookups (a UNION rather than an
// OR, so the partial message-id index serves the first); a match by
// message id comes first.
const receiptsMatchSQL = `
SELECT id, status, attempts FROM (
	SELECT id, status, attempts, provider_msg_id FROM notifications
	WHERE $2 <> '' AND provider_msg_id <> '' AND provider = $1 AND provider_msg_id = $2 AND channel = 'sms'
	UNION ALL
	SELECT id, status, attempts, provider_msg_id FROM notifications
	WHERE id = $3 AND channel = 'sms' AND provider IN ('', $1)
	  AND (provider_msg_id = '' OR $2 = '' OR provider_msg_id = $2)
)
ORDER BY ($2 <> '' AND provider_msg_id = $2) DESC, id
LIMIT 1`

// receiptsApplySQL moves notice $1 by receipt $2 (aliased rc): delivered
// wins over sent and undelivered, and over a retry still pending after an
// unanswered try (repo.ReceiptSettlesRetrySQL); undelivered only replaces
// sent. A delivered notice never changes again.
const receiptsApplySQL = `
UPDATE notifications AS n SET status = rc.status, status_reason = ` + repo.ReceiptReasonSQL + `,
	delivery_code = rc.code, updated_at = $3,
	delivered_at = CASE WHEN rc.status = 'delivered' THEN coalesce(rc.reported_at, $3) ELSE n.delivered_at END,
	sent_at = CASE WHEN rc.status = 'delivered' THEN coalesce(n.sent_at, rc.reported_at, $3) ELSE n.sent_at END,
	provider = CASE WHEN n.provider = '' THEN rc.provider ELSE n.provider END,
	provider_msg_id = CASE WHEN n.provider_msg_id = '' THEN rc.provider_msg_id ELSE n.provider_msg_id END
FROM sms_receipts AS rc
WHERE n.id = $1 AND rc.id = $2 AND (
	(rc.status = 'delivered' AND (n.status IN ('sent', 'undelivered') OR ` + repo.ReceiptSettlesRetrySQL + `))
	OR (rc.status = 'undelivered' AND n.status = 'sent'))
RETURNING status`

// receiptsInsertSQL stores one receipt and returns its id; no row when
// the same receipt is stored already (the unique index sms_receipts_once,
// migration 002: the same provider reporting the same outcome at the same
// time for the same message).
const receiptsInsertSQL = `
INSERT INTO sms_receipts (provider, provider_msg_id, out_id, status, provider_status, code, description,
                          reported_at, received_at, notification_id, applied_at, raw)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT DO NOTHING RETURNING id`

// receiptsCopySQL finds the receipt stored before that a receipt posted
// again is the same as ($1 provider, $2 message id, $3 out-id, $4 status,
// $5 the provider's status, $6 code, $7 reported time), and gives it what
// the copy learned when it knew nothing of it yet: the notice matched ($8)
// and that it was applied ($9). It returns its id.
const receiptsCopySQL = `
UPDATE sms_receipts SET notification_id = coalesce(notification_id, $8), applied_at = coalesce(applied_at, $9)
WHERE provider = $1 AND provider_msg_id = $2 AND out_id = $3 AND status = $4 AND provider_status = $5 AND code = $6
  AND coalesce(reported_at, '') = coalesce($7, '') AND (provider_msg_id <> '' OR out_id <> '')
RETURNING id`

// recordReceipts is the SQLite store's repo.Dialect.RecordReceipts: the
// receipts one at a time through statements prepared for the chunk
// (parsing them again for each receipt took most of the time), in the
// chunk's transaction, which nothing can come between: the store's writes
// are serialized. A receipt stored before is not stored again; it is
// weighed against its notice all the same, as the PostgreSQL store does.
func recordReceipts(ctx context.Context, tx *sqlx.Tx, ins []repo.Receipt, now time.Time, res []repo.ReceiptResult) error {
	var stmts [4]*sqlx.Stmt
	for i, q := range []string{receiptsMatchSQL, receiptsInsertSQL, receiptsApplySQL, receiptsCopySQL} {
		st, err := tx.PreparexContext(ctx, q)
		if err != nil {
			return fmt.Errorf("record receipts: %w", err)
		}
		defer st.Close()
		stmts[i] = st
	}
	match, insert, apply, copied := stmts[0], stmts[1], stmts[2], stmts[3]
	for i, in := range ins {
		var n struct {
			ID       int64  `db:"id"`
			Status   string `db:"status"`
			Attempts int    `db:"attempts"`
		}
		err := match.GetContext(ctx, &n, in.Provider, in.ProviderMsgID, in.OutNotificationID())
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("match receipt: %w", err)
		}
		var notif *int64
		if err == nil {
			notif = &n.ID
		}
		// Left unapplied: a receipt we may still match or apply later.
		waiting := repo.ReceiptWaits(in.Status, notif != nil, n.Status, n.Attempts)
		var applied *time.Time
		if !waiting {
			applied = &now
		}
		res[i] = repo.ReceiptResult{NotificationID: n.ID, Status: n.Status, Deferred: waiting && notif != nil}
		err = insert.GetContext(ctx, &res[i].ReceiptID, in.Provider, in.ProviderMsgID, in.OutID, in.Status,
			in.ProviderStatus, in.Code, in.Description, in.ReportedAt, now, notif, applied, in.Raw)
		if errors.Is(err, sql.ErrNoRows) { // posted again
			res[i].Duplicate = true
			err = copied.GetContext(ctx, &res[i].ReceiptID, in.Provider, in.ProviderMsgID, in.OutID, in.Status,
				in.ProviderStatus, in.Code, in.ReportedAt, notif, applied)
		}
		if err != nil {
			return fmt.Errorf("store receipt: %w", err)
		}
		if notif == nil || waiting || in.Status == repo.ReceiptProgress {
			continue
		}
		var status string
		err = apply.GetContext(ctx, &status, n.ID, res[i].ReceiptID, now)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue // a duplicate, or older news than the notice's status
		case err != nil:
			return fmt.Errorf("apply receipt: %w", err)
		}
		res[i].Status, res[i].Applied = status, true
		if status == repo.ReceiptDelivered && n.Status == repo.StatusUndelivered { // only an undelivered SMS has a fallback
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = 'suppressed', status_reason = $2, updated_at = $3
				WHERE fallback_of = $1 AND status = 'pending'`, n.ID, repo.ReasonFallbackWithdrawn, now); err != nil {
				return fmt.Errorf("withdraw fallbacks: %w", err)
			}
		}
	}
	return nil
}
