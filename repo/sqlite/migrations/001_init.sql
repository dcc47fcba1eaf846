-- duebell's embedded store (SQLite), version 1: the PostgreSQL schema as of
-- its migration 042, in SQLite's terms.
--  * Instants are TIMESTAMP columns holding Unix microseconds (INTEGER): the
--    driver binds every time.Time so (_time_integer_format=unix_micro) and
--    reads a TIMESTAMP column back as a UTC time.Time (_inttotime), so
--    instants compare as numbers whatever zone the caller's time was in.
--  * Due dates are TEXT 'YYYY-MM-DD' (repo.Date), the customer's local date.
--  * JSON is TEXT checked with json_valid; booleans are 0/1.
--  * AUTOINCREMENT keeps ids increasing after retention deletes rows, so
--    "newest first" pagination by id holds.

CREATE TABLE customers (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    ref                TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL DEFAULT '',
    phone              TEXT NOT NULL DEFAULT '',
    email              TEXT NOT NULL DEFAULT '',
    locale             TEXT NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
    timezone           TEXT NOT NULL DEFAULT 'Asia/Shanghai',
    sms_opt_out        BOOLEAN NOT NULL DEFAULT 0,
    email_opt_out      BOOLEAN NOT NULL DEFAULT 0,
    sms_opt_out_reason TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX customers_phone ON customers (phone) WHERE phone <> '';
CREATE INDEX customers_email ON customers (email) WHERE email <> '';
CREATE INDEX customers_timezone ON customers (timezone);

CREATE TABLE plans (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ref          TEXT NOT NULL UNIQUE,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    merchant     TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',
    currency     TEXT NOT NULL DEFAULT 'CNY',
    total        INTEGER NOT NULL CHECK (total >= 0),
    periods      INTEGER NOT NULL CHECK (periods > 0),
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled', 'closed')),
    repay_method TEXT NOT NULL DEFAULT 'manual' CHECK (repay_method IN ('auto_debit', 'manual')),
    card_last4   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX plans_customer ON plans (customer_id);

CREATE TABLE installments (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id  INTEGER NOT NULL REFERENCES plans (id),
    seq      INTEGER NOT NULL CHECK (seq > 0),
    due_date TEXT NOT NULL CHECK (due_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    amount   INTEGER NOT NULL CHECK (amount >= 0),
    paid     INTEGER NOT NULL DEFAULT 0 CHECK (paid >= 0),
    status   TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'waived')),
    paid_at  TIMESTAMP,
    UNIQUE (plan_id, seq)
);
CREATE INDEX installments_pending_due ON installments (due_date) WHERE status = 'pending';

CREATE TABLE payments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    installment_id INTEGER NOT NULL REFERENCES installments (id),
    ref            TEXT,
    amount         INTEGER NOT NULL CHECK (amount <> 0),
    paid_at        TIMESTAMP NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    actor          TEXT NOT NULL DEFAULT '',
    UNIQUE (installment_id, ref)
);

CREATE TABLE channel_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ref          TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('customer', 'plan', 'all')),
    customer_id  INTEGER REFERENCES customers (id),
    plan_id      INTEGER REFERENCES plans (id),
    payload      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload) AND json_type(payload) = 'object'),
    occurred_at  TIMESTAMP NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    processed_at TIMESTAMP,
    CHECK ((scope = 'customer' AND customer_id IS NOT NULL AND plan_id IS NULL) OR
           (scope = 'plan' AND customer_id IS NOT NULL AND plan_id IS NOT NULL) OR
           (scope = 'all' AND customer_id IS NULL AND plan_id IS NULL))
);
CREATE INDEX channel_events_unprocessed ON channel_events (occurred_at) WHERE processed_at IS NULL;
CREATE INDEX channel_events_customer ON channel_events (customer_id, occurred_at) WHERE customer_id IS NOT NULL;

-- The outbox and the delivery log in one table.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key        TEXT UNIQUE,
    customer_id      INTEGER NOT NULL REFERENCES customers (id),
    plan_id          INTEGER REFERENCES plans (id),
    installment_id   INTEGER REFERENCES installments (id),
    event_id         INTEGER REFERENCES channel_events (id),
    kind             TEXT NOT NULL,
    stage            TEXT NOT NULL DEFAULT '',
    stage_offset     INTEGER,
    channel          TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    locale           TEXT NOT NULL,
    template         TEXT NOT NULL DEFAULT '',
    recipient        TEXT NOT NULL DEFAULT '',
    subject          TEXT NOT NULL DEFAULT '',
    body             TEXT NOT NULL DEFAULT '',
    body_html        TEXT NOT NULL DEFAULT '',
    link             TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                       ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'suppressed', 'failed', 'skipped')),
    status_reason    TEXT NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0,
    not_before       TIMESTAMP NOT NULL,
    next_attempt_at  TIMESTAMP NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMP,
    provider         TEXT NOT NULL DEFAULT '',
    provider_msg_id  TEXT NOT NULL DEFAULT '',
    last_error       TEXT NOT NULL DEFAULT '',
    resend_of        INTEGER REFERENCES notifications (id),
    requested_by     TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP,
    delivered_at     TIMESTAMP,
    forced           BOOLEAN NOT NULL DEFAULT 0,
    resend_reason    TEXT NOT NULL DEFAULT '',
    delivery_code    TEXT NOT NULL DEFAULT '',
    fallback_of      INTEGER REFERENCES notifications (id),
    digest_of        INTEGER REFERENCES notifications (id)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notifications_lease ON notifications (lease_expires_at) WHERE status = 'sending';
CREATE INDEX notifications_installment ON notifications (installment_id);
CREATE INDEX notifications_customer ON notifications (customer_id, id DESC);
CREATE INDEX notifications_provider_msg ON notifications (provider, provider_msg_id) WHERE provider_msg_id <> '';
CREATE INDEX notifications_plan ON notifications (plan_id, id DESC);
CREATE INDEX notifications_recipient ON notifications (recipient, id DESC) WHERE recipient <> '';
CREATE INDEX notifications_created ON notifications (created_at);
CREATE INDEX notifications_status_updated ON notifications (status, updated_at);
CREATE INDEX notifications_resend_of ON notifications (resend_of) WHERE resend_of IS NOT NULL;
CREATE INDEX notifications_event ON notifications (event_id) WHERE event_id IS NOT NULL;
CREATE UNIQUE INDEX notifications_fallback_of ON notifications (fallback_of) WHERE fallback_of IS NOT NULL;
CREATE INDEX notifications_sms_inflight ON notifications (customer_id) WHERE status = 'sending' AND channel = 'sms';
CREATE INDEX notifications_sent_at ON notifications (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX notifications_customer_sent ON notifications (customer_id, sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX notifications_digest_of ON notifications (digest_of) WHERE digest_of IS NOT NULL;

-- One row per delivery try, never updated.
CREATE TABLE delivery_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    n               INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    provider        TEXT NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('sent', 'transient', 'permanent', 'unknown')),
    provider_msg_id TEXT NOT NULL DEFAULT '',
    code            TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id, n);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TIMESTAMP NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
CREATE INDEX audit_log_target ON audit_log (target, at DESC);

CREATE TABLE idempotency_keys (
    actor           TEXT NOT NULL,
    key             TEXT NOT NULL,
    scope           TEXT NOT NULL,
    target          TEXT NOT NULL,
    notification_id INTEGER REFERENCES notifications (id),
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (actor, key)
);
-- Deleting a notice (retention, the demo's reset) checks its idempotency
-- keys through the foreign key: a plain index, so the check can use it.
CREATE INDEX idempotency_keys_notification ON idempotency_keys (notification_id);

CREATE TABLE sms_receipts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    provider        TEXT NOT NULL,
    provider_msg_id TEXT NOT NULL DEFAULT '',
    out_id          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('delivered', 'undelivered', 'progress')),
    provider_status TEXT NOT NULL DEFAULT '',
    code            TEXT NOT NULL DEFAULT '',
    description     TEXT NOT NULL DEFAULT '',
    reported_at     TIMESTAMP,
    received_at     TIMESTAMP NOT NULL,
    notification_id INTEGER REFERENCES notifications (id),
    applied_at      TIMESTAMP,
    raw             TEXT NOT NULL
);
CREATE INDEX sms_receipts_msg ON sms_receipts (provider_msg_id, provider) WHERE provider_msg_id <> '' AND applied_at IS NULL;
CREATE INDEX sms_receipts_out ON sms_receipts (out_id) WHERE out_id <> '' AND applied_at IS NULL;
CREATE INDEX sms_receipts_notification ON sms_receipts (notification_id, id) WHERE notification_id IS NOT NULL;
CREATE INDEX sms_receipts_received ON sms_receipts (received_at);

CREATE TABLE console_revoked_sessions (
    session_hash TEXT PRIMARY KEY,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP NOT NULL
);
CREATE INDEX console_revoked_sessions_expiry ON console_revoked_sessions (expires_at);

CREATE TABLE provider_circuits (
    provider   TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    opened_at  TIMESTAMP NOT NULL,
    probe_at   TIMESTAMP NOT NULL,
    code       TEXT NOT NULL DEFAULT '',
    error      TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    closed_at  TIMESTAMP
);

-- Opt-out history: every change of a customer's opt-out flags, by duebell or
-- by anyone writing the file, leaves a row (triggers, so no writer skips it).
CREATE TABLE customer_opt_out_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel     TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    opt_out     BOOLEAN NOT NULL,
    changed_at  TIMESTAMP NOT NULL,
    db_user     TEXT NOT NULL DEFAULT 'sqlite'
);
CREATE INDEX customer_opt_out_changes_customer ON customer_opt_out_changes (customer_id, changed_at DESC);

CREATE TRIGGER customers_opt_out_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customer_opt_out_changes (customer_id, channel, opt_out, changed_at)
    SELECT NEW.id, 'sms', 1, NEW.updated_at WHERE NEW.sms_opt_out;
    INSERT INTO customer_opt_out_changes (customer_id, channel, opt_out, changed_at)
    SELECT NEW.id, 'email', 1, NEW.updated_at WHERE NEW.email_opt_out;
END;
CREATE TRIGGER customers_opt_out_update AFTER UPDATE OF sms_opt_out, email_opt_out ON customers BEGIN
    INSERT INTO customer_opt_out_changes (customer_id, channel, opt_out, changed_at)
    SELECT NEW.id, 'sms', NEW.sms_opt_out, NEW.updated_at WHERE NEW.sms_opt_out IS NOT OLD.sms_opt_out;
    INSERT INTO customer_opt_out_changes (customer_id, channel, opt_out, changed_at)
    SELECT NEW.id, 'email', NEW.email_opt_out, NEW.updated_at WHERE NEW.email_opt_out IS NOT OLD.email_opt_out;
END;
