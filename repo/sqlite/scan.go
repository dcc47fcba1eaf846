package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// scanDueSQL queues, for every unsettled installment of an active plan, the
// latest policy stage that applies on the customer's local date — one
// notice per channel of that stage, when it is on the bill's side of the
// due date — in one INSERT … SELECT (repo/scan.go's
// dueScanSQL, whose rules it keeps). As there, $2 maps each customer time
// zone to its local date at the scan, computed in Go (repo.ScanZoneDays).
// Earlier stages missed during downtime are never created; the unique
// dedup key makes the statement idempotent.
//
//	$1 now, $2 [[zone, local date]…], $3 [{name, offset, kind}…],
//	$4 [[stage, channel]…], $5 the latest due date that can be reminded
const scanDueSQL = `
WITH stage AS (
	SELECT value->>'name' AS name, value->>'offset' AS offset_days, value->>'kind' AS kind FROM json_each($3)
), stage_channel AS (
	SELECT value->>0 AS stage, value->>1 AS ch FROM json_each($4)
), zone AS (
	SELECT value->>0 AS tz, value->>1 AS today FROM json_each($2)
), cand AS (
	SELECT i.id AS installment_id, i.plan_id, p.customer_id,
	       CAST(julianday(z.today) - julianday(i.due_date) AS INTEGER) AS days_past
	FROM installments i
	JOIN plans p ON p.id = i.plan_id AND p.status = 'active'
	JOIN customers c ON c.id = p.customer_id
	JOIN zone z ON z.tz = c.timezone
	WHERE i.status = 'pending' AND i.paid < i.amount AND i.due_date <= $5
), latest AS (
	SELECT * FROM (
		SELECT cand.*, stage.name, stage.offset_days, stage.kind,
		       row_number() OVER (PARTITION BY cand.installment_id ORDER BY stage.offset_days DESC) AS rn
		FROM cand JOIN stage ON stage.offset_days <= cand.days_past)
	WHERE rn = 1 AND (offset_days > 0) - (offset_days < 0) = (days_past > 0) - (days_past < 0)
)
INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
                           channel, locale, status, status_reason, not_before, next_attempt_at, created_at, updated_at)
SELECT x.installment_id || ':' || x.name || ':' || x.ch, x.customer_id, x.plan_id, x.installment_id,
       x.kind, x.name, x.offset_days, x.ch, x.locale, ` + repo.NewNoticeStatusSQL + `, reason, $1, $1, $1, $1
FROM (
	SELECT l.*, sc.ch, c.locale, ` + repo.SuppressReasonSQL + ` AS reason
	FROM latest l
	JOIN stage_channel sc ON sc.stage = l.name
	JOIN customers c ON c.id = l.customer_id) x
WHERE true
ON CONFLICT (dedup_key) DO NOTHING`

// scanSkipSQL marks still-pending notices of earlier stages of the
// installments and channels this scan queued for (ids above $2) skipped.
const scanSkipSQL = `
UPDATE notifications AS n
SET status = 'skipped', status_reason = 'superseded by ' || ins.stage, updated_at = $1
FROM (SELECT installment_id, channel, stage, stage_offset FROM notifications WHERE id > $2) AS ins
WHERE n.installment_id = ins.installment_id AND n.channel = ins.channel
  AND n.status = 'pending' AND n.stage_offset < ins.stage_offset`

// QueueDueReminders runs the due-date scan as of now. Writers are
// serialized in the process, so two scans never interleave: the second
// finds everything queued and creates nothing (no ErrBusy here).
func (s *Store) QueueDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error) {
	return s.scanDue(ctx, now, stages, false)
}

// PreviewDueReminders reports what QueueDueReminders would queue as of now,
// writing nothing: the same statements run and are rolled back.
func (s *Store) PreviewDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error) {
	return s.scanDue(ctx, now, stages, true)
}

type scanStage struct {
	Name   string `json:"name"`
	Offset int    `json:"offset"`
	Kind   string `json:"kind"`
}

func (s *Store) scanDue(ctx context.Context, now time.Time, stages []repo.Stage, dryRun bool) (repo.ScanResult, error) {
	st := make([]scanStage, 0, len(stages))
	sc := [][2]string{}
	for _, g := range stages {
		st = append(st, scanStage{g.Name, g.OffsetDays, g.Kind})
		for _, ch := range g.Channels {
			sc = append(sc, [2]string{g.Name, ch})
		}
	}
	stJSON, err := json.Marshal(st)
	if err != nil {
		return repo.ScanResult{}, fmt.Errorf("due scan: %w", err)
	}
	scJSON, err := json.Marshal(sc)
	if err != nil {
		return repo.ScanResult{}, fmt.Errorf("due scan: %w", err)
	}
	horizon := now.UTC().AddDate(0, 0, repo.DueScanLookahead(stages)).Format(repo.DateLayout)

	var res repo.ScanResult
	err = s.withTx(ctx, func(tx *sqlx.Tx) error {
		zones, unknown, err := repo.ScanZoneDays(ctx, tx, now)
		if err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		res.UnknownZones = unknown
		today := make([][2]string, len(zones))
		for i, z := range zones {
			today[i] = [2]string{z.Name, z.Day.String()}
		}
		zJSON, err := json.Marshal(today)
		if err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		var before int64
		if err := tx.GetContext(ctx, &before, `SELECT coalesce(max(id), 0) FROM notifications`); err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		if _, err := tx.ExecContext(ctx, scanDueSQL, now, string(zJSON), string(stJSON), string(scJSON), horizon); err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		if err := tx.SelectContext(ctx, &res.Queued, `
			SELECT kind, stage, channel, status, count(*) AS n FROM notifications WHERE id > $1
			GROUP BY kind, stage, channel, status ORDER BY kind, stage, channel, status`, before); err != nil {
			return fmt.Errorf("due scan: %w", err)
		}
		if res.Total() > 0 {
			r, err := tx.ExecContext(ctx, scanSkipSQL, now, before)
			if err != nil {
				return fmt.Errorf("due scan: skip superseded: %w", err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return fmt.Errorf("due scan: skip superseded: %w", err)
			}
			res.Skipped = int(n)
		}
		if err := scanDigests(ctx, tx, now, stages, zones, &res); err != nil {
			return err
		}
		if dryRun {
			return repo.ErrDryRun
		}
		return nil
	})
	if errors.Is(err, repo.ErrDryRun) {
		return res, nil
	}
	return res, err
}
