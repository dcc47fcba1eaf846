-- A bill whose due date a push or import moves later (a rescheduled bill,
-- 展期) is reminded again on its new date, and a correction or an undo
-- sends nothing twice. On each change of an installment's due date:
--
-- 1. A finished stage reminder (sent, failed, suppressed, skipped; not one
--    in a digest still to go), or one being sent on its own (the day it was
--    claimed counting as the day it went), gives its once-only key up, kept with
--    "#<id>@<old date>" appended, when the stage's day on the new date
--    (for the overdue stages: the new date itself) comes after both
--    its day on the old date and the day it went (sent_at, else when it
--    was finished, as a UTC date). So a move earlier gives nothing up, and
--    neither does a small correction of an overdue bill or a move shorter
--    than a late reminder's delay.
-- 2. Back on a date a stage went for (alone, or in a digest that went), a
--    notice of the stage queued meanwhile for the other date, still
--    pending and in no digest, is skipped ("already sent for <date>") and
--    gives its key up.
-- 3. The reminder that went for that date takes its key back, unless a
--    notice still holds it; a scan that commits one while the push waits
--    for it keeps the key, and the push goes through.
--
-- A pending notice keeps its key: the dispatcher's check before sending
-- holds it for its stage's day on the new date. A notice being sent whose
-- key step 1 gave up is skipped if it comes back to the queue instead of
-- ending sent or failed (a retry, a hold, a lapsed lease: the finish and
-- rescue statements, repo.RequeuedStatusSQL): the new date's reminder of
-- the stage takes its place.
CREATE FUNCTION release_rescheduled_stage_keys() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER installments_rescheduled AFTER UPDATE OF due_date ON installments
    FOR EACH ROW WHEN (OLD.due_date IS DISTINCT FROM NEW.due_date)
    EXECUTE FUNCTION release_rescheduled_stage_keys();
