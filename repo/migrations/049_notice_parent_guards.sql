-- A notice's customer, plan and installment were foreign keys, checked for
-- every notice a scan inserted: three lookups, each locking the row it found
-- (FOR KEY SHARE), half of a due-date scan's time (BenchmarkDueScan at 100k
-- installments: the same INSERT … SELECT took 3.9 s with the checks, 2.0 s
-- without). The scan's own join already reads those rows, so the check
-- proves nothing for it; what the keys were kept for is the other side: a
-- customer, plan or installment deleted by hand must not leave notices
-- behind that can never be claimed or rendered.
--
-- That side is kept by a trigger: deleting (or renumbering) a customer,
-- plan or installment that a notice names is refused with the foreign-key
-- error the constraint gave (SQLSTATE 23503). It first takes SHARE on
-- notifications, which waits for every transaction writing notices to end
-- and holds new ones off until the delete's own transaction ends: a notice
-- committed meanwhile is seen by the check, and one inserted afterwards
-- cannot find the deleted row in its scan's join. duebell itself never
-- deletes these rows (the demo's reset deletes its notices first).
--
-- TRUNCATE … CASCADE of customers, plans or installments no longer reaches
-- notifications; truncate it by name too.
--
-- Dropping a constraint is metadata only: no scan, no rewrite.
ALTER TABLE notifications DROP CONSTRAINT notifications_customer_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_plan_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_installment_id_fkey;

CREATE FUNCTION refuse_noticed_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    LOCK TABLE notifications IN SHARE MODE;
    IF TG_TABLE_NAME = 'customers' THEN
        PERFORM 1 FROM notifications WHERE customer_id = OLD.id LIMIT 1;
    ELSIF TG_TABLE_NAME = 'plans' THEN
        PERFORM 1 FROM notifications WHERE plan_id = OLD.id LIMIT 1;
    ELSE
        PERFORM 1 FROM notifications WHERE installment_id = OLD.id LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint on table "notifications"', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (id)=(%s) is still referenced from table "notifications".', OLD.id);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$$ SET search_path FROM CURRENT; -- the duebell schema, whatever search_path the writer has

CREATE TRIGGER customers_noticed BEFORE DELETE OR UPDATE OF id ON customers
    FOR EACH ROW EXECUTE FUNCTION refuse_noticed_row_change();
CREATE TRIGGER plans_noticed BEFORE DELETE OR UPDATE OF id ON plans
    FOR EACH ROW EXECUTE FUNCTION refuse_noticed_row_change();
CREATE TRIGGER installments_noticed BEFORE DELETE OR UPDATE OF id ON installments
    FOR EACH ROW EXECUTE FUNCTION refuse_noticed_row_change();
