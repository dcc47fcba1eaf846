package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// fallbackSQL queues one notice on channel $4, as of $1, for each SMS notice
// of a stage in $3 that did not go out and settled at or after $2: failed,
// undelivered per its receipt, or suppressed because the customer opted out
// of SMS or has no phone. The new notice links back (fallback_of, unique, so
// each SMS gets at most one) and takes the stage's dedup key on the new
// channel, so it is not created when the stage already sends on that channel.
// A stage superseded by a later one of the same installment gets none. The
// new notice is suppressed at once when the customer cannot be reached on
// $4 either. The SMS notice's status_reason names its fallback.
var fallbackSQL = `
WITH src AS (
	SELECT s.* FROM notifications s
	WHERE s.channel = 'sms' AND s.status IN ('suppressed', 'failed', 'undelivered')
	  AND s.updated_at >= $2 AND s.stage = ANY($3::text[])
	  AND (s.status <> 'suppressed' OR s.status_reason IN ('opted_out', 'no_phone'))
	  AND NOT EXISTS (SELECT 1 FROM notifications f WHERE f.fallback_of = s.id)
	  AND NOT EXISTS (SELECT 1 FROM notifications l WHERE l.installment_id = s.installment_id
	                  AND l.channel = 'sms' AND l.stage_offset > s.stage_offset AND ` + HoldsStageSQL("l") + `)
), ins AS (
	INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, event_id, kind, stage, stage_offset,
	                           channel, locale, status, status_reason, not_before, next_attempt_at,
	                           forced, fallback_of, created_at, updated_at)
	SELECT CASE WHEN s.dedup_key IS NULL THEN NULL ELSE s.installment_id || ':' || s.stage || ':' || $4 END,
	       s.customer_id, s.plan_id, s.installment_id, s.event_id, s.kind, s.stage, s.stage_offset,
	       $4, s.locale, ` + newNoticeStatusSQL + `,
	       CASE WHEN reason = '' THEN 'fallback for sms notice ' || s.id || ' (' ||
	            CASE WHEN s.status = 'suppressed' THEN s.status_reason ELSE s.status END || ')' ELSE reason END,
	       $1, $1, s.forced, s.id, $1, $1
	FROM src s
	JOIN customers c ON c.id = s.customer_id
	CROSS JOIN LATERAL (SELECT ` + suppressReasonSQL + ` AS reason FROM (SELECT $4::text) x(ch)) r
	ON CONFLICT DO NOTHING
	RETURNING id, fallback_of
)
UPDATE notifications s SET status_reason = s.status_reason || '; fallback: ' || $4 || ' notice ' || ins.id
FROM ins WHERE s.id = ins.fallback_of`

// QueueFallbacks queues the fallback notices fallbackSQL describes, on
// channel ch for the policy stages named in stages, for SMS notices that
// settled at or after since. It is idempotent and safe to run on every
// replica at once; it returns how many it queued.
func (r *Repo) QueueFallbacks(ctx context.Context, now, since time.Time, stages []string, ch string) (int, error) {
	if len(stages) == 0 {
		return 0, nil
	}
	if err := ValidateFallbackChannel(ch); err != nil {
		return 0, err
	}
	res, err := r.db.ExecContext(ctx, fallbackSQL, now, since, pq.Array(stages), ch)
	if err != nil {
		return 0, fmt.Errorf("queue fallbacks: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
