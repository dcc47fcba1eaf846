-- A bill whose due date moves later is reminded again on its new date, and
-- a correction or a move undone sends nothing twice: the finished stage
-- reminders (and one being sent on its own) give their once-only keys up,
-- and get them back (PostgreSQL: migration 053, which says when).
-- Timestamps are Unix microseconds.
CREATE TRIGGER installments_rescheduled AFTER UPDATE OF due_date ON installments
    WHEN OLD.due_date IS NOT NEW.due_date
BEGIN
    UPDATE notifications SET dedup_key = dedup_key || '#' || id || '@' || OLD.due_date
     WHERE installment_id = NEW.id AND kind IN ('due_soon', 'due_today', 'overdue')
       AND status <> 'pending' AND (status <> 'sending' OR digest_of IS NULL) AND instr(dedup_key, '#') = 0
       AND date(NEW.due_date, min(stage_offset, 0) || ' days')
           > max(date(OLD.due_date, stage_offset || ' days'), date(coalesce(sent_at, updated_at) / 1000000, 'unixepoch'))
       AND NOT EXISTS (SELECT 1 FROM notifications l
                        WHERE l.id = notifications.digest_of AND l.status IN ('pending', 'sending'));
    UPDATE notifications SET status = 'skipped', dedup_key = dedup_key || '#' || id,
           status_reason = 'already sent for ' || NEW.due_date
     WHERE installment_id = NEW.id AND kind IN ('due_soon', 'due_today', 'overdue')
       AND status = 'pending' AND digest_of IS NULL
       AND NOT EXISTS (SELECT 1 FROM notifications m WHERE m.digest_of = notifications.id)
       AND EXISTS (SELECT 1 FROM notifications g
                    WHERE g.installment_id = NEW.id
                      AND (g.status IN ('sent', 'delivered')
                           OR EXISTS (SELECT 1 FROM notifications l WHERE l.id = g.digest_of AND l.status IN ('sent', 'delivered')))
                      AND substr(g.dedup_key, 1, instr(g.dedup_key, '#') - 1) = notifications.dedup_key
                      AND g.dedup_key LIKE '%@' || NEW.due_date);
    UPDATE notifications SET dedup_key = substr(dedup_key, 1, instr(dedup_key, '#') - 1)
     WHERE id IN (SELECT max(id) FROM notifications
                   WHERE installment_id = NEW.id AND kind IN ('due_soon', 'due_today', 'overdue')
                     AND dedup_key LIKE '%#%@' || NEW.due_date
                   GROUP BY substr(dedup_key, 1, instr(dedup_key, '#') - 1))
       AND NOT EXISTS (SELECT 1 FROM notifications o
                        WHERE o.dedup_key = substr(notifications.dedup_key, 1, instr(notifications.dedup_key, '#') - 1));
END;
