package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// receiptsFallbackSQL queues one notice on channel $4, as of $1, for each
// SMS notice of a stage in $3 (a JSON array) that did not go out and
// settled at or after $2: failed, undelivered per its receipt, or
// suppressed because the customer opted out of SMS or has no phone. The new
// notice links back (fallback_of, unique, so each SMS gets at most one) and
// takes the stage's dedup key on the new channel, so it is not created when
// the stage already sends on that channel. A stage superseded by a later one
// of the same installment gets none. The new notice is suppressed at once
// when the customer cannot be reached on $4 either (repo.SuppressReasonSQL,
// the rule every statement that creates notices keeps). It returns the
// new notices' ids.
var receiptsFallbackSQL = `
WITH src AS (
	SELECT s.* FROM notifications s
	WHERE s.channel = 'sms' AND s.status IN ('suppressed', 'failed', 'undelivered')
	  AND s.updated_at >= $2 AND s.stage IN (SELECT value FROM json_each($3))
	  AND (s.status <> 'suppressed' OR s.status_reason IN ('opted_out', 'no_phone'))
	  AND NOT EXISTS (SELECT 1 FROM notifications f WHERE f.fallback_of = s.id)
	  AND NOT EXISTS (SELECT 1 FROM notifications l WHERE l.installment_id = s.installment_id
	                  AND l.channel = 'sms' AND l.stage_offset > s.stage_offset AND ` + repo.HoldsStageSQL("l") + `)
), r AS (
	SELECT s.*, ` + repo.SuppressReasonSQL + ` AS reason
	FROM src s JOIN customers c ON c.id = s.customer_id CROSS JOIN (SELECT $4 AS ch) x
)
INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, event_id, kind, stage, stage_offset,
                           channel, locale, status, status_reason, not_before, next_attempt_at,
                           forced, fallback_of, created_at, updated_at)
SELECT CASE WHEN s.dedup_key IS NULL THEN NULL ELSE s.installment_id || ':' || s.stage || ':' || $4 END,
       s.customer_id, s.plan_id, s.installment_id, s.event_id, s.kind, s.stage, s.stage_offset,
       $4, s.locale, ` + repo.NewNoticeStatusSQL + `,
       CASE WHEN reason = '' THEN 'fallback for sms notice ' || s.id || ' (' ||
            CASE WHEN s.status = 'suppressed' THEN s.status_reason ELSE s.status END || ')' ELSE reason END,
       $1, $1, s.forced, s.id, $1, $1
FROM r s
WHERE true
ORDER BY s.id
ON CONFLICT DO NOTHING
RETURNING id`

// receiptsFallbackNoteSQL names, in the status_reason of each SMS notice,
// the fallback notice (ids $2, a JSON array) queued for it on channel $1.
const receiptsFallbackNoteSQL = `
UPDATE notifications AS s SET status_reason = s.status_reason || '; fallback: ' || $1 || ' notice ' || f.id
FROM notifications AS f
WHERE f.id IN (SELECT value FROM json_each($2)) AND s.id = f.fallback_of`

// QueueFallbacks queues the fallback notices receiptsFallbackSQL
// describes, on channel ch for the policy stages named in stages, for SMS
// notices that settled at or after since, and notes each on its SMS notice:
// two set-based statements in one write transaction (SQLite has no
// data-modifying CTE). It is idempotent; it returns how many it queued.
func (s *Store) QueueFallbacks(ctx context.Context, now, since time.Time, stages []string, ch string) (int, error) {
	if len(stages) == 0 {
		return 0, nil
	}
	if err := repo.ValidateFallbackChannel(ch); err != nil {
		return 0, err
	}
	stagesJSON, err := json.Marshal(stages)
	if err != nil {
		return 0, fmt.Errorf("queue fallbacks: %w", err)
	}
	var ids []int64
	err = s.withTx(ctx, func(tx *sqlx.Tx) error {
		ids = nil
		if err := tx.SelectContext(ctx, &ids, receiptsFallbackSQL, now, since, string(stagesJSON), ch); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		idsJSON, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, receiptsFallbackNoteSQL, ch, string(idsJSON))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("queue fallbacks: %w", err)
	}
	return len(ids), nil
}
