package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// scanDigestReleaseSQL gives the members of a digest whose leader this scan
// ($1) superseded (its own bill reached a later stage) their own notice
// back, unless their bill has a later stage's notice too (repo/digest.go's
// digestReleaseSQL).
var scanDigestReleaseSQL = `
UPDATE notifications AS m SET status = 'pending', status_reason = '', digest_of = NULL, updated_at = $1
WHERE m.status = 'skipped' AND m.digest_of <> m.id
  AND m.digest_of IN (SELECT l.id FROM notifications l
                      WHERE l.status = 'skipped' AND l.updated_at = $1 AND l.digest_of = l.id)
  AND NOT EXISTS (SELECT 1 FROM notifications x WHERE x.installment_id = m.installment_id
                  AND x.channel = m.channel AND x.stage_offset > m.stage_offset AND ` + repo.HoldsStageSQL("x") + `)`

// scanDigestGroupSQL groups, for each customer × stage × channel this scan
// ($1) queued a notice for (of the stage × channel pairs that digest, $2),
// the pending, not yet claimed reminder notices queued on the customer's
// local day of the scan ($3: each zone's day as [zone, start, end) in
// microseconds, and its date) whose stage's day has come (not one whose
// bill's due date moved later since), of plans in one currency: the group's existing leader
// stays leader (else the oldest notice leads) and the others are skipped as
// covered by it (repo/digest.go's digestGroupSQL). A claimed notice is
// sending, not pending, so a leader never gains members once claimed; the
// write lock this scan holds keeps claims out while it groups.
const scanDigestGroupSQL = `
WITH digesting AS (
	SELECT value->>0 AS stage, value->>1 AS channel FROM json_each($2)
), zone AS (
	SELECT value->>0 AS tz, value->>1 AS day_start, value->>2 AS day_end, value->>3 AS day FROM json_each($3)
), touched AS (
	SELECT DISTINCT n.customer_id, n.stage, n.channel FROM notifications n
	JOIN digesting s ON s.stage = n.stage AND s.channel = n.channel
	WHERE n.created_at = $1 AND n.status = 'pending' AND n.digest_of IS NULL AND n.dedup_key IS NOT NULL
), grp AS (
	SELECT n.id, count(*) OVER w AS size,
	       coalesce(min(CASE WHEN n.digest_of = n.id THEN n.id END) OVER w, min(n.id) OVER w) AS leader
	FROM touched t
	JOIN customers c ON c.id = t.customer_id
	JOIN zone z ON z.tz = c.timezone
	JOIN notifications n ON n.customer_id = t.customer_id AND n.stage = t.stage AND n.channel = t.channel
	JOIN plans p ON p.id = n.plan_id
	JOIN installments i ON i.id = n.installment_id
	WHERE n.status = 'pending' AND n.dedup_key IS NOT NULL AND n.installment_id IS NOT NULL
	  AND (n.digest_of IS NULL OR n.digest_of = n.id)
	  AND n.created_at >= z.day_start AND n.created_at < z.day_end
	  AND date(i.due_date, n.stage_offset || ' days') <= z.day
	WINDOW w AS (PARTITION BY t.customer_id, t.stage, t.channel, p.currency)
)
UPDATE notifications AS n
SET digest_of = g.leader,
    status = CASE WHEN n.id = g.leader THEN n.status ELSE 'skipped' END,
    status_reason = CASE WHEN n.id = g.leader THEN n.status_reason ELSE 'in digest #' || g.leader END,
    updated_at = $1
FROM grp g
WHERE n.id = g.id AND g.size > 1 AND n.digest_of IS NOT g.leader`

// scanDigests runs, inside the due-date scan's transaction, the release of
// superseded digests and the grouping of the queued notices, and counts
// the notices res says it queued that went into a digest as skipped.
func scanDigests(ctx context.Context, tx *sqlx.Tx, now time.Time, stages []repo.Stage, zones []repo.ZoneDay, res *repo.ScanResult) error {
	if _, err := tx.ExecContext(ctx, scanDigestReleaseSQL, now); err != nil {
		return fmt.Errorf("due scan: release digests: %w", err)
	}
	names, channels := repo.DigestPairs(stages)
	if len(names) == 0 || res.Total() == 0 {
		return nil
	}
	pairs := make([][2]string, len(names))
	for i := range names {
		pairs[i] = [2]string{names[i], channels[i]}
	}
	days := make([][4]any, len(zones))
	for i, z := range zones {
		days[i] = [4]any{z.Name, z.Start.UnixMicro(), z.End.UnixMicro(), z.Day.String()}
	}
	pJSON, err := json.Marshal(pairs)
	if err != nil {
		return fmt.Errorf("due scan: group digests: %w", err)
	}
	dJSON, err := json.Marshal(days)
	if err != nil {
		return fmt.Errorf("due scan: group digests: %w", err)
	}
	if _, err := tx.ExecContext(ctx, scanDigestGroupSQL, now, string(pJSON), string(dJSON)); err != nil {
		return fmt.Errorf("due scan: group digests: %w", err)
	}
	return res.InDigests(ctx, tx, now)
}
