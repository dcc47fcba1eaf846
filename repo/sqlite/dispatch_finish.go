package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// dispatchAttemptSQL logs one try, unless it is logged already (an outcome
// group written again after an error the write survived; see repo's
// attemptsSQL).
const dispatchAttemptSQL = `
INSERT INTO delivery_attempts (notification_id, n, channel, provider, started_at, finished_at, outcome,
                               provider_msg_id, code, error)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
WHERE NOT EXISTS (SELECT 1 FROM delivery_attempts d WHERE d.notification_id = $1 AND d.n = $2
                  AND d.started_at = $5 AND d.outcome = $7)`

// dispatchFinishSQL leaves one notice ($3) as its outcome says, if owner $1
// still holds it under the claim the outcome ends ($18, its attempts then; 0
// not checked): empty content and provider fields keep what the notice
// has, and a deferral gives the claim's attempt back.
var dispatchFinishSQL = `
UPDATE notifications SET
	dedup_key = ` + repo.SettledKeySQL("dedup_key", "id", "$4", "$5") + `,
	status = ` + repo.RequeuedStatusSQL("dedup_key", "$4") + `, status_reason = ` + repo.RequeuedReasonSQL("dedup_key", "$4", "$5") + `,
	next_attempt_at = coalesce($6, next_attempt_at),
	attempts = attempts - CASE WHEN $7 THEN 1 ELSE 0 END,
	template = coalesce(nullif($8, ''), template), recipient = coalesce(nullif($9, ''), recipient),
	subject = coalesce(nullif($10, ''), subject), body = coalesce(nullif($11, ''), body),
	body_html = coalesce(nullif($12, ''), body_html), link = coalesce(nullif($13, ''), link),
	provider = coalesce(nullif($14, ''), provider),
	provider_msg_id = coalesce(nullif($15, ''), provider_msg_id),
	last_error = coalesce(nullif($16, ''), last_error), sent_at = coalesce($17, sent_at),
	lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
WHERE id = $3 AND status = 'sending' AND lease_owner = $1 AND ($18 = 0 OR attempts = $18)`

// FinishNotifications records a batch of outcomes in one transaction: every
// attempt row, and each notice's new state. A notice whose lease was lost to
// another worker, or to a later claim of owner's (repo.Outcome.Claim), keeps
// that claim's state; its attempt is still logged. Where PostgreSQL sends arrays through unnest, this loops over two prepared
// statements inside the transaction, then applies the receipts that arrived
// while the notices recorded as sent were being sent.
func (s *Store) FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	return s.withTx(ctx, func(tx *sqlx.Tx) error {
		logAttempt, err := tx.PreparexContext(ctx, dispatchAttemptSQL)
		if err != nil {
			return fmt.Errorf("log attempts: %w", err)
		}
		defer logAttempt.Close()
		for _, o := range outs {
			a := o.Attempt
			if a == nil {
				continue
			}
			if _, err := logAttempt.ExecContext(ctx, o.ID, a.N, a.Channel, a.Provider, a.StartedAt, a.FinishedAt,
				a.Outcome, a.ProviderMsgID, a.Code, a.Error); err != nil {
				return fmt.Errorf("log attempts: %w", err)
			}
		}
		if err := repo.RecordTold(ctx, tx, owner, now, outs); err != nil {
			return err
		}
		finish, err := tx.PreparexContext(ctx, dispatchFinishSQL)
		if err != nil {
			return fmt.Errorf("finish notifications: %w", err)
		}
		defer finish.Close()
		for _, o := range outs {
			if _, err := finish.ExecContext(ctx, owner, now, o.ID, o.Status, o.Reason, o.NextAt(), o.Deferred,
				o.Template, o.Recipient, o.Subject, o.Body, o.BodyHTML, o.Link, o.Provider, o.ProviderMsgID,
				o.LastError, o.SentAt, o.Claim); err != nil {
				return fmt.Errorf("finish notifications: %w", err)
			}
		}
		if ids := repo.SentIDs(outs); len(ids) > 0 {
			if err := dispatchApplyStoredReceipts(ctx, tx, ids, now); err != nil {
				return fmt.Errorf("apply stored receipts: %w", err)
			}
		}
		return nil
	})
}

// dispatchReceiptCandSQL finds, for the SMS notices $1 (a JSON array of ids)
// just recorded as sent, the receipts that arrived before and were left
// unapplied: by the provider's message id, or by our out-id when the
// receipt's message id does not contradict the notice's and it arrived
// after the notice was queued (one stored before is about another notice
// that had the id: a file restored, another deployment on the gateway).
// Two halves, so each
// reads its own partial index of sms_receipts. The notices are looked up by
// id alone (the unary + keeps the planner off the (status, updated_at) index,
// which would walk every sent notice).
const dispatchReceiptCandSQL = `
WITH sent AS (
	SELECT id, provider, provider_msg_id, created_at FROM notifications
	WHERE id IN (SELECT value FROM json_each($1)) AND +channel = 'sms' AND +status = 'sent'
)
SELECT n.id AS nid, rc.id AS rid, rc.status AS status
FROM sent n JOIN sms_receipts rc
  ON rc.provider_msg_id <> '' AND rc.applied_at IS NULL AND rc.provider_msg_id = n.provider_msg_id
 AND rc.provider = n.provider AND rc.status <> 'progress'
UNION
SELECT n.id, rc.id, rc.status
FROM sent n JOIN sms_receipts rc
  ON rc.out_id <> '' AND rc.applied_at IS NULL AND rc.out_id = CAST(n.id AS TEXT)
 AND rc.provider = n.provider AND rc.status <> 'progress'
 AND (rc.provider_msg_id = '' OR rc.provider_msg_id = n.provider_msg_id)
 AND rc.received_at >= n.created_at
ORDER BY 1, 2`

// dispatchApplyReceiptSQL moves notice $1 by receipt $2 (aliased rc), as
// of $3: the status the receipt reports, with its reason and code.
const dispatchApplyReceiptSQL = `
UPDATE notifications SET status = rc.status,
	status_reason = rc.status || ' per ' || rc.provider || ' receipt' ||
		CASE WHEN rc.code <> '' THEN ' (code ' || rc.code || ')' ELSE '' END,
	delivery_code = rc.code, updated_at = $3,
	delivered_at = CASE WHEN rc.status = 'delivered' THEN coalesce(rc.reported_at, $3) END
FROM (SELECT * FROM sms_receipts WHERE id = $2) rc
WHERE notifications.id = $1`

// dispatchApplyStoredReceipts applies to each notice of ids its best stored
// receipt (delivered wins over undelivered, then the first to arrive), and
// marks every receipt that matched one as applied to it.
func dispatchApplyStoredReceipts(ctx context.Context, tx *sqlx.Tx, ids []int64, now time.Time) error {
	idJSON, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	var cands []struct {
		NID    int64  `db:"nid"`
		RID    int64  `db:"rid"`
		Status string `db:"status"`
	}
	if err := tx.SelectContext(ctx, &cands, dispatchReceiptCandSQL, string(idJSON)); err != nil {
		return err
	}
	if len(cands) == 0 {
		return nil
	}
	best := map[int64]int{} // notice → index in cands
	var order []int64
	claimed := map[int64]bool{} // receipt → matched to a notice already
	for i, c := range cands {
		if claimed[c.RID] {
			continue
		}
		claimed[c.RID] = true
		b, ok := best[c.NID]
		switch {
		case !ok:
			order = append(order, c.NID)
			best[c.NID] = i
		case c.Status == repo.ReceiptDelivered && cands[b].Status != repo.ReceiptDelivered:
			best[c.NID] = i // candidates come by receipt id: the first delivered one
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sms_receipts SET notification_id = $1, applied_at = $2 WHERE id = $3`,
			c.NID, now, c.RID); err != nil {
			return err
		}
	}
	for _, nid := range order {
		if _, err := tx.ExecContext(ctx, dispatchApplyReceiptSQL, nid, cands[best[nid]].RID, now); err != nil {
			return err
		}
	}
	return nil
}
