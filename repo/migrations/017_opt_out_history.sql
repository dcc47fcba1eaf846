-- duebell schema: opt-out history. Support asked "why did you text me after
-- I opted out?" and could see only today's flags. Every change of
-- customers.sms_opt_out or email_opt_out, by the API or by a lender writing
-- the table directly, leaves a row here (a trigger, so no writer can skip it).
CREATE TABLE customer_opt_out_changes (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel     text NOT NULL CHECK (channel IN ('sms', 'email')),
    opt_out     boolean NOT NULL,              -- the new value
    changed_at  timestamptz NOT NULL,          -- the customer row's updated_at, else now()
    db_user     text NOT NULL DEFAULT current_user -- the database role that wrote it
);
CREATE INDEX customer_opt_out_changes_customer ON customer_opt_out_changes (customer_id, changed_at DESC);

CREATE FUNCTION record_opt_out_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'INSERT' AND NEW.sms_opt_out) OR (TG_OP = 'UPDATE' AND NEW.sms_opt_out IS DISTINCT FROM OLD.sms_opt_out) THEN
        INSERT INTO customer_opt_out_changes (customer_id, channel, opt_out, changed_at)
        VALUES (NEW.id, 'sms', NEW.sms_opt_out, coalesce(NEW.updated_at, now()));
    END IF;
    IF (TG_OP = 'INSERT' AND NEW.email_opt_out) OR (TG_OP = 'UPDATE' AND NEW.email_opt_out IS DISTINCT FROM OLD.email_opt_out) THEN
        INSERT INTO customer_opt_out_changes (customer_id, channel, opt_out, changed_at)
        VALUES (NEW.id, 'email', NEW.email_opt_out, coalesce(NEW.updated_at, now()));
    END IF;
    RETURN NULL;
END
$$ SET search_path FROM CURRENT; -- the duebell schema, whatever search_path the writer has

CREATE TRIGGER customers_opt_out_history AFTER INSERT OR UPDATE OF sms_opt_out, email_opt_out ON customers
    FOR EACH ROW EXECUTE FUNCTION record_opt_out_change();
