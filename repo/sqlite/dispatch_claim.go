package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/kinds"
	"duebell/repo"
)

// dispatchLeaseSQL leases up to $4 pending notices whose time has come ($3)
// to owner $1 until $2, oldest first, by the (next_attempt_at, id) partial
// index, named: without statistics the planner would rather walk every
// pending notice by (status, updated_at) and sort them, in every claim.
// Writers are serialized, so no other claim can take the same rows.
const dispatchLeaseSQL = `
UPDATE notifications SET status = 'sending', lease_owner = $1, lease_expires_at = $2,
	attempts = attempts + 1, updated_at = $3
WHERE id IN (
	SELECT id FROM notifications INDEXED BY notifications_due
	WHERE status = 'pending' AND next_attempt_at <= $3
	ORDER BY next_attempt_at, id
	LIMIT $4)
RETURNING id`

// dispatchClaimSQL reads the notices just leased ($1, a JSON array of ids)
// with their customer, plan, installment and event, by primary key, in claim
// order; %s is the SMS cap's columns. outstanding is, for a notice of the
// kinds in $2 (kinds.Outstanding: service_closed), what is still unpaid on
// the active plans it speaks of in its plan's currency, as of now.
const dispatchClaimSQL = `
SELECT n.*, ` + repo.ClaimColumns + `,
	CASE WHEN e.kind IN (SELECT value FROM json_each($2)) THEN coalesce((
		SELECT sum(oi.amount - oi.paid) FROM installments oi JOIN plans op ON op.id = oi.plan_id
		WHERE op.customer_id = n.customer_id AND op.status = 'active'
		  AND oi.status = 'pending' AND oi.paid < oi.amount
		  AND op.currency = p.currency AND (e.scope <> 'plan' OR op.id = e.plan_id)), 0) ELSE 0 END AS outstanding,
	%s
FROM notifications n
JOIN customers c ON c.id = n.customer_id
LEFT JOIN plans p ON p.id = n.plan_id
LEFT JOIN installments i ON i.id = n.installment_id
LEFT JOIN channel_events e ON e.id = n.event_id
WHERE n.id IN (SELECT value FROM json_each($1))
ORDER BY n.next_attempt_at, n.id`

// dispatchCapSQL are the per-customer SMS cap's columns of an SMS claim:
// the customer's SMS that reached a provider after $3 (24 hours before the
// claim), the earliest of them (micros: an aggregate has no column type),
// each from the (customer_id, sent_at) index, and the customer's other SMS
// held on a live lease as of $4 (the lease clock's now), from the in-flight
// index. The notices of
// this claim ($1) are left out of the last count: in PostgreSQL the
// statement's snapshot shows them as they were before the claim.
const dispatchCapSQL = `
	CASE WHEN n.channel = 'sms' THEN (
		SELECT count(*) FROM notifications x
		WHERE x.customer_id = n.customer_id AND x.sent_at IS NOT NULL AND x.sent_at > $3 AND x.channel = 'sms')
	ELSE 0 END AS sms_sent,
	CASE WHEN n.channel = 'sms' THEN (
		SELECT min(x.sent_at) FROM notifications x
		WHERE x.customer_id = n.customer_id AND x.sent_at IS NOT NULL AND x.sent_at > $3 AND x.channel = 'sms')
	END AS sms_oldest_us,
	CASE WHEN n.channel = 'sms' THEN (
		SELECT count(*) FROM notifications x
		WHERE x.customer_id = n.customer_id AND x.status = 'sending' AND x.channel = 'sms'
		  AND x.lease_expires_at >= $4 AND x.id NOT IN (SELECT value FROM json_each($1)))
	ELSE 0 END AS sms_in_flight`

// dispatchOutstandingKinds is kinds.Outstanding as the claim's JSON list.
var dispatchOutstandingKinds = func() string {
	b, _ := json.Marshal(kinds.Outstanding()) // a []string always encodes
	return string(b)
}()

// dispatchNoCapSQL stands in for dispatchCapSQL when the cap is off.
const dispatchNoCapSQL = `0 AS sms_sent, NULL AS sms_oldest_us, 0 AS sms_in_flight`

// dispatchClaimRow is a claim as read: the cap's oldest send comes as micros.
type dispatchClaimRow struct {
	repo.Claim
	SMSOldestMicros sql.NullInt64 `db:"sms_oldest_us"`
}

// ReloadClaim reads claim id afresh (see repo.Repo.ReloadClaim), with the
// claim's own read.
func (s *Store) ReloadClaim(ctx context.Context, id int64) (repo.Claim, error) {
	var row dispatchClaimRow
	if err := s.db.GetContext(ctx, &row, fmt.Sprintf(dispatchClaimSQL, dispatchNoCapSQL), fmt.Sprintf("[%d]", id),
		dispatchOutstandingKinds); err != nil {
		return repo.Claim{}, repo.NotFound(err, fmt.Sprintf("notice %d", id))
	}
	return row.Claim, nil
}

// ClaimNotifications leases up to limit sendable notices as of now, oldest
// first, until leaseNow + lease (the lease clock; see repo.Repo's). With smsCap > 0 each SMS claim carries the customer's SMS counts
// the cap needs. Two statements: the lease, then one read of what it leased.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now, leaseNow time.Time, lease time.Duration, limit, smsCap int) ([]repo.Claim, error) {
	if limit < 0 {
		return nil, fmt.Errorf("claim notifications: negative limit %d", limit)
	}
	read, capArgs := fmt.Sprintf(dispatchClaimSQL, dispatchNoCapSQL), []any{}
	if smsCap > 0 {
		read, capArgs = fmt.Sprintf(dispatchClaimSQL, dispatchCapSQL), []any{now.Add(-24 * time.Hour), leaseNow}
	}
	var out []repo.Claim
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, dispatchLeaseSQL, owner, leaseNow.Add(lease), now, limit); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		idJSON, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		rows := make([]dispatchClaimRow, 0, len(ids))
		if err := tx.SelectContext(ctx, &rows, read, append([]any{string(idJSON), dispatchOutstandingKinds}, capArgs...)...); err != nil {
			return err
		}
		out = make([]repo.Claim, len(rows))
		for i, r := range rows {
			out[i] = r.Claim
			if r.SMSOldestMicros.Valid {
				t := time.UnixMicro(r.SMSOldestMicros.Int64).UTC()
				out[i].SMSOldest = &t
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return out, nil
}
