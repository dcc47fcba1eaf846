-- A bill whose due date moves is reminded again on its new date: its
-- finished stage reminders give their once-only keys up (PostgreSQL:
-- migration 053, which says why).
CREATE TRIGGER installments_rescheduled AFTER UPDATE OF due_date ON installments
    WHEN OLD.due_date IS NOT NEW.due_date
BEGIN
    UPDATE notifications SET dedup_key = dedup_key || '#' || id
     WHERE installment_id = NEW.id AND kind IN ('due_soon', 'due_today', 'overdue')
       AND status NOT IN ('pending', 'sending') AND instr(dedup_key, '#') = 0;
END;
