package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
)

// Receipt statuses, as stored in sms_receipts.status.
const (
	ReceiptDelivered   = "delivered"
	ReceiptUndelivered = "undelivered"
	// ReceiptProgress is an intermediate report (Twilio's queued, sent, …):
	// stored, never applied to a notice.
	ReceiptProgress = "progress"
)

// Receipt is one delivery report from an SMS provider.
type Receipt struct {
	ID             int64      `db:"id" json:"id"`
	Provider       string     `db:"provider" json:"provider"`
	ProviderMsgID  string     `db:"provider_msg_id" json:"provider_msg_id,omitempty"`
	OutID          string     `db:"out_id" json:"out_id,omitempty"` // our notification id, when the provider echoes it
	Status         string     `db:"status" json:"status"`           // delivered, undelivered, progress
	ProviderStatus string     `db:"provider_status" json:"provider_status,omitempty"`
	Code           string     `db:"code" json:"code,omitempty"` // the carrier's code
	Description    string     `db:"description" json:"description,omitempty"`
	ReportedAt     *time.Time `db:"reported_at" json:"reported_at,omitempty"`
	ReceivedAt     time.Time  `db:"received_at" json:"received_at"`
	NotificationID *int64     `db:"notification_id" json:"notification_id,omitempty"`
	AppliedAt      *time.Time `db:"applied_at" json:"applied_at,omitempty"`
	Raw            string     `db:"raw" json:"-"`
}

// ReceiptResult is what recording one receipt did.
type ReceiptResult struct {
	ReceiptID      int64
	NotificationID int64  // 0: no notice matched; the receipt is stored unmatched
	Status         string // the notice's status afterwards, "" when unmatched
	Applied        bool   // the receipt changed the notice's status
	// Deferred: the notice is still being sent (or retried); the receipt is
	// applied when the dispatcher records the notice as sent.
	Deferred bool
}

// receiptReasonSQL is the status_reason a receipt leaves, from columns
// status, provider and code of the row aliased rc.
const receiptReasonSQL = `rc.status || ' per ' || rc.provider || ' receipt' ||
	CASE WHEN rc.code <> '' THEN ' (code ' || rc.code || ')' ELSE '' END`

// matchReceiptSQL finds and locks the SMS notice a receipt speaks of: by the
// provider's message id ($1 provider, $2 id), else by our out-id ($3) as long
// as the notice's provider and message id, once known, do not contradict it.
const matchReceiptSQL = `
SELECT id, status, attempts FROM notifications
WHERE channel = 'sms' AND (
	($2 <> '' AND provider = $1 AND provider_msg_id = $2)
	OR (id = $3 AND provider IN ('', $1) AND (provider_msg_id = '' OR $2 = '' OR provider_msg_id = $2)))
ORDER BY ($2 <> '' AND provider_msg_id = $2) DESC, id
LIMIT 1
FOR NO KEY UPDATE`

// applyReceiptSQL moves notice $1 by receipt $2 (aliased rc): delivered
// wins over sent and undelivered, and over a retry still pending after a
// failed try (that try did reach the phone); undelivered only replaces sent.
// A delivered notice never changes again.
const applyReceiptSQL = `
UPDATE notifications n SET status = rc.status, status_reason = ` + receiptReasonSQL + `,
	delivery_code = rc.code, updated_at = $3,
	delivered_at = CASE WHEN rc.status = 'delivered' THEN coalesce(rc.reported_at, $3) ELSE n.delivered_at END,
	sent_at = CASE WHEN rc.status = 'delivered' THEN coalesce(n.sent_at, rc.reported_at, $3) ELSE n.sent_at END,
	provider = CASE WHEN n.provider = '' THEN rc.provider ELSE n.provider END,
	provider_msg_id = CASE WHEN n.provider_msg_id = '' THEN rc.provider_msg_id ELSE n.provider_msg_id END
FROM sms_receipts rc
WHERE n.id = $1 AND rc.id = $2 AND (
	(rc.status = 'delivered' AND (n.status IN ('sent', 'undelivered') OR (n.status = 'pending' AND n.attempts > 0)))
	OR (rc.status = 'undelivered' AND n.status = 'sent'))
RETURNING n.status`

// RecordReceipt stores one receipt and applies it to the notice it matches.
// Receipts may come twice, late, out of order, or before the dispatcher has
// recorded the notice as sent; none of that loses or regresses a status:
// a receipt for a notice still being sent is kept and applied by
// FinishNotifications. A receipt that matches nothing is stored unmatched
// and may still be matched by a later FinishNotifications.
func (q Common) RecordReceipt(ctx context.Context, in Receipt, now time.Time) (ReceiptResult, error) {
	if err := in.Validate(); err != nil {
		return ReceiptResult{}, err
	}
	outID := in.OutNotificationID()
	var res ReceiptResult
	err := q.withTx(ctx, func(tx *sqlx.Tx) error {
		// Serializes with FinishNotifications writing this message id: one
		// of the two always sees the other's row.
		if in.ProviderMsgID != "" && q.d.LockReceipt != nil {
			if err := q.d.LockReceipt(ctx, tx, in.Provider, in.ProviderMsgID); err != nil {
				return fmt.Errorf("receipt lock: %w", err)
			}
		}
		var n struct {
			ID       int64  `db:"id"`
			Status   string `db:"status"`
			Attempts int    `db:"attempts"`
		}
		err := tx.GetContext(ctx, &n, q.d.ReceiptMatchSQL, in.Provider, in.ProviderMsgID, outID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("match receipt: %w", err)
		}
		var notif *int64
		if err == nil {
			notif, res.NotificationID, res.Status = &n.ID, n.ID, n.Status
		}
		// Left unapplied: a receipt we may still match or apply later.
		waiting := ReceiptWaits(in.Status, notif != nil, n.Status, n.Attempts)
		var applied *time.Time
		if !waiting {
			applied = &now
		}
		res.Deferred = waiting && notif != nil
		if err := tx.GetContext(ctx, &res.ReceiptID, `
			INSERT INTO sms_receipts (provider, provider_msg_id, out_id, status, provider_status, code, description,
			                          reported_at, received_at, notification_id, applied_at, raw)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			in.Provider, in.ProviderMsgID, in.OutID, in.Status, in.ProviderStatus, in.Code, in.Description,
			in.ReportedAt, now, notif, applied, in.Raw); err != nil {
			return fmt.Errorf("store receipt: %w", err)
		}
		if notif == nil || waiting || in.Status == ReceiptProgress {
			return nil
		}
		var status string
		err = tx.GetContext(ctx, &status, q.d.ReceiptApplySQL, n.ID, res.ReceiptID, now)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil // a duplicate, or older news than the notice's status
		case err != nil:
			return fmt.Errorf("apply receipt: %w", err)
		}
		res.Status, res.Applied = status, true
		return nil
	})
	if err != nil {
		return ReceiptResult{}, err
	}
	return res, nil
}

// receiptLockKey names the advisory lock held while a receipt for provider's
// message msgID is matched, and while FinishNotifications records that id.
func (r *Repo) receiptLockKey(provider, msgID string) int64 {
	return advisoryKey(r.schema + ":receipt:" + provider + ":" + msgID)
}

// receiptLockKeys are the sorted, distinct lock keys of the sent outcomes'
// message ids. Taking them first, in order, keeps finishes and receipts from
// deadlocking.
func (r *Repo) receiptLockKeys(outs []Outcome) []int64 {
	var keys []int64
	for _, o := range outs {
		if o.Status == StatusSent && o.ProviderMsgID != "" {
			keys = append(keys, r.receiptLockKey(o.Provider, o.ProviderMsgID))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// applyStoredReceiptsSQL applies, to the SMS notices $1 just recorded as
// sent, the receipts that arrived before: matched by message id, or by
// out-id when the receipt's message id does not contradict the notice's.
// Delivered wins over undelivered; every such receipt is marked applied.
// The notices are looked up by id alone: appending an empty string to
// channel and status keeps the planner, whose statistics lag behind a
// morning of status changes, from walking the (status, updated_at) index
// over every sent notice instead.
const applyStoredReceiptsSQL = `
WITH sent AS MATERIALIZED (
	SELECT id, provider, provider_msg_id FROM notifications
	WHERE id = ANY($1) AND channel || '' = 'sms' AND status || '' = 'sent'
), cand AS (
	SELECT n.id AS nid, rc.id AS rid, rc.status, rc.provider, rc.code, rc.reported_at
	FROM sent n
	JOIN sms_receipts rc ON rc.applied_at IS NULL AND rc.status <> 'progress' AND rc.provider = n.provider AND (
		(rc.provider_msg_id <> '' AND rc.provider_msg_id = n.provider_msg_id)
		OR (rc.out_id <> '' AND rc.out_id = n.id::text AND (rc.provider_msg_id = '' OR rc.provider_msg_id = n.provider_msg_id)))
), best AS (
	SELECT DISTINCT ON (nid) * FROM cand ORDER BY nid, (status = 'delivered') DESC, rid
), moved AS (
	UPDATE notifications n SET status = rc.status, status_reason = ` + receiptReasonSQL + `,
		delivery_code = rc.code, updated_at = $2,
		delivered_at = CASE WHEN rc.status = 'delivered' THEN coalesce(rc.reported_at, $2) END
	FROM best rc WHERE n.id = rc.nid
)
UPDATE sms_receipts r SET notification_id = cand.nid, applied_at = $2 FROM cand WHERE r.id = cand.rid`

// sentIDs are the notices of outs recorded as sent, whose stored receipts
// applyStoredReceiptsSQL applies.
func sentIDs(outs []Outcome) []int64 {
	var ids []int64
	for _, o := range outs {
		if o.Status == StatusSent {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// ListReceipts returns the receipts matched to one notice, oldest first.
func (q Common) ListReceipts(ctx context.Context, notificationID int64) ([]Receipt, error) {
	var out []Receipt
	if err := q.db.SelectContext(ctx, &out,
		`SELECT * FROM sms_receipts WHERE notification_id = $1 ORDER BY id`, notificationID); err != nil {
		return nil, fmt.Errorf("list receipts: %w", err)
	}
	return out, nil
}
