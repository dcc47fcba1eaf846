package repo

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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
	// Duplicate: the same receipt was stored before (the provider posted it
	// again) and ReceiptID is that one; this one was not stored again.
	Duplicate bool
}

// ReceiptReasonSQL is the status_reason a receipt leaves, from columns
// status, provider and code of the row aliased rc, in both stores.
const ReceiptReasonSQL = `rc.status || ' per ' || rc.provider || ' receipt' ||
	CASE WHEN rc.code <> '' THEN ' (code ' || rc.code || ')' ELSE '' END`

// receiptChunk is how many receipts of a batch one transaction records.
// Providers that post receipts in batches (Aliyun, Tencent) retry the whole
// batch when the answer is late; with a transaction a receipt, each waiting
// for its commit to reach the disk, a batch of 20,000 took over a minute.
// One transaction for a whole batch would hold an advisory lock per message
// id (PostgreSQL's lock table holds max_locks_per_transaction ×
// max_connections, 6,400 by default, for every session together) and the
// row locks of all its notices until the end.
const receiptChunk = 500

// RecordReceipts stores receipts and applies each to the notice it
// matches, in order, as if one at a time; it returns what it did to each,
// in the same order. Receipts may come twice, late, out of order, or before
// the dispatcher has recorded the notice as sent; none of that loses or
// regresses a status: a receipt for a notice still being sent is kept and
// applied by FinishNotifications. A receipt identical to one stored before
// (the same provider, message, outcome and reported time: a batch posted
// again) is stored once, and its result is Duplicate with the stored one's
// id. A receipt that matches nothing is stored unmatched and may still be
// matched by a later FinishNotifications. An invalid receipt (ErrInvalid)
// fails the whole call before anything is written. The receipts are
// recorded receiptChunk to a transaction; when one fails, those of the
// chunks before it stay recorded, and the same batch again finds them
// stored and changes no notice.
func (q Common) RecordReceipts(ctx context.Context, ins []Receipt, now time.Time) ([]ReceiptResult, error) {
	for _, in := range ins {
		if err := in.Validate(); err != nil {
			return nil, err
		}
	}
	res := make([]ReceiptResult, len(ins))
	for lo := 0; lo < len(ins); lo += receiptChunk {
		hi := min(lo+receiptChunk, len(ins))
		if err := q.withTx(ctx, func(tx *sqlx.Tx) error {
			return q.d.RecordReceipts(ctx, tx, ins[lo:hi], now, res[lo:hi])
		}); err != nil {
			return nil, fmt.Errorf("record receipts: %w", err)
		}
	}
	return res, nil
}

// RecordReceipt is RecordReceipts for one receipt.
func (q Common) RecordReceipt(ctx context.Context, in Receipt, now time.Time) (ReceiptResult, error) {
	res, err := q.RecordReceipts(ctx, []Receipt{in}, now)
	if err != nil {
		return ReceiptResult{}, err
	}
	return res[0], nil
}

// matchReceiptsSQL finds the SMS notice each receipt speaks of ($1 its
// place in the batch, $2 provider, $3 the provider's message id, $4 our
// notice id from the out-id): by message id, else by out-id as long as the
// notice's provider and message id, once known, do not contradict it. The
// two ways are two index lookups (a UNION rather than an OR, so the partial
// message-id index serves the first); a match by message id comes first.
// It locks the notices in id order, as FinishNotifications and ExtendLeases
// do, so none of them deadlock; a receipt that matches nothing has no row.
const matchReceiptsSQL = `
SELECT r.ord, n.id, n.status, n.attempts
FROM unnest($1::int[], $2::text[], $3::text[], $4::bigint[]) AS r(ord, provider, msg_id, out_id)
CROSS JOIN LATERAL (
	SELECT m.id FROM (
		SELECT id, provider_msg_id FROM notifications
		WHERE r.msg_id <> '' AND provider_msg_id <> '' AND provider = r.provider AND provider_msg_id = r.msg_id
		  AND channel = 'sms'
		UNION ALL
		SELECT id, provider_msg_id FROM notifications
		WHERE id = r.out_id AND channel = 'sms' AND provider IN ('', r.provider)
		  AND (provider_msg_id = '' OR r.msg_id = '' OR provider_msg_id = r.msg_id)
	) m
	ORDER BY (r.msg_id <> '' AND m.provider_msg_id = r.msg_id) DESC, m.id
	LIMIT 1
) m
JOIN notifications n ON n.id = m.id
ORDER BY n.id, r.ord
FOR NO KEY UPDATE OF n`

// writeReceiptsSQL stores receipts, each with the notice it matched (0:
// none) and whether it is applied (applied_at $14), and applies to its
// notice each receipt marked apply: delivered wins over sent and
// undelivered, and over a retry still pending after an unanswered try (that try
// did reach the phone); undelivered only replaces sent. A delivered notice
// never changes again. At most one receipt a notice is marked apply.
//
// A receipt identical to one stored before (receiptOnceSQL: a provider
// posting a batch again) is not stored again: the stored one is kept, and
// learns the notice this one matched and that it was applied when it had
// not. It is weighed against its notice all the same, as the copy stored
// before was (that changes nothing, unless the first was left waiting). The
// stored row is locked after the notices (matchReceiptsSQL), as
// FinishNotifications locks the receipts it applies; the rows go in in key
// order, so two batches that hold the same receipts without a message id
// (no advisory lock) wait for each other in one order. It returns each
// receipt's place ($1), the id it is stored under, whether that row was
// stored before, and, when it moved its notice, the notice's new status.
const writeReceiptsSQL = `
WITH rc AS MATERIALIZED (
	SELECT nextval('sms_receipts_id_seq') AS id, u.*
	FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
	            $9::timestamptz[], $10::bigint[], $11::bool[], $12::bool[], $13::text[])
		AS u(ord, provider, provider_msg_id, out_id, status, provider_status, code, description, reported_at,
		     notification_id, applied, apply, raw)
), stored AS (
	INSERT INTO sms_receipts AS s (id, provider, provider_msg_id, out_id, status, provider_status, code, description,
	                               reported_at, received_at, notification_id, applied_at, raw)
	SELECT id, provider, provider_msg_id, out_id, status, provider_status, code, description,
	       reported_at, $14, nullif(notification_id, 0), CASE WHEN applied THEN $14::timestamptz END, raw
	FROM rc
	ORDER BY provider, provider_msg_id, out_id, status, provider_status, code, reported_at
	ON CONFLICT ` + receiptOnceSQL + ` DO UPDATE
	SET notification_id = coalesce(s.notification_id, excluded.notification_id), applied_at = coalesce(s.applied_at, excluded.applied_at)
	RETURNING s.id, s.provider, s.provider_msg_id, s.out_id, s.status, s.provider_status, s.code, s.reported_at
), moved AS (
	UPDATE notifications n SET status = rc.status, status_reason = ` + ReceiptReasonSQL + `,
		delivery_code = rc.code, updated_at = $14,
		delivered_at = CASE WHEN rc.status = 'delivered' THEN coalesce(rc.reported_at, $14) ELSE n.delivered_at END,
		sent_at = CASE WHEN rc.status = 'delivered' THEN coalesce(n.sent_at, rc.reported_at, $14) ELSE n.sent_at END,
		provider = CASE WHEN n.provider = '' THEN rc.provider ELSE n.provider END,
		provider_msg_id = CASE WHEN n.provider_msg_id = '' THEN rc.provider_msg_id ELSE n.provider_msg_id END
	FROM rc
	WHERE rc.apply AND n.id = rc.notification_id AND (
		(rc.status = 'delivered' AND (n.status IN ('sent', 'undelivered') OR ` + ReceiptSettlesRetrySQL + `))
		OR (rc.status = 'undelivered' AND n.status = 'sent'))
	RETURNING n.id, n.status
)
SELECT rc.ord, coalesce(own.id, copy.id) AS id, own.id IS NULL AS copy, coalesce(moved.status, '') AS moved
FROM rc
LEFT JOIN stored own ON own.id = rc.id
LEFT JOIN stored copy ON own.id IS NULL AND copy.provider = rc.provider AND copy.provider_msg_id = rc.provider_msg_id
	AND copy.out_id = rc.out_id AND copy.status = rc.status AND copy.provider_status = rc.provider_status
	AND copy.code = rc.code AND copy.reported_at IS NOT DISTINCT FROM rc.reported_at
LEFT JOIN moved ON rc.apply AND moved.id = rc.notification_id`

// receiptOnceSQL is the conflict target of the unique index that stores a
// receipt once (migration 047, sms_receipts_once): the same provider
// reporting the same outcome at the same time for the same message. A
// receipt that names no message (neither id) is never taken for another.
const receiptOnceSQL = `(provider, provider_msg_id, out_id, status, provider_status, code, coalesce(reported_at, '-infinity'))
	WHERE provider_msg_id <> '' OR out_id <> ''`

// receiptMatch is the notice a receipt matched, locked.
type receiptMatch struct {
	Ord      int    `db:"ord"`
	ID       int64  `db:"id"`
	Status   string `db:"status"`
	Attempts int    `db:"attempts"`
}

// recordReceipts is the PostgreSQL store's Dialect.RecordReceipts: a chunk
// of receipts in a few statements, whatever its size. It gives the same
// result as recording them one after another: the receipts go in rounds in
// which no two share a notice or a message or out-id, each round after the
// receipts before it, so a receipt sees what an earlier one of the same
// batch did to its notice (a batch rarely needs a second round).
func (r *Repo) recordReceipts(ctx context.Context, tx *sqlx.Tx, ins []Receipt, now time.Time, res []ReceiptResult) error {
	// Serializes with FinishNotifications writing these message ids: one
	// of the two always sees the other's rows. Taken in key order, before
	// any row lock, as FinishNotifications takes its own.
	var keys []int64
	for _, in := range ins {
		if in.ProviderMsgID != "" {
			keys = append(keys, r.receiptLockKey(in.Provider, in.ProviderMsgID))
		}
	}
	if keys = sortedKeys(keys); len(keys) > 0 {
		if _, err := tx.ExecContext(ctx, receiptLocksSQL, pq.Array(keys)); err != nil {
			return fmt.Errorf("receipt locks: %w", err)
		}
	}
	todo := make([]int, len(ins))
	for i := range todo {
		todo[i] = i
	}
	for len(todo) > 0 {
		// The first match locks every notice the chunk matches; a later
		// round's receipts find theirs locked already.
		matches, err := matchReceipts(ctx, tx, ins, todo)
		if err != nil {
			return err
		}
		var round []int
		round, todo = receiptRound(ins, todo, matches)
		if err := writeReceipts(ctx, tx, ins, round, matches, now, res); err != nil {
			return err
		}
	}
	return nil
}

// matchReceipts matches and locks the notices of receipts ins[i], i in
// todo, as matchReceiptsSQL does; unmatched receipts are not in the map.
func matchReceipts(ctx context.Context, tx *sqlx.Tx, ins []Receipt, todo []int) (map[int]receiptMatch, error) {
	ords, providers, msgIDs, outIDs := make([]int64, len(todo)), make([]string, len(todo)), make([]string, len(todo)),
		make([]int64, len(todo))
	for j, i := range todo {
		ords[j], providers[j], msgIDs[j], outIDs[j] = int64(i), ins[i].Provider, ins[i].ProviderMsgID, ins[i].OutNotificationID()
	}
	var rows []receiptMatch
	if err := tx.SelectContext(ctx, &rows, matchReceiptsSQL, pq.Array(ords), pq.Array(providers), pq.Array(msgIDs),
		pq.Array(outIDs)); err != nil {
		return nil, fmt.Errorf("match receipts: %w", err)
	}
	out := make(map[int]receiptMatch, len(rows))
	for _, m := range rows {
		out[m.Ord] = m
	}
	return out, nil
}

// receiptRound splits todo (places in ins, in order) into the receipts
// recorded together next and those left for later rounds: a receipt waits
// when an earlier one still to be recorded shares its notice, its message
// id or its out-id, so that it sees that one's effect, as one at a time
// (and a receipt posted twice in one batch finds its first copy stored).
func receiptRound(ins []Receipt, todo []int, matches map[int]receiptMatch) (round, rest []int) {
	taken := map[string]bool{}
	for _, i := range todo {
		in := ins[i]
		var keys []string
		if in.ProviderMsgID != "" {
			keys = append(keys, "msg:"+in.Provider+":"+in.ProviderMsgID)
		}
		if in.OutID != "" && in.ProviderMsgID == "" {
			// Without a message id the out-id is what tells copies of it
			// (also one that names no notice of ours); with one, copies
			// share the message id, and receipts of other messages that
			// share a foreign out-id (another application's constant on a
			// shared account) have nothing to wait for: they went one a
			// round, a batch of 1,000 in 11 s, and Aliyun's retry of a
			// timed-out batch took as long again.
			keys = append(keys, "out:"+in.OutID)
		}
		if id := in.OutNotificationID(); id != 0 {
			keys = append(keys, "notice:"+strconv.FormatInt(id, 10))
		}
		if m, ok := matches[i]; ok {
			keys = append(keys, "notice:"+strconv.FormatInt(m.ID, 10))
		}
		clash := slices.ContainsFunc(keys, func(k string) bool { return taken[k] })
		for _, k := range keys {
			taken[k] = true
		}
		if clash {
			rest = append(rest, i)
		} else {
			round = append(round, i)
		}
	}
	return round, rest
}

// writeReceipts stores the receipts ins[i], i in round, and applies those
// that apply (writeReceiptsSQL), filling in res[i].
func writeReceipts(ctx context.Context, tx *sqlx.Tx, ins []Receipt, round []int, matches map[int]receiptMatch,
	now time.Time, res []ReceiptResult) error {
	var (
		ords, notices                                                      []int64
		providers, msgIDs, outIDs, statuses, pStatuses, codes, descs, raws []string
		reported                                                           []*time.Time
		applied, apply                                                     []bool
	)
	for _, i := range round {
		in, m := ins[i], matches[i]
		// Left unapplied: a receipt we may still match or apply later.
		waiting := ReceiptWaits(in.Status, m.ID != 0, m.Status, m.Attempts)
		res[i] = ReceiptResult{NotificationID: m.ID, Status: m.Status, Deferred: waiting && m.ID != 0}
		ords, notices = append(ords, int64(i)), append(notices, m.ID)
		providers, msgIDs, outIDs = append(providers, in.Provider), append(msgIDs, in.ProviderMsgID), append(outIDs, in.OutID)
		statuses, pStatuses = append(statuses, in.Status), append(pStatuses, in.ProviderStatus)
		codes, descs, raws = append(codes, in.Code), append(descs, in.Description), append(raws, in.Raw)
		reported = append(reported, in.ReportedAt)
		applied = append(applied, !waiting)
		apply = append(apply, m.ID != 0 && !waiting && in.Status != ReceiptProgress)
	}
	var rows []struct {
		Ord   int    `db:"ord"`
		ID    int64  `db:"id"`
		Copy  bool   `db:"copy"`
		Moved string `db:"moved"`
	}
	if err := tx.SelectContext(ctx, &rows, writeReceiptsSQL, pq.Array(ords), pq.Array(providers), pq.Array(msgIDs),
		pq.Array(outIDs), pq.Array(statuses), pq.Array(pStatuses), pq.Array(codes), pq.Array(descs),
		pq.Array(reported), pq.Array(notices), pq.Array(applied), pq.Array(apply), pq.Array(raws), now); err != nil {
		return fmt.Errorf("store receipts: %w", err)
	}
	var delivered []int64
	for _, row := range rows {
		res[row.Ord].ReceiptID, res[row.Ord].Duplicate = row.ID, row.Copy
		if row.Moved != "" {
			res[row.Ord].Status, res[row.Ord].Applied = row.Moved, true
		}
		if row.Moved == ReceiptDelivered && matches[row.Ord].Status == StatusUndelivered { // only an undelivered SMS has a fallback
			delivered = append(delivered, res[row.Ord].NotificationID)
		}
	}
	if len(delivered) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = 'suppressed', status_reason = $2, updated_at = $3
			WHERE fallback_of = ANY($1) AND status = 'pending'`, pq.Array(delivered), ReasonFallbackWithdrawn, now); err != nil {
			return fmt.Errorf("withdraw fallbacks: %w", err)
		}
	}
	return nil
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
	return sortedKeys(keys)
}

// sortedKeys sorts lock keys and drops repeats: locks are taken in this
// order, by receipts and finishes alike.
func sortedKeys(keys []int64) []int64 {
	slices.Sort(keys)
	return slices.Compact(keys)
}

// applyStoredReceiptsSQL applies, to the SMS notices $1 just recorded as
// sent, the receipts that arrived before: matched by message id, or by
// out-id when the receipt's message id does not contradict the notice's
// and it arrived after the notice was queued (5 minutes for the replicas'
// clocks): one stored before is about another notice that had the id (a
// database restored, another deployment on the same gateway). Delivered
// wins over undelivered; every such receipt is marked applied.
// The notices are looked up by id alone: appending an empty string to
// channel and status keeps the planner, whose statistics lag behind a
// morning of status changes, from walking the (status, updated_at) index
// over every sent notice instead.
const applyStoredReceiptsSQL = `
WITH sent AS MATERIALIZED (
	SELECT id, provider, provider_msg_id, created_at FROM notifications
	WHERE id = ANY($1) AND channel || '' = 'sms' AND status || '' = 'sent'
), cand AS (
	SELECT n.id AS nid, rc.id AS rid, rc.status, rc.provider, rc.code, rc.reported_at
	FROM sent n
	JOIN sms_receipts rc ON rc.applied_at IS NULL AND rc.status <> 'progress' AND rc.provider = n.provider AND (
		(rc.provider_msg_id <> '' AND rc.provider_msg_id = n.provider_msg_id)
		OR (rc.out_id <> '' AND rc.out_id = n.id::text AND (rc.provider_msg_id = '' OR rc.provider_msg_id = n.provider_msg_id)
			AND rc.received_at >= n.created_at - interval '5 minutes'))
), best AS (
	SELECT DISTINCT ON (nid) * FROM cand ORDER BY nid, (status = 'delivered') DESC, rid
), moved AS (
	UPDATE notifications n SET status = rc.status, status_reason = ` + ReceiptReasonSQL + `,
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
