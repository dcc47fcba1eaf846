package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// A digest is one notice for the bills of one customer that one stage would
// remind on one channel on one local day. Every installment keeps its own
// notice row and dedup key, so once-per-stage holds as before and a re-scan
// adds nothing twice; the group's notices all point (digest_of) at the one
// that goes out, the leader (pointing at itself), and the others are
// skipped with the reason "in digest #<leader>". The dispatcher reads the
// group when it sends the leader: it lists the bills still unpaid then,
// with their amounts then.

// digestReleaseSQL gives the members of a digest whose leader this scan ($1)
// superseded (its own bill reached a later stage) their own notice back,
// unless their bill has a later stage's notice too.
var digestReleaseSQL = `
UPDATE notifications m SET status = 'pending', status_reason = '', digest_of = NULL, updated_at = $1
FROM notifications l
WHERE m.digest_of = l.id AND m.id <> l.id AND m.status = 'skipped'
  AND l.status = 'skipped' AND l.updated_at = $1 AND l.digest_of = l.id
  AND NOT EXISTS (SELECT 1 FROM notifications x WHERE x.installment_id = m.installment_id
                  AND x.channel = m.channel AND x.stage_offset > m.stage_offset AND ` + HoldsStageSQL("x") + `)`

// digestGroupSQL groups, for each customer × stage × channel this scan ($1)
// queued a notice for (of the stages × channels that digest, $2 × $3), the
// pending, not yet claimed reminder notices queued on the customer's local
// day of the scan ($4..$7: each zone's day as name, start, end and date,
// from ScanZoneDays) whose stage's day has come (not one whose bill's due date
// moved later since: it waits for its day), of plans in one currency (a
// total is in one): the group's existing leader stays leader (else the
// oldest notice leads), and the others are skipped as covered by it. Rows
// a dispatcher is claiming right now are left out (SKIP LOCKED) and the
// groups are formed from the rows locked, so a leader never gains members
// once it is claimed. Each step reads notices by index (the customer's, or
// by id), never by joining estimates the planner cannot know for rows this
// same transaction inserted.
const digestGroupSQL = `
WITH digesting AS (
	SELECT * FROM unnest($2::text[], $3::text[]) AS s(stage, channel)
), touched AS (
	SELECT DISTINCT n.customer_id, n.stage, n.channel FROM notifications n
	JOIN digesting s ON s.stage = n.stage AND s.channel = n.channel
	WHERE n.created_at = $1 AND n.status = 'pending' AND n.digest_of IS NULL AND n.dedup_key IS NOT NULL
), pre AS (
	SELECT g.id, count(*) OVER (PARTITION BY t.customer_id, t.stage, t.channel, g.currency) AS size
	FROM touched t
	CROSS JOIN LATERAL (SELECT c.timezone FROM customers c WHERE c.id = t.customer_id) c
	JOIN unnest($4::text[], $5::timestamptz[], $6::timestamptz[], $7::date[]) AS z(tz, day_start, day_end, today)
	  ON z.tz = c.timezone
	CROSS JOIN LATERAL (
		SELECT n.id, p.currency FROM notifications n JOIN plans p ON p.id = n.plan_id
		JOIN installments i ON i.id = n.installment_id
		WHERE n.customer_id = t.customer_id AND n.stage = t.stage AND n.channel = t.channel
		  AND n.status = 'pending' AND n.dedup_key IS NOT NULL AND n.installment_id IS NOT NULL
		  AND (n.digest_of IS NULL OR n.digest_of = n.id)
		  AND n.created_at >= z.day_start AND n.created_at < z.day_end
		  AND i.due_date + n.stage_offset <= z.today) g
), cand AS ( -- most customers have one bill a day: lock only groups of two or more
	SELECT n.id, n.customer_id, n.stage, n.channel, n.digest_of, p.currency
	FROM notifications n JOIN plans p ON p.id = n.plan_id
	WHERE n.id = ANY (ARRAY(SELECT id FROM pre WHERE size > 1))
	  AND n.status = 'pending' AND (n.digest_of IS NULL OR n.digest_of = n.id)
	FOR UPDATE OF n SKIP LOCKED
), grp AS (
	SELECT id, count(*) OVER w AS size,
	       coalesce(min(id) FILTER (WHERE digest_of = id) OVER w, min(id) OVER w) AS leader
	FROM cand WINDOW w AS (PARTITION BY customer_id, stage, channel, currency)
)
UPDATE notifications n
SET digest_of = g.leader,
    status = CASE WHEN n.id = g.leader THEN n.status ELSE 'skipped' END,
    status_reason = CASE WHEN n.id = g.leader THEN n.status_reason ELSE 'in digest #' || g.leader END,
    updated_at = $1
FROM grp g
WHERE n.id = g.id AND g.size > 1 AND n.digest_of IS DISTINCT FROM g.leader`

// digestScan runs, inside the due-date scan's transaction (one scan at a
// time), the release of superseded digests and the grouping of the queued
// notices, and counts the notices res says it queued that went into a
// digest as skipped. After a large scan it first refreshes the planner's
// statistics inside the transaction, which count the rows it inserted:
// planned from the smaller table's, the grouping joins go quadratic
// (measured: 90 s instead of 1 s for 10,000 notices).
func digestScan(ctx context.Context, tx *sqlx.Tx, now time.Time, stages []Stage, zones []ZoneDay, res *ScanResult) error {
	var names, channels []string
	for _, s := range stages {
		for _, ch := range s.DigestChannels {
			names, channels = append(names, s.Name), append(channels, ch)
		}
	}
	if _, err := tx.ExecContext(ctx, digestReleaseSQL, now); err != nil {
		return fmt.Errorf("due scan: release digests: %w", err)
	}
	if len(names) == 0 || res.Total() == 0 {
		return nil
	}
	if res.Total() >= bulkAnalyzeThreshold {
		if _, err := tx.ExecContext(ctx, analyzeNoticesSQL); err != nil {
			return fmt.Errorf("due scan: analyze before grouping digests: %w", err)
		}
	}
	zNames, zStarts, zEnds, zDays := make([]string, len(zones)), make([]time.Time, len(zones)), make([]time.Time, len(zones)),
		make([]string, len(zones))
	for i, z := range zones {
		zNames[i], zStarts[i], zEnds[i], zDays[i] = z.Name, z.Start, z.End, z.Day.String()
	}
	if _, err := tx.ExecContext(ctx, digestGroupSQL, now, pq.Array(names), pq.Array(channels),
		pq.Array(zNames), pq.Array(zStarts), pq.Array(zEnds), pq.Array(zDays)); err != nil {
		return fmt.Errorf("due scan: group digests: %w", err)
	}
	return res.InDigests(ctx, tx, now)
}

// InDigestsSQL counts, by kind, stage and channel, the notices the scan at
// $1 queued that its grouping put in another's digest, in both stores:
// one index range of the log (its created_at), however many it grouped.
const InDigestsSQL = `
SELECT kind, stage, channel, 'skipped' AS status, count(*) AS n FROM notifications
WHERE created_at = $1 AND status = 'skipped' AND digest_of IS NOT NULL AND digest_of <> id
GROUP BY kind, stage, channel`

// InDigests moves the notices the scan at now queued that its grouping
// put in another's digest from their pending count to a skipped one: the
// scan used to report every bill of a digest as pending.
func (s *ScanResult) InDigests(ctx context.Context, q sqlx.QueryerContext, now time.Time) error {
	var grouped []QueuedCount
	if err := sqlx.SelectContext(ctx, q, &grouped, InDigestsSQL, now); err != nil {
		return fmt.Errorf("due scan: count digests: %w", err)
	}
	find := func(like QueuedCount, status string) int {
		return slices.IndexFunc(s.Queued, func(q QueuedCount) bool {
			return q.Kind == like.Kind && q.Stage == like.Stage && q.Channel == like.Channel && q.Status == status
		})
	}
	for _, g := range grouped {
		i := find(g, StatusPending)
		if i < 0 {
			continue
		}
		g.Count = min(g.Count, s.Queued[i].Count)
		s.Queued[i].Count -= g.Count
		if j := find(g, StatusSkipped); j >= 0 {
			s.Queued[j].Count += g.Count
		} else {
			s.Queued = append(s.Queued, g)
		}
	}
	s.Queued = slices.DeleteFunc(s.Queued, func(q QueuedCount) bool { return q.Count == 0 })
	return nil
}

// LeadsDigest reports whether n is the notice that goes out for a digest.
func (n Notification) LeadsDigest() bool { return n.DigestOf != nil && *n.DigestOf == n.ID }

// DigestItem is one bill of a digest, as it is now.
type DigestItem struct {
	NotificationID int64       `db:"notification_id"`
	Plan           Plan        `db:"p"`
	Installment    Installment `db:"i"`
	// Told: the stage already went for the bill's due date as it is now,
	// alone or in a digest, and gave its key up when the date moved away
	// ("#<id>@<date>", migration 053); the date has since moved back, so
	// the digest queued for the other date must not tell of it again.
	Told bool `db:"told"`
}

// ReasonDigestSettled is why a digest none of whose bills asks for payment
// any more does not go out (suppressed at send time, a resend refused).
const ReasonDigestSettled = "every installment in the digest settled"

// HoldsStageSQL is true for a notice (alias) that speaks for its stage: one
// that holds the stage's key, or has none (a resend). One whose key was
// given up ("#<id>", a settlement since undone; "#<id>@<date>", a due date
// the bill has left) speaks for nothing: a later stage it reached for
// another date does not supersede the bill's stage for its date now.
func HoldsStageSQL(alias string) string {
	return `(` + alias + `.dedup_key IS NULL OR ` + alias + `.dedup_key NOT LIKE '%#%')`
}

// digestBillsSQL is the FROM and WHERE of the bills of the digest that the
// notice leader (an SQL expression) leads: its own and its members'
// notices (dm), with their installments (di) and plans (dp), less a bill
// that has since reached a later stage on the channel (that stage's notice
// speaks for it: HoldsStageSQL). No rows when leader leads no digest. Both stores read digests
// through it, so the dispatcher and a resend see the same bills.
func digestBillsSQL(leader string) string {
	return `FROM notifications dm JOIN installments di ON di.id = dm.installment_id JOIN plans dp ON dp.id = di.plan_id
		WHERE dm.digest_of = ` + leader + `
		  AND NOT EXISTS (SELECT 1 FROM notifications later WHERE later.installment_id = dm.installment_id
		                  AND later.channel = dm.channel AND later.stage_offset > dm.stage_offset
		                  AND ` + HoldsStageSQL("later") + `)`
}

// digestOwesSQL is, for a bill of digestBillsSQL, that something is still
// to be paid on it: neither paid nor waived (notify's owes).
const digestOwesSQL = `di.status NOT IN ('paid', 'waived') AND di.paid < di.amount`

// DigestSettledSQL is, for a notice n that leads a digest of two bills or
// more, ReasonDigestSettled when none of them asks for payment any more
// (paid, waived, or its plan no longer active), empty while one does: a
// resend of a digest tells of its bills still unpaid, as the dispatcher
// lists them. NULL when n leads no digest: its own bill decides.
var DigestSettledSQL = `(SELECT CASE WHEN count(*) < 2 THEN NULL
		WHEN count(*) FILTER (WHERE ` + digestOwesSQL + ` AND dp.status = 'active') > 0 THEN ''
		ELSE '` + ReasonDigestSettled + `' END
	` + digestBillsSQL("n.id") + `)`

// ReasonDigestNothingOwed is why even a forced resend of a digest none of
// whose bills has anything left to pay is refused (NothingOwedSQL).
const ReasonDigestNothingOwed = "every installment in the digest is paid or waived"

// NothingOwedSQL is why a resend of notice n (with its installment i,
// possibly NULL) would ask for nothing owed, which not even a forced resend
// may do (a reminder never shows a bill at ¥0.00 as owed):
// ReasonDigestNothingOwed for a notice that leads a digest of two bills or
// more none of which has anything left to pay (a forced resend lists only
// the bills still owed, so it would have none); for any other notice whose
// kind asks for payment (asks: the dialect's test that n.kind is in
// kinds.AsksPayment), "installment paid" or "installment waived" as its
// own bill is (notify's owes). Empty while something is owed, and for a kind
// that asks for nothing (a payment confirmation tells of a paid bill).
func NothingOwedSQL(asks string) string {
	return `(SELECT CASE
		WHEN count(*) >= 2 THEN CASE WHEN count(*) FILTER (WHERE ` + digestOwesSQL + `) > 0 THEN ''
			ELSE '` + ReasonDigestNothingOwed + `' END
		WHEN NOT (` + asks + `) THEN ''
		WHEN i.status = 'paid' OR i.paid >= i.amount THEN 'installment paid'
		WHEN i.status = 'waived' THEN 'installment waived'
		ELSE '' END
	` + digestBillsSQL("n.id") + `)`
}

// DigestItems lists the bills of the digest led by notice leader (its own
// and its members'), by due date, as they are now; empty when leader leads
// no digest. A bill that has since reached a later stage on the channel is
// left out: that stage's notice speaks for it.
func (q Common) DigestItems(ctx context.Context, leader int64) ([]DigestItem, error) {
	var out []DigestItem
	if err := q.db.SelectContext(ctx, &out, `
		SELECT dm.id AS notification_id,
			dp.id AS "p.id", dp.ref AS "p.ref", dp.merchant AS "p.merchant", dp.title AS "p.title",
			dp.currency AS "p.currency", dp.total AS "p.total", dp.periods AS "p.periods", dp.status AS "p.status",
			dp.repay_method AS "p.repay_method", dp.card_last4 AS "p.card_last4",
			di.id AS "i.id", di.seq AS "i.seq", di.due_date AS "i.due_date", di.amount AS "i.amount", di.paid AS "i.paid",
			di.status AS "i.status", di.paid_at AS "i.paid_at",
			EXISTS (SELECT 1 FROM notifications g
			        WHERE g.installment_id = dm.installment_id AND g.channel = dm.channel AND g.stage = dm.stage
			          AND g.dedup_key LIKE '%@' || CAST(di.due_date AS TEXT)
			          AND (g.status IN ('sent', 'delivered') OR EXISTS (
			               SELECT 1 FROM notifications l WHERE l.id = g.digest_of AND l.status IN ('sent', 'delivered')))) AS told
		`+digestBillsSQL("$1")+`
		ORDER BY di.due_date, dp.id, di.seq`, leader); err != nil {
		return nil, fmt.Errorf("digest items: %w", err)
	}
	return out, nil
}

// NextBill is plan planID's earliest bill still to pay (by due date, then
// seq: the bill the event scan names), the zero Installment when none is.
func (q Common) NextBill(ctx context.Context, planID int64) (Installment, error) {
	var i Installment
	err := q.db.GetContext(ctx, &i, `SELECT id, plan_id, seq, due_date, amount, paid, status, paid_at FROM installments
		WHERE plan_id = $1 AND status = 'pending' AND paid < amount ORDER BY due_date, seq LIMIT 1`, planID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Installment{}, fmt.Errorf("next bill: %w", err)
	}
	return i, nil
}

// retellSQL records notice $1, still held by owner $2 under the claim $5
// (Outcome.Claim; 0 not checked), as telling of plan $3's installment $4
// (see Outcome.PlanID).
const retellSQL = `
UPDATE notifications SET plan_id = $3, installment_id = $4
WHERE id = $1 AND status = 'sending' AND lease_owner = $2 AND ($5 = 0 OR attempts = $5)`

// handOverSQL moves notice $3, a member of the digest notice $1 leads
// (still held by owner $2 under the claim $8, as retellSQL), as of $4: with
// $5 set it becomes the notice that goes out for what is left of the digest
// (pending now, leading the digest when $6 says other members follow it,
// else on its own), else it joins the digest of $6, with the reason $7.
const handOverSQL = `
UPDATE notifications SET
	status = CASE WHEN $5 THEN 'pending' ELSE status END,
	next_attempt_at = CASE WHEN $5 THEN $4 ELSE next_attempt_at END,
	digest_of = CASE WHEN $6 > 0 THEN $6 END, status_reason = $7, updated_at = $4
WHERE id = $3 AND digest_of = $1 AND status = 'skipped'
  AND EXISTS (SELECT 1 FROM notifications l WHERE l.id = $1 AND l.status = 'sending' AND l.lease_owner = $2
              AND ($8 = 0 OR l.attempts = $8))`

// settleMemberSQL ends member $3 of leader $1's digest, whose bill was
// paid or waived before the digest went, as its notice alone would have
// ended (Outcome.Settled), while owner $2 holds the leader under claim $5
// ($4 now).
const settleMemberSQL = `
UPDATE notifications SET status = 'suppressed', digest_of = NULL, updated_at = $4,
	status_reason = CASE WHEN (SELECT i.status FROM installments i WHERE i.id = notifications.installment_id) = 'waived'
		THEN 'installment waived' ELSE 'installment paid' END,
	dedup_key = dedup_key || '#' || id -- given up, as SettledKeySQL gives it up
WHERE id = $3 AND digest_of = $1 AND status = 'skipped'
  AND EXISTS (SELECT 1 FROM notifications l WHERE l.id = $1 AND l.status = 'sending' AND l.lease_owner = $2
              AND ($5 = 0 OR l.attempts = $5))`

// RecordTold writes, inside a store's FinishNotifications transaction and
// before the outcomes themselves (while owner still holds the notices),
// which bills the notices of outs told of: a resend or fallback of a
// digest is recorded as telling of the bill it named (Outcome.PlanID), a
// leader whose own bill dropped out hands its digest over
// (Outcome.HandOver), bills whose due date moved later leave it
// (Outcome.Release), and bills paid or waived before it went end
// (Outcome.Settled). All are rare; the statements are the same in both
// stores.
func RecordTold(ctx context.Context, tx *sqlx.Tx, owner string, now time.Time, outs []Outcome) error {
	for _, o := range outs {
		if o.InstallmentID != 0 {
			if _, err := tx.ExecContext(ctx, retellSQL, o.ID, owner, o.PlanID, o.InstallmentID, o.Claim); err != nil {
				return fmt.Errorf("record the bill told: %w", err)
			}
		}
		for i, id := range o.HandOver {
			lead, reason := o.HandOver[0], fmt.Sprintf("in digest #%d", o.HandOver[0])
			if i == 0 {
				reason = ""
				if len(o.HandOver) == 1 {
					lead = 0 // the one bill left goes out on its own
				}
			}
			if _, err := tx.ExecContext(ctx, handOverSQL, o.ID, owner, id, now, i == 0, lead, reason, o.Claim); err != nil {
				return fmt.Errorf("hand over digest %d: %w", o.ID, err)
			}
		}
		for _, id := range o.Settled {
			if _, err := tx.ExecContext(ctx, settleMemberSQL, o.ID, owner, id, now, o.Claim); err != nil {
				return fmt.Errorf("settle digest %d's bill: %w", o.ID, err)
			}
		}
		for _, id := range o.Release { // its own notice again, as the one bill left of a handover
			if _, err := tx.ExecContext(ctx, handOverSQL, o.ID, owner, id, now, true, 0, "", o.Claim); err != nil {
				return fmt.Errorf("release from digest %d: %w", o.ID, err)
			}
		}
	}
	return nil
}
