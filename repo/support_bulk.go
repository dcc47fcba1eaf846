package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"duebell/internal/input"
	"duebell/kinds"
)

// Bulk resend tuning.
const (
	bulkBatch      = 1000 // notices queued per INSERT … SELECT
	BulkSampleSize = 10
)

// BulkFilter selects the notices a bulk resend sends again, typically every
// SMS that failed during a provider outage.
type BulkFilter struct {
	// Status is required: failed, undelivered, sent, delivered, suppressed
	// or skipped (queued notices will be sent anyway).
	Status   string    `json:"status"`
	Channel  string    `json:"channel,omitempty"`
	Kind     string    `json:"kind,omitempty"`
	Provider string    `json:"provider,omitempty"`
	Since    time.Time `json:"since"` // required: the notice reached its status (updated_at) at or after Since
	Until    time.Time `json:"until"` // required: … and before Until
}

// Validate checks f.
func (f BulkFilter) Validate() error {
	for _, v := range []struct{ name, s string }{{"filter.kind", f.Kind}, {"filter.provider", f.Provider}} {
		if err := input.Text(v.s); err != nil {
			return invalidf("%s: %v", v.name, err)
		}
	}
	for _, v := range []struct {
		name string
		t    time.Time
	}{{"filter.since", f.Since}, {"filter.until", f.Until}} {
		if !v.t.IsZero() {
			if err := input.Instant(v.t); err != nil {
				return invalidf("%s: %v", v.name, err)
			}
		}
	}
	switch {
	case f.Status == "":
		return invalidf("filter.status: is required, e.g. failed")
	case f.Status == StatusPending || f.Status == StatusSending:
		return invalidf("filter.status: %s notices are still queued and will be sent", f.Status)
	case !validStatuses[f.Status]:
		return invalidf("filter.status: want failed, undelivered, sent, delivered, suppressed or skipped")
	case f.Channel != "" && !validChannels[f.Channel]:
		return invalidf("filter.channel: want sms or email")
	case f.Kind != "" && !knownKind(f.Kind):
		return invalidf("filter.kind: want one of %s", strings.Join(kinds.Names(), ", "))
	case f.Since.IsZero() || f.Until.IsZero():
		return invalidf("filter.since, filter.until: both are required (the window the notices reached their status in)")
	case !f.Since.Before(f.Until):
		return invalidf("filter.since: must be before filter.until")
	}
	return nil
}

// BulkResendInput asks for every notice matching Filter to be sent again.
type BulkResendInput struct {
	Filter BulkFilter
	Reason string // required, audited
	Actor  string // required
	DryRun bool   // count and sample, write nothing
	Now    time.Time
}

// BulkResendResult is what a bulk resend did (or, on a dry run, would do).
type BulkResendResult struct {
	DryRun  bool `json:"dry_run"`
	Matched int  `json:"matched"` // notices the filter selects
	Count   int  `json:"count"`   // resends queued (or that would be)
	// Skipped counts matched notices not resent, by reason: "installment
	// paid", "plan cancelled", "opted_out", "no_phone", "already resent"
	// (a resend of it is queued or went out, its stage was queued again, or
	// its digest went out: ResentSQL), "duplicate" (a newer matched
	// notice about the same thing to the same customer on the same channel).
	Skipped map[string]int `json:"skipped"`
	// Sample is up to BulkSampleSize of the notices resent, newest first.
	Sample []NoticeSummary `json:"sample"`
}

// ResentSQL is whether matched notice n's bill was told since, in both
// stores: a resend of it is queued or went out; for a reminder whose bill
// was reopened or rescheduled, its stage was queued again as a new notice
// (its stage's key given up, SettledKeySQL and migration 053), alone or in
// a digest that went; or it is a bill of a digest that went out (skipped,
// "in digest #…"); or it is itself a resend for the same reason ($9, the
// bulk resend's): the same bulk resend run again, its window reaching the
// resends the last run sent, resent those, a copy more a run. A second try
// for the same incident takes another reason.
const ResentSQL = `(EXISTS (SELECT 1 FROM notifications r WHERE r.resend_of = n.id
		AND r.status IN ('pending', 'sending', 'sent', 'delivered'))
	OR EXISTS (SELECT 1 FROM notifications l WHERE l.id = n.digest_of AND l.status IN ('sent', 'delivered'))
	OR (n.resend_of IS NOT NULL AND n.resend_reason = $9)
	OR EXISTS (SELECT 1 FROM notifications r WHERE r.installment_id = n.installment_id AND r.id > n.id
		AND r.stage = n.stage AND r.channel = n.channel AND r.resend_of IS NULL AND r.fallback_of IS NULL
		AND (r.status IN ('pending', 'sending', 'sent', 'delivered')
		     OR EXISTS (SELECT 1 FROM notifications l WHERE l.id = r.digest_of AND l.status IN ('sent', 'delivered')))))`

// bulkCandidatesSQL fills the transaction's temporary table with every
// notice the filter matches and why it is skipped (” = resend it). Within
// one action a thing is resent once: matched notices about the same
// installment (reminders of every stage count as one) or event, to the same
// customer on the same channel, collapse to the newest.
var bulkCandidatesSQL = `
INSERT INTO resend_candidates (id, skip)
SELECT id, CASE
		WHEN rn > 1 THEN 'duplicate'
		WHEN settled <> '' THEN settled
		WHEN unreachable <> '' THEN unreachable
		WHEN resent THEN 'already resent'
		ELSE '' END
FROM (
	SELECT n.id, ` + settledReasonSQL("$7") + ` AS settled,
		(SELECT ` + suppressReasonSQL + ` FROM (SELECT n.channel) x(ch)) AS unreachable,
		` + ResentSQL + ` AS resent,
		row_number() OVER (
			PARTITION BY n.customer_id, n.channel, coalesce(n.installment_id, 0), coalesce(n.event_id, 0),
			             CASE WHEN n.kind = ANY($8::text[]) THEN 'reminder' ELSE n.kind END
			ORDER BY n.id DESC) AS rn
	FROM notifications n
	JOIN customers c ON c.id = n.customer_id
	LEFT JOIN plans p ON p.id = n.plan_id
	LEFT JOIN installments i ON i.id = n.installment_id
	WHERE n.status = $1 AND ($2 = '' OR n.channel = $2) AND ($3 = '' OR n.kind = $3)
	  AND ($4 = '' OR n.provider = $4) AND n.updated_at >= $5 AND n.updated_at < $6
) m`

// bulkInsertSQL queues the next batch of resends after id $5, in id order,
// and reports how many and the last original id.
const bulkInsertSQL = `
WITH ins AS (
	INSERT INTO notifications (` + resendColumns + `)
	SELECT ` + resendSelect + `
	FROM resend_candidates rc
	JOIN notifications n ON n.id = rc.id
	CROSS JOIN LATERAL (SELECT n.channel AS ch) x
	WHERE rc.skip = '' AND rc.id > $5
	ORDER BY rc.id
	LIMIT $6
	RETURNING resend_of
)
SELECT count(*), coalesce(max(resend_of), 0) FROM ins`

// errBulkDryRun rolls back a dry run once it has counted.
var errBulkDryRun = errors.New("dry run")

// ResendMatching resends every notice matching in.Filter, or on a dry run
// reports what it would do. The real run is one transaction and one audited
// action (a single audit_log row with the filter, reason and counts) that
// queues the resends in set-based batches; a dry run runs the same
// statements and rolls back, so its count is the real run's. Bulk resends
// are serialized, so two at once never resend the same notice twice.
func (r *Repo) ResendMatching(ctx context.Context, in BulkResendInput) (BulkResendResult, error) {
	if err := in.Prepare(); err != nil {
		return BulkResendResult{}, err
	}
	f := in.Filter
	res := NewBulkResendResult(in.DryRun)
	err := r.withTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, advisoryKey(r.schema+":resend:bulk")); err != nil {
			return fmt.Errorf("bulk resend: lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TEMPORARY TABLE resend_candidates
			(id bigint PRIMARY KEY, skip text NOT NULL) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("bulk resend: %w", err)
		}
		if _, err := tx.ExecContext(ctx, bulkCandidatesSQL, f.Status, f.Channel, f.Kind, f.Provider,
			f.Since, f.Until, pq.Array(kinds.AsksPayment()), pq.Array(kinds.Reminders()), in.Reason); err != nil {
			return fmt.Errorf("bulk resend: select: %w", err)
		}
		if err := BulkCounts(ctx, tx, "resend_candidates", &res); err != nil {
			return err
		}
		if in.DryRun {
			return errBulkDryRun
		}
		queued, after := 0, int64(0)
		for {
			var n int
			var last int64
			if err := tx.QueryRowxContext(ctx, bulkInsertSQL, in.Now, in.Actor, in.Reason, false, after,
				bulkBatch).Scan(&n, &last); err != nil {
				return fmt.Errorf("bulk resend: queue: %w", err)
			}
			queued += n
			if n < bulkBatch {
				break
			}
			after = last
		}
		if err := res.CheckQueued(queued); err != nil {
			return err
		}
		return r.Audit(ctx, tx, in.Now, in.Actor, ActionBulkResend, "notifications", res.AuditDetail(f, in.Reason))
	})
	if err != nil && !errors.Is(err, errBulkDryRun) {
		return BulkResendResult{}, err
	}
	return res, nil
}

// BulkCounts reads the counts and sample of the candidates in table (each
// store's temporary table of a bulk resend: id, skip) into res.
func BulkCounts(ctx context.Context, tx *sqlx.Tx, table string, res *BulkResendResult) error {
	rows, err := tx.QueryxContext(ctx, `SELECT skip, count(*) FROM `+table+` GROUP BY skip`)
	if err != nil {
		return fmt.Errorf("bulk resend: count: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var skip string
		var n int
		if err := rows.Scan(&skip, &n); err != nil {
			return fmt.Errorf("bulk resend: count: %w", err)
		}
		res.Add(skip, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bulk resend: count: %w", err)
	}
	if err := tx.SelectContext(ctx, &res.Sample, `SELECT `+NoticeSummaryColumns+` FROM `+NoticeSummaryFrom+`
		JOIN `+table+` rc ON rc.id = n.id AND rc.skip = ''
		ORDER BY n.id DESC LIMIT $1`, BulkSampleSize); err != nil {
		return fmt.Errorf("bulk resend: sample: %w", err)
	}
	return nil
}
