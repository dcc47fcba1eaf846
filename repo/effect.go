package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// EffectWindows are the days after a notice within which a payment counts
// for it, in the order EffectShare lists them.
var EffectWindows = []int{1, 3, 7}

// EffectMinBaseline is the fewest unreminded installments a baseline share
// is shown for: below it, chance swamps the comparison.
const EffectMinBaseline = 20

// EffectShare is how many of a group's installments were paid within one
// window: Paid of Eligible, where Eligible counts only those whose window had
// fully passed at the report's as-of time (a notice sent yesterday has no
// 7-day share yet).
type EffectShare struct {
	Days     int
	Eligible int64
	Paid     int64
}

// Ratio is Paid/Eligible; ok is false when no installment's window has
// passed.
func (s EffectShare) Ratio() (ratio float64, ok bool) {
	if s.Eligible == 0 {
		return 0, false
	}
	return float64(s.Paid) / float64(s.Eligible), true
}

// BaseRatio is a baseline share's Ratio, ok only from EffectMinBaseline
// installments.
func (s EffectShare) BaseRatio() (ratio float64, ok bool) {
	if s.Eligible < EffectMinBaseline {
		return 0, false
	}
	return s.Ratio()
}

// EffectRow is one stage × channel × template of reminder notices sent in
// the report's period, with the stage's baseline: installments that got no
// notice of that stage on any channel, every one suppressed because the
// customer opted out or has no address.
type EffectRow struct {
	Stage    string
	Offset   int // the stage's offset_days, for ordering
	Channel  string
	Template string // as recorded at send, e.g. overdue_firm.sms.zh-CN
	Sent     int64  // reminded installments (notices sent)
	Shares   []EffectShare
	Baseline int64 // installments of the stage that got no notice
	Base     []EffectShare
}

// effectSQL is the effect report in one statement. $1 reminder kinds, $2/$3
// the period (a notice's send time, or for the baseline the time its notices
// were created, i.e. when it would have gone), $4 the as-of time, $5 the
// suppress reasons that make an installment a baseline one, $6 the windows
// in days. A reminded installment that was paid before its notice went (a
// payment recorded late) is left out: the notice cannot have moved it.
// Resends are left out: the report measures the policy, not support.
const effectSQL = `
WITH win AS (SELECT unnest($6::int[]) AS days),
reminded AS (
	SELECT n.stage, n.stage_offset, n.channel, n.template, i.status, i.paid_at, n.sent_at AS at
	FROM notifications n JOIN installments i ON i.id = n.installment_id
	WHERE n.kind = ANY($1) AND n.resend_of IS NULL AND n.sent_at >= $2 AND n.sent_at < $3
	  AND NOT (i.status = 'paid' AND i.paid_at < n.sent_at)
	UNION ALL -- the bills a digest covered, reminded when it went out, by its template
	SELECT m.stage, m.stage_offset, m.channel, l.template, i.status, i.paid_at, l.sent_at AS at
	FROM notifications l
	JOIN notifications m ON m.digest_of = l.id AND m.id <> l.id
	JOIN installments i ON i.id = m.installment_id
	WHERE l.kind = ANY($1) AND l.resend_of IS NULL AND l.sent_at >= $2 AND l.sent_at < $3 AND l.digest_of = l.id
	  AND NOT (i.status = 'paid' AND i.paid_at < l.sent_at)
), unreminded AS (
	SELECT n.stage, n.installment_id, min(n.created_at) AS at
	FROM notifications n
	WHERE n.kind = ANY($1) AND n.resend_of IS NULL AND n.installment_id IS NOT NULL
	  AND n.created_at >= $2 AND n.created_at < $3
	GROUP BY n.stage, n.installment_id
	HAVING bool_and(n.status = 'suppressed' AND split_part(n.status_reason, ';', 1) = ANY($5))
), base AS (
	SELECT u.stage, i.status, i.paid_at, u.at
	FROM unreminded u JOIN installments i ON i.id = u.installment_id
), rg AS (
	SELECT stage, min(stage_offset) AS stage_offset, channel, template, max(n) AS n,
	       array_agg(ne ORDER BY days) AS eligible, array_agg(np ORDER BY days) AS paid
	FROM (
		SELECT stage, min(stage_offset) AS stage_offset, channel, template, days, count(*) AS n,
		       count(*) FILTER (WHERE e) AS ne, count(*) FILTER (WHERE p) AS np
		FROM (
			SELECT x.stage, x.stage_offset, x.channel, x.template, w.days,
			       x.at + make_interval(days => w.days) <= $4 AS e,
			       x.at + make_interval(days => w.days) <= $4 AND x.status = 'paid'
			         AND x.paid_at < x.at + make_interval(days => w.days) AS p
			FROM reminded x CROSS JOIN win w
		) y
		GROUP BY stage, channel, template, days -- one stage, whatever offsets a policy edit gave it
	) z
	GROUP BY stage, channel, template
), bg AS (
	SELECT stage, max(n) AS n, array_agg(ne ORDER BY days) AS eligible, array_agg(np ORDER BY days) AS paid
	FROM (
		SELECT b.stage, w.days, count(*) AS n,
		       count(*) FILTER (WHERE b.at + make_interval(days => w.days) <= $4) AS ne,
		       count(*) FILTER (WHERE b.at + make_interval(days => w.days) <= $4 AND b.status = 'paid'
		                          AND b.paid_at < b.at + make_interval(days => w.days)) AS np
		FROM base b CROSS JOIN win w
		GROUP BY b.stage, w.days
	) z
	GROUP BY stage
)
SELECT rg.stage, coalesce(rg.stage_offset, 0) AS stage_offset, rg.channel, rg.template, rg.n,
       rg.eligible, rg.paid, coalesce(bg.n, 0) AS base_n,
       coalesce(bg.eligible, '{}') AS base_eligible, coalesce(bg.paid, '{}') AS base_paid
FROM rg LEFT JOIN bg ON bg.stage = rg.stage
ORDER BY stage_offset, rg.stage, rg.channel, rg.template`

// EffectReport measures, per stage × channel × template, the share of
// reminded installments paid within each of EffectWindows days of the
// notice's send time, for notices sent in [since, until), against the
// stage's installments that got no notice, as of now. kinds are the
// reminder kinds (scheduler's); SQL gets them as a parameter.
func (r *Repo) EffectReport(ctx context.Context, kinds []string, since, until, now time.Time) ([]EffectRow, error) {
	windows := make([]int64, len(EffectWindows))
	for i, d := range EffectWindows {
		windows[i] = int64(d)
	}
	rows, err := r.db.QueryxContext(ctx, effectSQL, pq.Array(kinds), since, until, now, pq.Array(EffectBaselineReasons()),
		pq.Array(windows))
	if err != nil {
		return nil, fmt.Errorf("effect report: %w", err)
	}
	defer rows.Close()
	out := []EffectRow{}
	for rows.Next() {
		var (
			row                      EffectRow
			elig, paid, bElig, bPaid pq.Int64Array
		)
		if err := rows.Scan(&row.Stage, &row.Offset, &row.Channel, &row.Template, &row.Sent, &elig, &paid,
			&row.Baseline, &bElig, &bPaid); err != nil {
			return nil, fmt.Errorf("effect report: %w", err)
		}
		row.Shares, row.Base = EffectShares(elig, paid), EffectShares(bElig, bPaid)
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("effect report: %w", err)
	}
	return out, nil
}
