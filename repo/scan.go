package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ErrBusy is returned by a scan when another replica holds the scan lock.
var ErrBusy = errors.New("another scan is running")

// Stage is one step of the reminder policy, relative to the due date.
type Stage struct {
	Name       string
	OffsetDays int // -3 = three days before the due date, 0 = on it, +1 = a day after
	Kind       string
	Channels   []string
	// Template names the template its notices render ("" = the kind's
	// own); read by the dispatcher, not by the scan.
	Template string
	// DigestChannels are the channels on which its notices of one customer
	// and local day become one notice listing every bill (policy.digest;
	// see digest.go).
	DigestChannels []string
}

// QueuedCount counts the notices a scan created for one kind, stage, channel
// and first status (pending, or suppressed for opted-out/address-less channels).
type QueuedCount struct {
	Kind    string `db:"kind"`
	Stage   string `db:"stage"`
	Channel string `db:"channel"`
	Status  string `db:"status"`
	Count   int    `db:"n"`
}

// ScanResult is what one due-date scan did.
type ScanResult struct {
	Queued  []QueuedCount
	Skipped int // pending notices of earlier stages superseded by a later one
	// UnknownZones are customer time zones duebell could not load: their
	// customers got nothing from this scan.
	UnknownZones []string
}

// Total is the number of notices created.
func (s ScanResult) Total() int {
	n := 0
	for _, q := range s.Queued {
		n += q.Count
	}
	return n
}

// dueScanSQL queues, for every unsettled installment of an active plan, the
// latest policy stage that applies on the customer's local date at $1 ($8,
// $9: each time zone customers live in and its local date then, computed
// in Go by ScanZoneDays; a customer in a zone not listed gets nothing) — one
// notice per channel of that stage, when the stage is on the bill's side of
// its due date today (a policy with no overdue stage reminds nothing past
// the due date: its due_today would be out of date) — and marks still-pending notices of
// earlier stages of the same installment and channel skipped. Earlier stages
// missed during downtime are never created. The unique dedup key makes the
// statement idempotent: ON CONFLICT probes the index and writes nothing for
// notices already queued. (An anti-join against notifications instead would
// rescan the rows this same statement inserts: quadratic on a fresh table.
// Beside ON CONFLICT, one on the dedup key halves a re-scan, 0.75 → 0.30 s
// at 100k, but is quadratic too when the installments' statistics predate
// their due dates: the planner expects no bill due and scans notifications
// once a bill; measured over 60 s against 3.3 s without it.)
// Each installment's latest stage is a LIMIT 1 over the few stages, which
// the planner memoizes per (local date, due date), not a DISTINCT ON that
// sorted every installment × stage pair (on disk at 100k); the customer's
// columns the suppress rule reads ride along instead of a second customer
// lookup per notice. Measured at 100k: 7.2 → 6.0 s, a re-scan 1.16 → 0.71 s.
const dueScanSQL = `
WITH stage AS (
	SELECT * FROM unnest($2::text[], $3::int[], $4::text[]) AS s(name, offset_days, kind)
), stage_channel AS (
	SELECT * FROM unnest($5::text[], $6::text[]) AS s(stage, ch)
), zone AS (
	SELECT * FROM unnest($8::text[], $9::date[]) AS z(tz, today)
), latest AS (
	SELECT i.id AS installment_id, i.plan_id, p.customer_id, c.locale, c.sms_opt_out, c.email_opt_out,
	       c.phone, c.email, st.name, st.offset_days, st.kind
	FROM installments i
	JOIN plans p ON p.id = i.plan_id AND p.status = 'active'
	JOIN customers c ON c.id = p.customer_id
	JOIN zone z ON z.tz = c.timezone
	CROSS JOIN LATERAL (
		SELECT * FROM stage
		WHERE stage.offset_days <= z.today - i.due_date
		ORDER BY stage.offset_days DESC LIMIT 1) st
	WHERE i.status = 'pending' AND i.paid < i.amount
	  AND sign(st.offset_days) = sign(z.today - i.due_date)
	  AND i.due_date <= ($1::timestamptz AT TIME ZONE 'UTC')::date + $7::int
), ins AS (
	INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
	                           channel, locale, status, status_reason, not_before, next_attempt_at, created_at, updated_at)
	SELECT l.installment_id || ':' || l.name || ':' || sc.ch, l.customer_id, l.plan_id, l.installment_id,
	       l.kind, l.name, l.offset_days, sc.ch, l.locale, ` + newNoticeStatusSQL + `, reason, $1, $1, $1, $1
	FROM latest l
	JOIN stage_channel sc ON sc.stage = l.name
	CROSS JOIN LATERAL (SELECT ` + suppressReasonSQL + ` AS reason
		FROM (SELECT sc.ch, l.sms_opt_out, l.email_opt_out, l.phone, l.email) c(ch, sms_opt_out, email_opt_out, phone, email)) s
	ON CONFLICT (dedup_key) DO NOTHING
	RETURNING id, installment_id, kind, stage, stage_offset, channel, status
), skipped AS (
	UPDATE notifications n
	SET status = 'skipped', status_reason = 'superseded by ' || ins.stage, updated_at = $1
	FROM ins
	WHERE n.installment_id = ins.installment_id AND n.channel = ins.channel
	  AND n.status = 'pending' AND n.stage_offset < ins.stage_offset
	RETURNING n.id
)
SELECT kind, stage, channel, status, count(*) AS n, (SELECT count(*) FROM skipped) AS skipped
FROM ins GROUP BY kind, stage, channel, status ORDER BY kind, stage, channel, status`

// ErrDryRun rolls back a dry run (a scan, a bulk resend) once it has counted;
// the stores return it from their transaction and never to a caller.
var ErrDryRun = errors.New("dry run")

// QueueDueReminders runs the due-date scan as of now. Only one replica scans
// at a time: when another holds the lock it returns ErrBusy at once.
func (r *Repo) QueueDueReminders(ctx context.Context, now time.Time, stages []Stage) (ScanResult, error) {
	return r.dueScan(ctx, now, stages, false)
}

// PreviewDueReminders reports what QueueDueReminders would queue as of now,
// writing nothing: the same statement runs and is rolled back.
func (r *Repo) PreviewDueReminders(ctx context.Context, now time.Time, stages []Stage) (ScanResult, error) {
	return r.dueScan(ctx, now, stages, true)
}

func (r *Repo) dueScan(ctx context.Context, now time.Time, stages []Stage, dryRun bool) (ScanResult, error) {
	var (
		names, kinds, scStage, scChannel []string
		offsets                          []int64
	)
	for _, s := range stages {
		names = append(names, s.Name)
		offsets = append(offsets, int64(s.OffsetDays))
		kinds = append(kinds, s.Kind)
		for _, ch := range s.Channels {
			scStage = append(scStage, s.Name)
			scChannel = append(scChannel, ch)
		}
	}
	lookahead := DueScanLookahead(stages)

	var res ScanResult
	err := r.withTx(ctx, func(tx *sqlx.Tx) error {
		ok, err := r.tryXactLock(ctx, tx, "scan:due")
		if err != nil {
			return err
		}
		if !ok {
			return ErrBusy
		}
		if err := analyzeStale(ctx, tx, "customers", "plans", "installments"); err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		zones, unknown, err := ScanZoneDays(ctx, tx, now)
		if err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		res.UnknownZones = unknown
		zNames, zDays := make([]string, len(zones)), make([]string, len(zones))
		for i, z := range zones {
			zNames[i], zDays[i] = z.Name, z.Day.String()
		}
		rows, err := tx.QueryxContext(ctx, dueScanSQL, now, pq.Array(names), pq.Array(offsets), pq.Array(kinds),
			pq.Array(scStage), pq.Array(scChannel), lookahead, pq.Array(zNames), pq.Array(zDays))
		if err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var q QueuedCount
			if err := rows.Scan(&q.Kind, &q.Stage, &q.Channel, &q.Status, &q.Count, &res.Skipped); err != nil {
				return fmt.Errorf("due scan: %w", err)
			}
			res.Queued = append(res.Queued, q)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		if err := digestScan(ctx, tx, now, stages, zones, &res); err != nil {
			return err
		}
		if dryRun {
			return ErrDryRun
		}
		return nil
	})
	if errors.Is(err, ErrDryRun) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	return res, r.analyzeAfterBulk(ctx, res.Total())
}
