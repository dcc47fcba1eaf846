-- A bill whose due date a push or import moves later (a rescheduled bill,
-- 展期) is reminded again on its new date: a stage reminder already
-- finished (sent, failed, suppressed, skipped) gives its once-only key up
-- when the stage's day on the new date comes after both its day on the old
-- date and the day it went (its sent_at, else when it was finished, as a
-- UTC date), so a reminder that went late (after downtime, held by a
-- limit) is not repeated by a move shorter than its delay, and a bill still
-- overdue after a small correction is not warned again. due_soon and
-- due_today count from the new due date itself (least(offset, 0)). The
-- key is kept with "#", the notice's id, "@" and the due date it was for
-- appended; a bill moved back to that date gets it back, so a move and
-- its undo send nothing twice: a notice of the stage queued meanwhile for
-- the date the bill leaves, still pending and alone (in no digest), is
-- skipped ("already sent for <date>") when the stage went for the date it
-- returns to (alone, or in a digest that went), and its key given up (a
-- pending notice in a digest keeps its key, and the one that went stays
-- without). A scan that commits a notice of the stage while the push
-- waits for it keeps the key, and the push goes through. A move earlier gives nothing up. A notice still pending or being
-- sent keeps its key, and so does a bill's notice in a digest that has
-- not gone yet: the dispatcher gives it back to the bill, pending, to go
-- once at its stage's day on the new date.
CREATE FUNCTION release_rescheduled_stage_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE notifications n SET dedup_key = n.dedup_key || '#' || n.id || '@' || to_char(OLD.due_date, 'YYYY-MM-DD')
     WHERE n.installment_id = NEW.id AND n.kind IN ('due_soon', 'due_today', 'overdue')
       AND n.status NOT IN ('pending', 'sending') AND strpos(n.dedup_key, '#') = 0
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
