-- A bill whose due date a push or import moves later (a rescheduled bill,
-- 展期) is reminded again on its new date: a stage reminder already
-- finished (sent, failed, suppressed, skipped) gives its once-only key up
-- when the move takes that stage's day on the new date past its day on the
-- old one — for due_soon and due_today any move later, for an overdue stage
-- a move past the day it was sent (so a bill still overdue after a small
-- correction is not warned again). The key is kept with "#", the notice's
-- id, "@" and the due date it was for appended; a bill moved back to that
-- date gets it back (unless a new notice of the stage holds it), so a move
-- and its undo send nothing twice. A move earlier gives nothing up, and a
-- reminder still pending or being sent keeps its key: it goes once, at its
-- stage's day on the new date (the dispatcher's check before sending).
CREATE FUNCTION release_rescheduled_stage_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE notifications SET dedup_key = dedup_key || '#' || id || '@' || to_char(OLD.due_date, 'YYYY-MM-DD')
     WHERE installment_id = NEW.id AND kind IN ('due_soon', 'due_today', 'overdue')
       AND status NOT IN ('pending', 'sending') AND strpos(dedup_key, '#') = 0
       AND NEW.due_date + least(stage_offset, 0) > OLD.due_date + stage_offset;
    UPDATE notifications n SET dedup_key = r.base
      FROM (SELECT DISTINCT ON (split_part(dedup_key, '#', 1)) id, split_part(dedup_key, '#', 1) AS base
              FROM notifications
             WHERE installment_id = NEW.id AND kind IN ('due_soon', 'due_today', 'overdue')
               AND dedup_key LIKE '%#%@' || to_char(NEW.due_date, 'YYYY-MM-DD')
             ORDER BY split_part(dedup_key, '#', 1), id DESC) r
     WHERE n.id = r.id AND NOT EXISTS (SELECT 1 FROM notifications o WHERE o.dedup_key = r.base);
    RETURN NULL;
END
$$;

CREATE TRIGGER installments_rescheduled AFTER UPDATE OF due_date ON installments
    FOR EACH ROW WHEN (OLD.due_date IS DISTINCT FROM NEW.due_date)
    EXECUTE FUNCTION release_rescheduled_stage_keys();
