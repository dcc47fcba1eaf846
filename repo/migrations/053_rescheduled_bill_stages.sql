-- A bill whose due date a push or import moves (a rescheduled bill, 展期)
-- is reminded again on its new date: the stage reminders already finished
-- for it (sent, failed, suppressed, skipped) give their once-only keys up,
-- keeping them with "#" and their id appended, so the scans queue each
-- stage again on its day of the new date. A reminder still pending or being
-- sent keeps its key: it goes out once, at its stage's day on the new date
-- (the dispatcher's check before sending), and no second one is queued
-- beside it.
CREATE FUNCTION release_rescheduled_stage_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE notifications SET dedup_key = dedup_key || '#' || id
     WHERE installment_id = NEW.id AND kind IN ('due_soon', 'due_today', 'overdue')
       AND status NOT IN ('pending', 'sending') AND strpos(dedup_key, '#') = 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER installments_rescheduled AFTER UPDATE OF due_date ON installments
    FOR EACH ROW WHEN (OLD.due_date IS DISTINCT FROM NEW.due_date)
    EXECUTE FUNCTION release_rescheduled_stage_keys();
