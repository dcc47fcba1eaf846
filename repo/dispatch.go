package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"duebell/kinds"
)

// Claim is a notice leased to one dispatcher, with what is needed to re-check
// and render it: the customer, and the plan and installment when it has them.
type Claim struct {
	Notification
	Customer     Customer    `db:"c"`
	Plan         Plan        `db:"p"`
	Installment  Installment `db:"i"`
	EventPayload []byte      `db:"event_payload"`
	// PaymentAmount is, for a settled installment, what the payments that
	// settled it brought (those recorded at its paid_at): the payment a
	// confirmation speaks of, where Installment.Paid is everything paid on
	// the bill. 0 when none was recorded (settled by a plan push).
	PaymentAmount int64 `db:"payment_amount"`
	// Outstanding is, for a notice of a kind that reports it (kinds.Kind
	// Outstanding: service_closed), what is still unpaid on
	// the active plans it speaks of, as of the claim (see outstandingSQL).
	Outstanding int64 `db:"outstanding"`
	// For an SMS notice when the per-customer cap is on (see smsCapJoinSQL):
	// SMSSent counts the customer's SMS that reached a provider in the 24
	// hours before the claim, SMSOldest is the earliest of them, and
	// SMSInFlight counts the customer's other SMS claimed by a worker (this
	// claim's own excluded) that may be reaching a provider right now.
	SMSSent     int        `db:"sms_sent"`
	SMSOldest   *time.Time `db:"sms_oldest"`
	SMSInFlight int        `db:"sms_in_flight"`
}

// RescuedReason is the status_reason of a notice whose lease ran out.
const RescuedReason = "lease expired: outcome of the last try unknown"

// rescueSQL returns notices whose lease ran out as of $1 (a crashed or cut
// off worker's; not those of owner $2, the live rescuer's own) to the queue, and logs the try that worker had started as an
// attempt with the outcome 'unknown': it may have reached the provider, so
// support staff can see that a duplicate may go out, and a notice's attempts
// always match its attempt rows. The notices keep their next_attempt_at, so
// they are claimed first. A notice locked meanwhile is left for the next
// rescue: its owner is writing its outcome or extending its lease (back
// from a stall longer than the lease), and is alive after all. Rescuing it
// waited for that owner's transaction, and locking rows in no order beside
// the owner's id order deadlocked (seen under load: 40P01, a second lost
// on both sides). The try names the provider the notice went to, else
// (a first try: the column is written with its outcome) the one its
// channel sends through ($3, a JSON object by channel).
var rescueSQL = `
WITH rescued AS (
	UPDATE notifications SET status = ` + RequeuedStatusSQL("dedup_key", "'pending'") + `,
		lease_owner = NULL, lease_expires_at = NULL, updated_at = $1,
		status_reason = ` + RequeuedReasonSQL("dedup_key", "'pending'", "'"+RescuedReason+"'") + `
	WHERE id IN (SELECT id FROM notifications WHERE status = 'sending' AND lease_expires_at < $1 AND lease_owner <> $2
	             ORDER BY id FOR UPDATE SKIP LOCKED)
	RETURNING id, attempts, channel, provider
)
INSERT INTO delivery_attempts (notification_id, n, channel, provider, started_at, finished_at, outcome, error)
SELECT r.id, r.attempts, r.channel, coalesce(nullif(r.provider, ''), $3::jsonb ->> r.channel, ''), coalesce(n.claimed_at, $1), $1, 'unknown',
	'lease expired: the worker stopped before recording the outcome; the message may have gone out'
FROM rescued r JOIN LATERAL (
	SELECT x.updated_at AS claimed_at FROM notifications x WHERE x.id = r.id) n ON true`

// RescueExpired returns notices whose lease expired before now to the queue,
// except those owner keep holds (a live dispatcher's own: its outcomes are
// still to be written), logging each lost try; it reports how many it
// rescued. Each lost try names the provider the notice went to, else the
// one its channel sends through (providers, by channel).
func (r *Repo) RescueExpired(ctx context.Context, now time.Time, keep string, providers map[string]string) (int, error) {
	byChannel, err := json.Marshal(providers)
	if err != nil {
		return 0, fmt.Errorf("rescue expired leases: %w", err)
	}
	res, err := r.db.ExecContext(ctx, rescueSQL, now, keep, string(byChannel))
	if err != nil {
		return 0, fmt.Errorf("rescue expired leases: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ExtendLeases moves the lease of every notice owner holds to now + lease
// (never earlier than it was), so a batch that takes longer than one lease
// to work is not rescued from a worker that is still alive. It locks the
// rows in id order, as FinishNotifications does, so the two never deadlock;
// it waits for a claim still committing rather than skip its rows, whose
// lease would then run from the claim's older clock. It returns the ids of
// the notices whose leases it extended, in id order: a notice owner
// claimed and does not find there is no longer its own (its lease ran out
// and another worker rescued it), and must not be sent by owner.
func (r *Repo) ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]int64, error) {
	ids := []int64{}
	err := r.db.SelectContext(ctx, &ids, `
		WITH extended AS (
			UPDATE notifications SET lease_expires_at = greatest(lease_expires_at, $2::timestamptz + $3::interval)
			WHERE id IN (SELECT id FROM notifications WHERE status = 'sending' AND lease_owner = $1
			             ORDER BY id FOR UPDATE)
			RETURNING id)
		SELECT id FROM extended ORDER BY id`, owner, now, lease.String())
	if err != nil {
		return nil, fmt.Errorf("extend leases: %w", err)
	}
	return ids, nil
}

// claimSQL leases up to $4 pending notices whose time has come ($2) to
// owner $1 until $7 + $3 ($7: the lease clock's now), oldest first. SKIP LOCKED lets every replica claim from the
// same queue; the (next_attempt_at, id) partial index keeps each claim a
// short index scan however long the queue is. $5 is the per-customer SMS cap
// (0: none), which decides whether the cap's counts are read at all; $6 the
// kinds that report what is still owed (see outstandingSQL).
const claimSQL = `
WITH claimed AS (
	UPDATE notifications n
	SET status = 'sending', lease_owner = $1, lease_expires_at = $7::timestamptz + $3::interval,
	    attempts = n.attempts + 1, updated_at = $2
	WHERE n.id IN (
		SELECT id FROM notifications
		WHERE status = 'pending' AND next_attempt_at <= $2
		ORDER BY next_attempt_at, id
		LIMIT $4
		FOR UPDATE SKIP LOCKED)
	RETURNING n.*
)
SELECT claimed.*,
	` + ClaimColumns + `, ` + outstandingSQL + ` AS outstanding,
	coalesce(sent.n, 0) AS sms_sent, sent.oldest AS sms_oldest, coalesce(flying.n, 0) AS sms_in_flight
FROM claimed
` + claimJoinsSQL + smsCapJoinSQL + `
ORDER BY claimed.next_attempt_at, claimed.id`

// ClaimColumns are a claim's customer (c), plan (p), installment (i) and
// event payload (e) columns, and the settling payment's amount, as
// repo.Claim scans them, in both stores' claims; a notice without a plan or
// installment reads zeros.
const ClaimColumns = `c.id AS "c.id", c.ref AS "c.ref", c.name AS "c.name", c.phone AS "c.phone", c.email AS "c.email",
	c.locale AS "c.locale", c.timezone AS "c.timezone", c.sms_opt_out AS "c.sms_opt_out",
	c.email_opt_out AS "c.email_opt_out", c.created_at AS "c.created_at", c.updated_at AS "c.updated_at",
	coalesce(p.id, 0) AS "p.id", coalesce(p.ref, '') AS "p.ref", coalesce(p.merchant, '') AS "p.merchant",
	coalesce(p.title, '') AS "p.title", coalesce(p.currency, 'CNY') AS "p.currency", coalesce(p.total, 0) AS "p.total",
	coalesce(p.periods, 0) AS "p.periods", coalesce(p.status, '') AS "p.status",
	coalesce(p.repay_method, '') AS "p.repay_method", coalesce(p.card_last4, '') AS "p.card_last4",
	coalesce(i.id, 0) AS "i.id", coalesce(i.seq, 0) AS "i.seq", i.due_date AS "i.due_date",
	coalesce(i.amount, 0) AS "i.amount", coalesce(i.paid, 0) AS "i.paid", coalesce(i.status, '') AS "i.status",
	i.paid_at AS "i.paid_at",
	coalesce(e.payload, '{}') AS event_payload,
	coalesce(CASE WHEN i.status = 'paid' THEN (SELECT CAST(sum(pm.amount) AS BIGINT) FROM payments pm
		WHERE pm.installment_id = i.id AND pm.paid_at = i.paid_at) END, 0) AS payment_amount`

// claimJoinsSQL looks up each claimed notice's customer, plan, installment
// and event by primary key, one row at a time: a claim is a few hundred
// rows, and the planner, which cannot see inside the CTE, would otherwise
// hash-join whole tables (measured: a sequential scan of installments in
// every claim). LIMIT 1 keeps each lookup from being flattened back into a join.
const claimJoinsSQL = `
CROSS JOIN LATERAL (SELECT * FROM customers WHERE id = claimed.customer_id LIMIT 1) c
LEFT JOIN LATERAL (SELECT * FROM plans WHERE id = claimed.plan_id LIMIT 1) p ON true
LEFT JOIN LATERAL (SELECT * FROM installments WHERE id = claimed.installment_id LIMIT 1) i ON true
LEFT JOIN LATERAL (SELECT * FROM channel_events WHERE id = claimed.event_id LIMIT 1) e ON true`

// ClaimNotifications leases up to limit sendable notices as of now, until
// leaseNow + lease: leases run on the lease clock (leaseNow), which a run
// pinned to another instant (dispatch --once --at) does not move. With
// smsCap > 0 each SMS claim carries the customer's SMS counts the cap needs.
func (r *Repo) ClaimNotifications(ctx context.Context, owner string, now, leaseNow time.Time, lease time.Duration, limit, smsCap int) ([]Claim, error) {
	for retried := false; ; retried = true {
		s, err := r.prepared(ctx, claimSQL)
		if err != nil {
			return nil, fmt.Errorf("claim notifications: %w", err)
		}
		out := make([]Claim, 0, limit) // room for a full claim: no regrowing of a slice of wide rows
		err = s[0].SelectContext(ctx, &out, owner, now, lease.String(), limit, smsCap, pq.Array(kinds.Outstanding()), leaseNow)
		if isStalePlan(err) && !retried { // refused before it claimed anything
			r.forget(claimSQL)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("claim notifications: %w", err)
		}
		return out, nil
	}
}

// reloadClaimSQL reads one claimed notice as ClaimNotifications returned
// it, with its customer, plan, installment and event as they are now (not
// the cap's counts, nor what is outstanding).
const reloadClaimSQL = `
SELECT claimed.*, ` + ClaimColumns + `, 0 AS outstanding, 0 AS sms_sent, NULL AS sms_oldest, 0 AS sms_in_flight
FROM notifications claimed
` + claimJoinsSQL + `
WHERE claimed.id = $1`

// ReloadClaim reads claim id afresh: the dispatcher re-checks a notice
// that waited long since its claim against the data as it is now.
func (r *Repo) ReloadClaim(ctx context.Context, id int64) (Claim, error) {
	var c Claim
	if err := r.db.GetContext(ctx, &c, reloadClaimSQL, id); err != nil {
		return Claim{}, NotFound(err, fmt.Sprintf("notice %d", id))
	}
	return c, nil
}

// Outcome is how the dispatcher leaves one claimed notice.
type Outcome struct {
	ID int64
	// Claim is the claim the outcome ends: the notice's attempts as that
	// claim left them (Claim.Attempts). The notice is left as the outcome
	// says only while that claim holds it: a later claim of the same owner
	// (the lease ran out, another worker rescued the notice, and the owner
	// claimed it again) has a higher count, and an outcome of the older
	// claim written late must not land on it. 0: not checked.
	Claim  int
	Status string // sent, pending (retry or deferral), suppressed, failed
	Reason string // status_reason
	// NextAttemptAt is when a pending notice may be claimed again.
	NextAttemptAt time.Time
	// Deferred gives back the claim's attempt: the notice was not tried
	// (deferred to its send window, released at shutdown, suppressed or
	// skipped at send time), so it does not count against max attempts and
	// attempts keeps matching the attempt rows.
	Deferred bool
	// Rendered content and where it went; empty when not rendered.
	Template, Recipient, Subject, Body, BodyHTML, Link string
	Provider, ProviderMsgID, LastError                 string
	SentAt                                             *time.Time
	// Attempt is the delivery try to log; nil when nothing was sent.
	Attempt *Attempt
	// PlanID and InstallmentID, when set, are the bill a resend or
	// fallback of a digest told of in place of its own, which dropped out
	// at send time: the notice is recorded as telling of it, so the log
	// and the notice's link name the bill the message asked to pay.
	PlanID, InstallmentID int64
	// HandOver is, for a digest's leader that did not go out because its
	// own bill dropped out at send time, the notices of the bills still to
	// be told: the first now goes out for them all (on its own when it is
	// the only one), through its own row.
	HandOver []int64
	// Release is, for a digest's leader, the notices of bills that left
	// its digest because their due date moved later: each is its own
	// notice again (pending, in no digest) and waits for its stage's day.
	Release []int64
	// Settled is, for a digest's leader, the notices of bills paid or
	// waived before it went: each ends as it would alone (suppressed,
	// "installment paid"), its stage's key given up (SettledKeySQL), so a
	// reversal that reopens the bill has the next scan queue the stage.
	Settled []int64
}

// SettledKeySQL is a finished notice's dedup key: the stage's own, or,
// for a reminder suppressed because its bill was paid or waived, that key
// with "#" and the notice's id (the dialect's key, id, status and reason
// expressions), so the stage's key is free again. A reversal or a push
// that reopens the bill then has the next scan queue the stage that is
// due, as for a bill never settled; while it stays settled no scan queues
// it (scans read unsettled bills only).
func SettledKeySQL(key, id, status, reason string) string {
	return `CASE WHEN ` + status + ` = 'suppressed' AND (` + reason + ` LIKE 'installment paid%' OR ` + reason + ` LIKE 'installment waived%')
		THEN ` + key + ` || '#' || ` + id + ` ELSE ` + key + ` END`
}

// MovedInFlightReason is why a stage reminder that comes back to the queue
// (a retry, a hold, a lapsed lease) is skipped instead: a push moved its
// bill later while it was being sent and gave its key up ("#<id>@<old
// date>", migration 053), so the new date's reminder of the stage takes its
// place.
const MovedInFlightReason = "due date moved while it was being sent: the reminder for the new date takes its place"

// movedInFlightSQL is true for a notice with dedup key key given status
// when that status puts it back in the queue after a due-date move gave its
// key up.
func movedInFlightSQL(key, status string) string {
	return status + ` = 'pending' AND ` + key + ` LIKE '%#%@%'`
}

// RequeuedStatusSQL is the status of a notice with dedup key key given
// status: skipped instead of pending when a due-date move gave its key up
// while it was being sent (MovedInFlightReason), else status.
func RequeuedStatusSQL(key, status string) string {
	return `CASE WHEN ` + movedInFlightSQL(key, status) + ` THEN 'skipped' ELSE ` + status + ` END`
}

// RequeuedReasonSQL is the status_reason that goes with RequeuedStatusSQL.
func RequeuedReasonSQL(key, status, reason string) string {
	return `CASE WHEN ` + movedInFlightSQL(key, status) + ` THEN '` + MovedInFlightReason + `' ELSE ` + reason + ` END`
}

var finishSQL = `
UPDATE notifications n SET
	dedup_key = ` + SettledKeySQL("n.dedup_key", "n.id", "u.status", "u.reason") + `,
	status = ` + RequeuedStatusSQL("n.dedup_key", "u.status") + `,
	status_reason = ` + RequeuedReasonSQL("n.dedup_key", "u.status", "u.reason") + `,
	next_attempt_at = coalesce(u.next_at, n.next_attempt_at),
	attempts = n.attempts - CASE WHEN u.deferred THEN 1 ELSE 0 END,
	template = coalesce(nullif(u.template, ''), n.template), recipient = coalesce(nullif(u.recipient, ''), n.recipient),
	subject = coalesce(nullif(u.subject, ''), n.subject), body = coalesce(nullif(u.body, ''), n.body),
	body_html = coalesce(nullif(u.body_html, ''), n.body_html), link = coalesce(nullif(u.link, ''), n.link),
	provider = coalesce(nullif(u.provider, ''), n.provider),
	provider_msg_id = coalesce(nullif(u.provider_msg_id, ''), n.provider_msg_id),
	last_error = coalesce(nullif(u.last_error, ''), n.last_error), sent_at = coalesce(u.sent_at, n.sent_at),
	lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
FROM unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::bool[], $8::text[], $9::text[],
            $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::timestamptz[],
            $18::int[])
	AS u(id, status, reason, next_at, deferred, template, recipient, subject, body, body_html, link,
	     provider, provider_msg_id, last_error, sent_at, claim)
WHERE n.id = u.id AND n.status = 'sending' AND n.lease_owner = $1 AND (u.claim = 0 OR n.attempts = u.claim)`

const (
	receiptLocksSQL = `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) k`
	// Row locks in id order, as ExtendLeases takes them: the two never deadlock.
	lockNoticesSQL = `SELECT 1 FROM notifications WHERE id = ANY($1) ORDER BY id FOR UPDATE`
)

// attemptsSQL logs a group's tries. A try already logged is not logged
// again: when the connection drops after the database committed a group
// but before the reply reached us, the dispatcher writes the group again,
// and the same try would otherwise stand twice (two "sent" rows for one SMS).
const attemptsSQL = `
INSERT INTO delivery_attempts (notification_id, n, channel, provider, started_at, finished_at, outcome,
                               provider_msg_id, code, error)
SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                     $7::text[], $8::text[], $9::text[], $10::text[])
	AS a (notification_id, n, channel, provider, started_at, finished_at, outcome, provider_msg_id, code, error)
WHERE NOT EXISTS (SELECT 1 FROM delivery_attempts d WHERE d.notification_id = a.notification_id AND d.n = a.n
                  AND d.started_at = a.started_at AND d.outcome = a.outcome)`

// FinishNotifications records a batch of outcomes in one transaction: every
// attempt row, and each notice's new state. A notice whose lease was lost to
// another worker, or to a later claim of owner's (Outcome.Claim), keeps that
// claim's state; its attempt is still logged.
func (r *Repo) FinishNotifications(ctx context.Context, owner string, now time.Time, outs []Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	var (
		ids                                                               []int64
		statuses, reasons, templates, recipients, subjects, bodies, htmls []string
		links, providers, msgIDs, lastErrs                                []string
		nextAts, sentAts                                                  []*time.Time
		deferred                                                          []bool
		claimed                                                           []int64
		aNotif                                                            []int64
		aN                                                                []int64
		aChannel, aProvider, aOutcome, aMsgID, aCode, aErr                []string
		aStarted, aFinished                                               []time.Time
	)
	for _, o := range outs {
		ids = append(ids, o.ID)
		statuses = append(statuses, o.Status)
		reasons = append(reasons, o.Reason)
		nextAts = append(nextAts, o.NextAt())
		deferred = append(deferred, o.Deferred)
		claimed = append(claimed, int64(o.Claim))
		templates = append(templates, o.Template)
		recipients = append(recipients, o.Recipient)
		subjects = append(subjects, o.Subject)
		bodies = append(bodies, o.Body)
		htmls = append(htmls, o.BodyHTML)
		links = append(links, o.Link)
		providers = append(providers, o.Provider)
		msgIDs = append(msgIDs, o.ProviderMsgID)
		lastErrs = append(lastErrs, o.LastError)
		sentAts = append(sentAts, o.SentAt)
		if a := o.Attempt; a != nil {
			aNotif = append(aNotif, o.ID)
			aN = append(aN, int64(a.N))
			aChannel = append(aChannel, a.Channel)
			aProvider = append(aProvider, a.Provider)
			aStarted = append(aStarted, a.StartedAt)
			aFinished = append(aFinished, a.FinishedAt)
			aOutcome = append(aOutcome, a.Outcome)
			aMsgID = append(aMsgID, a.ProviderMsgID)
			aCode = append(aCode, a.Code)
			aErr = append(aErr, a.Error)
		}
	}
	lockKeys := r.receiptLockKeys(outs)
	stmts, err := r.prepared(ctx, receiptLocksSQL, lockNoticesSQL, attemptsSQL, finishSQL, applyStoredReceiptsSQL)
	if err != nil {
		return fmt.Errorf("finish notifications: %w", err)
	}
	lockReceipts, lockNotices, logAttempts, finish, applyReceipts := stmts[0], stmts[1], stmts[2], stmts[3], stmts[4]
	exec := func(tx *sqlx.Tx, s *sqlx.Stmt, args ...any) error {
		_, err := tx.StmtxContext(ctx, s).ExecContext(ctx, args...)
		return err
	}
	return r.withTx(ctx, func(tx *sqlx.Tx) error {
		if len(lockKeys) > 0 { // before any row lock: see RecordReceipt
			if err := exec(tx, lockReceipts, pq.Array(lockKeys)); err != nil {
				return fmt.Errorf("receipt locks: %w", err)
			}
		}
		if err := exec(tx, lockNotices, pq.Array(ids)); err != nil {
			return fmt.Errorf("lock notices: %w", err)
		}
		if len(aNotif) > 0 {
			if err := exec(tx, logAttempts, pq.Array(aNotif), pq.Array(aN), textArray(aChannel),
				textArray(aProvider), pq.Array(aStarted), pq.Array(aFinished), textArray(aOutcome), textArray(aMsgID),
				textArray(aCode), textArray(aErr)); err != nil {
				return fmt.Errorf("log attempts: %w", err)
			}
		}
		if err := RecordTold(ctx, tx, owner, now, outs); err != nil {
			return err
		}
		if err := exec(tx, finish, owner, now, pq.Array(ids), textArray(statuses), textArray(reasons),
			pq.Array(nextAts), pq.Array(deferred), textArray(templates), textArray(recipients), textArray(subjects),
			textArray(bodies), textArray(htmls), textArray(links), textArray(providers), textArray(msgIDs),
			textArray(lastErrs), pq.Array(sentAts), pq.Array(claimed)); err != nil {
			return fmt.Errorf("finish notifications: %w", err)
		}
		if ids := SentIDs(outs); len(ids) > 0 {
			if err := exec(tx, applyReceipts, pq.Array(ids), now); err != nil {
				return fmt.Errorf("apply stored receipts: %w", err)
			}
		}
		return nil
	})
}

// GetNotification loads one notice.
func (q Common) GetNotification(ctx context.Context, id int64) (Notification, error) {
	var n Notification
	if err := q.db.GetContext(ctx, &n, `SELECT * FROM notifications WHERE id = $1`, id); err != nil {
		return n, NotFound(err, fmt.Sprintf("notification %d", id))
	}
	return n, nil
}

// ListAttempts returns the delivery tries of one notice, oldest first.
func (q Common) ListAttempts(ctx context.Context, notificationID int64) ([]Attempt, error) {
	var out []Attempt
	if err := q.db.SelectContext(ctx, &out,
		`SELECT * FROM delivery_attempts WHERE notification_id = $1 ORDER BY n, id`, notificationID); err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return out, nil
}

// StatusCount is a number of notices in one status on one channel.
type StatusCount struct {
	Status  string `db:"status"`
	Channel string `db:"channel"`
	Count   int64  `db:"n"`
}

// QueueDepth counts the notices still to be sent (pending, sending).
func (q Common) QueueDepth(ctx context.Context) ([]StatusCount, error) {
	var out []StatusCount
	if err := q.db.SelectContext(ctx, &out, `SELECT status, channel, count(*) AS n FROM notifications
		WHERE status IN ('pending', 'sending') GROUP BY status, channel ORDER BY status, channel`); err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	return out, nil
}

// NextDue is when the earliest pending notice falls due; false when none is
// pending. The claim's partial index answers it with one index read.
func (r *Repo) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next *time.Time
	if err := r.db.GetContext(ctx, &next, `SELECT min(next_attempt_at) FROM notifications WHERE status = 'pending'`); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return *next, true, nil
}
