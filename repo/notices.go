package repo

import (
	"context"
	"fmt"
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

// analyzeAfterBulk runs ANALYZE on notifications after a scan queued n
// notices. Right after a large scan the statistics still describe the
// smaller table, and the planner then sorts the whole queue for every claim
// instead of walking the claim index; autovacuum would fix that only
// minutes later, in the middle of the morning's sends.
func (r *Repo) analyzeAfterBulk(ctx context.Context, n int) error {
	if n < bulkAnalyzeThreshold {
		return nil
	}
	if _, err := r.db.ExecContext(ctx, `ANALYZE notifications`); err != nil {
		return fmt.Errorf("analyze notifications: %w", err)
	}
	return nil
}
