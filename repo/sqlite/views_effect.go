package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"duebell/repo"
)

// viewsEffectSQL is repo's effectSQL in SQLite's terms. $1 reminder kinds,
// $2/$3 the period (a notice's send time, or for the baseline the time its
// notices were created), $4 the as-of time, $5 the suppress reasons that
// make an installment a baseline one, $6 the windows in days: lists as JSON
// arrays, instants as Unix microseconds, a day as 86,400 s (PostgreSQL adds
// calendar days in its session zone, UTC for duebell's connections). A
// reminded installment paid before its notice went is left out, as are
// resends. Without array_agg, it returns one row per group and window, in
// window order, with the stage's baseline counts for that window; Go folds
// the windows into EffectShares.
const viewsEffectSQL = `
WITH win AS (SELECT value AS days FROM json_each($6)),
reminded AS (
	SELECT n.stage, n.stage_offset, n.channel, n.template, i.status, i.paid_at, n.sent_at AS at
	FROM notifications n JOIN installments i ON i.id = n.installment_id
	WHERE n.kind IN (SELECT value FROM json_each($1)) AND n.resend_of IS NULL AND n.sent_at >= $2 AND n.sent_at < $3
	  AND NOT (i.status = 'paid' AND i.paid_at < n.sent_at)
	UNION ALL -- the bills a digest covered, reminded when it went out, by its template
	SELECT m.stage, m.stage_offset, m.channel, l.template, i.status, i.paid_at, l.sent_at AS at
	FROM notifications l
	JOIN notifications m ON m.digest_of = l.id AND m.id <> l.id
	JOIN installments i ON i.id = m.installment_id
	WHERE l.kind IN (SELECT value FROM json_each($1)) AND l.resend_of IS NULL AND l.sent_at >= $2 AND l.sent_at < $3
	  AND l.digest_of = l.id
	  AND NOT (i.status = 'paid' AND i.paid_at < l.sent_at)
), unreminded AS (
	SELECT n.stage, n.installment_id, min(n.created_at) AS at
	FROM notifications n
	WHERE n.kind IN (SELECT value FROM json_each($1)) AND n.resend_of IS NULL AND n.installment_id IS NOT NULL
	  AND n.created_at >= $2 AND n.created_at < $3
	GROUP BY n.stage, n.installment_id
	HAVING min(n.status = 'suppressed' AND
	           CASE WHEN instr(n.status_reason, ';') > 0 THEN substr(n.status_reason, 1, instr(n.status_reason, ';') - 1)
	                ELSE n.status_reason END IN (SELECT value FROM json_each($5)))
), base AS (
	SELECT u.stage, i.status, i.paid_at, u.at
	FROM unreminded u JOIN installments i ON i.id = u.installment_id
), rg AS (
	SELECT x.stage, min(x.stage_offset) AS stage_offset, x.channel, x.template, w.days, count(*) AS n,
	       count(*) FILTER (WHERE x.at + w.days * 86400000000 <= $4) AS ne,
	       count(*) FILTER (WHERE x.at + w.days * 86400000000 <= $4 AND x.status = 'paid'
	                          AND x.paid_at < x.at + w.days * 86400000000) AS np
	FROM reminded x CROSS JOIN win w
	GROUP BY x.stage, x.channel, x.template, w.days
), bg AS (
	SELECT b.stage, w.days, count(*) AS n,
	       count(*) FILTER (WHERE b.at + w.days * 86400000000 <= $4) AS ne,
	       count(*) FILTER (WHERE b.at + w.days * 86400000000 <= $4 AND b.status = 'paid'
	                          AND b.paid_at < b.at + w.days * 86400000000) AS np
	FROM base b CROSS JOIN win w
	GROUP BY b.stage, w.days
)
SELECT rg.stage, coalesce(rg.stage_offset, 0) AS stage_offset, rg.channel, rg.template, rg.n, rg.ne, rg.np,
       coalesce(bg.n, 0) AS base_n, coalesce(bg.ne, 0) AS base_ne, coalesce(bg.np, 0) AS base_np
FROM rg LEFT JOIN bg ON bg.stage = rg.stage AND bg.days = rg.days
ORDER BY 2, rg.stage, rg.channel, rg.template, rg.days`

// EffectReport measures, per stage × channel × template, the share of
// reminded installments paid within each of repo.EffectWindows days of the
// notice's send time, for notices sent in [since, until), against the
// stage's installments that got no notice, as of now (see repo's).
func (s *Store) EffectReport(ctx context.Context, kinds []string, since, until, now time.Time) ([]repo.EffectRow, error) {
	if kinds == nil {
		kinds = []string{}
	}
	kindsJSON, _ := json.Marshal(kinds)
	reasonsJSON, _ := json.Marshal(repo.EffectBaselineReasons())
	windowsJSON, _ := json.Marshal(repo.EffectWindows)
	rows, err := s.db.QueryxContext(ctx, viewsEffectSQL, string(kindsJSON), since, until, now, string(reasonsJSON),
		string(windowsJSON))
	if err != nil {
		return nil, fmt.Errorf("effect report: %w", err)
	}
	defer rows.Close()
	out := []repo.EffectRow{}
	var elig, paid, bElig, bPaid []int64
	flush := func() {
		if len(out) > 0 {
			last := &out[len(out)-1]
			last.Shares, last.Base = repo.EffectShares(elig, paid), repo.EffectShares(bElig, bPaid)
		}
		elig, paid, bElig, bPaid = nil, nil, nil, nil
	}
	for rows.Next() {
		var (
			row                  repo.EffectRow
			ne, np, bN, bNe, bNp int64
		)
		if err := rows.Scan(&row.Stage, &row.Offset, &row.Channel, &row.Template, &row.Sent, &ne, &np,
			&bN, &bNe, &bNp); err != nil {
			return nil, fmt.Errorf("effect report: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Stage != row.Stage || out[n-1].Channel != row.Channel ||
			out[n-1].Template != row.Template {
			flush()
			row.Baseline = bN
			out = append(out, row)
		}
		elig, paid, bElig, bPaid = append(elig, ne), append(paid, np), append(bElig, bNe), append(bPaid, bNp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("effect report: %w", err)
	}
	flush()
	return out, nil
}
