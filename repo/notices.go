package repo

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// suppressReasonSQL decides, for a new notice on channel column "ch" to the
// customer row "c", why it cannot be sent at all: an opted-out channel or a
// missing address. ” means it can be queued. Every statement that creates
// notices uses it, so scans, payments and events agree on the rule.
const suppressReasonSQL = `CASE
	WHEN ch = 'sms'   AND c.sms_opt_out   THEN 'opted_out'
	WHEN ch = 'email' AND c.email_opt_out THEN 'opted_out'
	WHEN ch = 'sms'   AND c.phone = ''    THEN 'no_phone'
	WHEN ch = 'email' AND c.email = ''    THEN 'no_email'
	ELSE '' END`

// SuppressReasonSQL is suppressReasonSQL for the other store: plain SQL (CASE,
// =, boolean columns) that SQLite runs as PostgreSQL does, so both keep one
// rule.
const SuppressReasonSQL = suppressReasonSQL

// NewNoticeStatusSQL is newNoticeStatusSQL for the other store.
const NewNoticeStatusSQL = newNoticeStatusSQL

// newNoticeStatusSQL turns the reason computed by suppressReasonSQL (as
// column "reason") into the notice's first status.
const newNoticeStatusSQL = `CASE WHEN reason = '' THEN 'pending' ELSE 'suppressed' END`

// bulkAnalyzeThreshold is how many notices one scan must create before it
// refreshes the planner's statistics of the notifications table.
const bulkAnalyzeThreshold = 5000

// analyzeNoticesSQL refreshes, after a scan, the statistics of the columns
// that the statements planned next filter, join and sort on: the claim
// (status, next_attempt_at), the SMS cap and the contact limits
// (customer_id, channel, kind, sent_at), the digest's grouping (stage,
// created_at, digest_of, installment_id) and the event scan (plan_id).
// The other columns (bodies, reasons, providers' ids: most of the row)
// keep autovacuum's statistics. A full ANALYZE of a 200k-notice log took
// 0.34 s, this one 0.19 s: a twentieth of a 100k-installment scan.
const analyzeNoticesSQL = `ANALYZE notifications (status, next_attempt_at, customer_id, channel, kind, sent_at,
	stage, created_at, digest_of, installment_id, plan_id)`

// staleStatsSQL names, of the tables $1, those holding rows whose planner
// statistics are missing, or older than changes to over a fifth of their
// rows (and over 1,000): PostgreSQL's own counts, which lag a second or so.
const staleStatsSQL = `
SELECT relname FROM pg_stat_user_tables
WHERE relid = ANY ($1::regclass[]) AND n_live_tup + n_mod_since_analyze > 0
  AND (coalesce(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze > greatest(1000, n_live_tup / 5))
ORDER BY relname`

// analyzeStale runs ANALYZE in tx on those of tables whose statistics are
// stale (staleStatsSQL). The due-date scan joins customers, plans and
// installments; planned without their statistics (a book pushed through
// the API into a fresh database, autovacuum off or not yet round) it
// looked up every plan's bills through a bitmap of all bills due: 29.7 s
// instead of 3 s at 100k installments, growing with the square of the book.
// Checked once a scan, analyzed only when it pays.
func analyzeStale(ctx context.Context, tx *sqlx.Tx, tables ...string) error {
	var stale []string
	if err := tx.SelectContext(ctx, &stale, staleStatsSQL, pq.Array(tables)); err != nil {
		return fmt.Errorf("planner statistics: %w", err)
	}
	for _, t := range stale {
		if _, err := tx.ExecContext(ctx, `ANALYZE `+pq.QuoteIdentifier(t)); err != nil {
			return fmt.Errorf("analyze %s: %w", t, err)
		}
	}
	return nil
}

// analyzeAfterBulk runs ANALYZE on notifications after a scan queued n
// notices. Right after a large scan the statistics still describe the
// smaller table, and the planner then sorts the whole queue for every claim
// instead of walking the claim index; autovacuum would fix that only
// minutes later, in the middle of the morning's sends.
func (r *Repo) analyzeAfterBulk(ctx context.Context, n int) error {
	if n < bulkAnalyzeThreshold {
		return nil
	}
	if _, err := r.db.ExecContext(ctx, analyzeNoticesSQL); err != nil {
		return fmt.Errorf("analyze notifications: %w", err)
	}
	return nil
}
