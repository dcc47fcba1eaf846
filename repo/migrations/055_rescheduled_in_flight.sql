-- A push that moves a bill later while its stage reminder is being sent
-- (claimed, not yet finished) left that reminder holding its stage's key:
-- when it went, the new date's reminder of the stage never came. Step 1 of
-- migration 053's trigger now gives up the key of such a reminder too (on
-- its own, not a digest's: a digest's leader answers for its bills when it
-- goes), the day it was claimed counting as the day it went. The send goes
-- on; if it does not end sent or failed but comes back to the queue (the
-- provider asked to retry, the dispatcher held it for the new date, its
-- lease ran out), the notice is skipped instead (repo.MovedInFlightReason):
-- the new date's reminder of the stage takes its place.
CREATE OR REPLACE FUNCTION release_rescheduled_stage_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE notifications n SET dedup_key = n.dedup_key || '#' || n.id || '@' || to_char(OLD.due_date, 'YYYY-MM-DD')
     WHERE n.installment_id = NEW.id AND n.kind IN ('due_soon', 'due_today', 'overdue')
       AND n.status <> 'pending' AND (n.status <> 'sending' OR n.digest_of IS NULL) AND strpos(n.dedup_key, '#') = 0
       AND NEW.due_date + least(n.stage_offset, 0)
           > greatest(OLD.due_date + n.stage_offset, (coalesce(n.sent_at, n.updated_at) AT TIME ZONE 'UTC')::date)
       AND NOT EXISTS (SELECT 1 FROM notifications l WHERE l.id = n.digest_of AND l.status IN ('pending', 'sending'));
    UPDATE notifications p SET status = 'skipped', dedup_key = p.dedup_key || '#' || p.id,
           status_reason = 'already sent for ' || to_char(NEW.due_date, 'YYYY-MM-DD')
     WHERE p.installment_id = NEW.id AND p.kind IN ('due_soon', 'due_today', 'overdue')
       AND p.status = 'pending' AND p.digest_of IS NULL
       AND NOT EXISTS (SELECT 1 FROM notifications m WHERE m.digest_of = p.id)
       AND EXISTS (SELECT 1 FROM notifications g
                    WHERE g.installment_id = NEW.id
                      AND (g.status IN ('sent', 'delivered')
                           OR EXISTS (SELECT 1 FROM notifications l WHERE l.id = g.digest_of AND l.status IN ('sent', 'delivered')))
                      AND split_part(g.dedup_key, '#', 1) = p.dedup_key
                      AND g.dedup_key LIKE '%@' || to_char(NEW.due_date, 'YYYY-MM-DD'));
    BEGIN
        UPDATE notifications n SET dedup_key = r.base
          FROM (SELECT DISTINCT ON (split_part(dedup_key, '#', 1)) id, split_part(dedup_key, '#', 1) AS base
                  FROM notifications
                 WHERE installment_id = NEW.id AND kind IN ('due_soon', 'due_today', 'overdue')
                   AND dedup_key LIKE '%#%@' || to_char(NEW.due_date, 'YYYY-MM-DD')
                 ORDER BY split_part(dedup_key, '#', 1), id DESC) r
         WHERE n.id = r.id AND NOT EXISTS (SELECT 1 FROM notifications o WHERE o.dedup_key = r.base);
    EXCEPTION WHEN unique_violation THEN
        -- A scan committed a notice of the stage while this waited for it:
        -- that notice keeps the key, and the push goes through.
        NULL;
    END;
    RETURN NULL;
END
$$;
