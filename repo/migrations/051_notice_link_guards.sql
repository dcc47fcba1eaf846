-- A notice's links to another notice (resend_of, fallback_of, digest_of)
-- and to the channel event it tells of (event_id) were foreign keys.
-- PostgreSQL queues a foreign key's check for every row inserted, even when
-- the key is NULL, and the due-date scan inserts every notice with all four
-- NULL: four queued checks per notice that each found nothing to check,
-- 13-14 % of a scan (BenchmarkDueScan at 100k installments, 200k notices:
-- 3.06-3.19 s with the keys, 2.64-2.76 s without).
--
-- The same rules, kept by triggers that only run when there is a link:
-- - a notice that names a notice or an event checks, once the statement
--   that wrote the link is done, that the row it names exists, and locks it
--   (FOR KEY SHARE, as a foreign key's check does) so that a concurrent
--   delete waits for it or it sees the delete. A digest leader names
--   itself: nothing to look up. Checked at once, not at commit as 048 made
--   the digest key: that was to check a grouped notice once instead of at
--   its insert and again at its grouping, and its insert checks nothing now;
-- - deleting or renumbering a notice or an event that a notice names is
--   refused, checked once the statement is done (as a foreign key's check
--   is), so a statement that unlinks and deletes together (the retention
--   cleaner) passes.
-- Both raise the foreign-key error the constraints gave (SQLSTATE 23503).
--
-- Dropping a constraint is metadata only: no scan, no rewrite.
ALTER TABLE notifications DROP CONSTRAINT notifications_resend_of_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_fallback_of_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_digest_of_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_event_id_fkey;

CREATE FUNCTION check_notice_links() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    link text;
    target bigint;
BEGIN
    FOREACH link IN ARRAY ARRAY['resend_of', 'fallback_of', 'digest_of', 'event_id'] LOOP
        target := CASE link WHEN 'resend_of' THEN NEW.resend_of WHEN 'fallback_of' THEN NEW.fallback_of
                            WHEN 'digest_of' THEN NEW.digest_of ELSE NEW.event_id END;
        CONTINUE WHEN target IS NULL OR (target = NEW.id AND link <> 'event_id'); -- a digest leader names itself
        IF link = 'event_id' THEN
            PERFORM 1 FROM channel_events WHERE id = target FOR KEY SHARE;
        ELSE
            PERFORM 1 FROM notifications WHERE id = target FOR KEY SHARE;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'insert or update on table "notifications" violates foreign key constraint on its %', link
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (%s)=(%s) is not present in table "%s".', link, target,
                                      CASE link WHEN 'event_id' THEN 'channel_events' ELSE 'notifications' END);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$ SET search_path FROM CURRENT; -- the duebell schema, whatever search_path the writer has

CREATE TRIGGER notifications_links_exist
    AFTER INSERT OR UPDATE OF resend_of, fallback_of, digest_of, event_id ON notifications
    FOR EACH ROW
    WHEN (NEW.resend_of IS NOT NULL OR NEW.fallback_of IS NOT NULL OR NEW.digest_of IS NOT NULL
          OR NEW.event_id IS NOT NULL)
    EXECUTE FUNCTION check_notice_links();

CREATE FUNCTION refuse_linked_row_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'channel_events' THEN
        PERFORM 1 FROM notifications WHERE event_id = OLD.id LIMIT 1;
    ELSE
        PERFORM 1 FROM notifications WHERE resend_of = OLD.id LIMIT 1;
        IF NOT FOUND THEN
            PERFORM 1 FROM notifications WHERE fallback_of = OLD.id LIMIT 1;
        END IF;
        IF NOT FOUND THEN
            PERFORM 1 FROM notifications WHERE digest_of = OLD.id LIMIT 1;
        END IF;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint on table "notifications"', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (id)=(%s) is still referenced from table "notifications".', OLD.id);
    END IF;
    RETURN NULL;
END
$$ SET search_path FROM CURRENT;

CREATE TRIGGER notifications_linked AFTER DELETE OR UPDATE OF id ON notifications
    FOR EACH ROW EXECUTE FUNCTION refuse_linked_row_removal();
CREATE TRIGGER channel_events_noticed AFTER DELETE OR UPDATE OF id ON channel_events
    FOR EACH ROW EXECUTE FUNCTION refuse_linked_row_removal();
