-- duebell schema, version 1. Runs inside the configured schema (search_path).
-- Money is integer minor units (fen); instants are timestamptz; due dates are
-- dates in the customer's own time zone.

CREATE TABLE customers (
    id            bigserial PRIMARY KEY,
    ref           text NOT NULL UNIQUE,
    name          text NOT NULL DEFAULT '',
    phone         text NOT NULL DEFAULT '',          -- E.164, '' when none
    email         text NOT NULL DEFAULT '',          -- lower-cased, '' when none
    locale        text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
    timezone      text NOT NULL DEFAULT 'Asia/Shanghai',
    sms_opt_out   boolean NOT NULL DEFAULT false,
    email_opt_out boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_phone ON customers (phone) WHERE phone <> '';
CREATE INDEX customers_email ON customers (email) WHERE email <> '';

CREATE TABLE plans (
    id           bigserial PRIMARY KEY,
    ref          text NOT NULL UNIQUE,
    customer_id  bigint NOT NULL REFERENCES customers (id),
    merchant     text NOT NULL DEFAULT '',
    title        text NOT NULL DEFAULT '',
    currency     text NOT NULL DEFAULT 'CNY',
    total        bigint NOT NULL CHECK (total >= 0),
    periods      integer NOT NULL CHECK (periods > 0),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled', 'closed')),
    repay_method text NOT NULL DEFAULT 'manual' CHECK (repay_method IN ('auto_debit', 'manual')),
    card_last4   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plans_customer ON plans (customer_id);

CREATE TABLE installments (
    id       bigserial PRIMARY KEY,
    plan_id  bigint NOT NULL REFERENCES plans (id),
    seq      integer NOT NULL CHECK (seq > 0),
    due_date date NOT NULL,
    amount   bigint NOT NULL CHECK (amount >= 0),
    paid     bigint NOT NULL DEFAULT 0 CHECK (paid >= 0),
    status   text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'waived')),
    paid_at  timestamptz,
    UNIQUE (plan_id, seq)
);
-- The due-date scan reads only unsettled installments.
CREATE INDEX installments_pending_due ON installments (due_date) WHERE status = 'pending';

CREATE TABLE payments (
    id             bigserial PRIMARY KEY,
    installment_id bigint NOT NULL REFERENCES installments (id),
    ref            text,                     -- the lender's payment id, for idempotent replays
    amount         bigint NOT NULL CHECK (amount > 0),
    paid_at        timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (installment_id, ref)
);

CREATE TABLE channel_events (
    id           bigserial PRIMARY KEY,
    ref          text NOT NULL UNIQUE,
    kind         text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('customer', 'plan', 'all')),
    customer_id  bigint REFERENCES customers (id),
    plan_id      bigint REFERENCES plans (id),
    payload      jsonb NOT NULL DEFAULT '{}',
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE INDEX channel_events_unprocessed ON channel_events (occurred_at) WHERE processed_at IS NULL;

-- The outbox and the delivery log in one table.
CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    dedup_key        text UNIQUE,           -- installment:stage:channel; NULL for resends
    customer_id      bigint NOT NULL REFERENCES customers (id),
    plan_id          bigint REFERENCES plans (id),
    installment_id   bigint REFERENCES installments (id),
    event_id         bigint REFERENCES channel_events (id),
    kind             text NOT NULL,
    stage            text NOT NULL DEFAULT '',
    stage_offset     integer,               -- days relative to the due date, for reminders
    channel          text NOT NULL CHECK (channel IN ('sms', 'email')),
    locale           text NOT NULL,
    template         text NOT NULL DEFAULT '',
    recipient        text NOT NULL DEFAULT '', -- the contact it was sent to
    subject          text NOT NULL DEFAULT '',
    body             text NOT NULL DEFAULT '',
    body_html        text NOT NULL DEFAULT '',
    link             text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN
                       ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'suppressed', 'failed', 'skipped')),
    status_reason    text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    not_before       timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    provider         text NOT NULL DEFAULT '',
    provider_msg_id  text NOT NULL DEFAULT '',
    last_error       text NOT NULL DEFAULT '',
    resend_of        bigint REFERENCES notifications (id),
    requested_by     text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    delivered_at     timestamptz
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_lease ON notifications (lease_expires_at) WHERE status = 'sending';
CREATE INDEX notifications_installment ON notifications (installment_id);
CREATE INDEX notifications_customer ON notifications (customer_id, id DESC);
CREATE INDEX notifications_provider_msg ON notifications (provider, provider_msg_id) WHERE provider_msg_id <> '';

-- One row per delivery try, never updated.
CREATE TABLE delivery_attempts (
    id              bigserial PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications (id),
    n               integer NOT NULL,
    channel         text NOT NULL,
    provider        text NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('sent', 'transient', 'permanent')),
    provider_msg_id text NOT NULL DEFAULT '',
    code            text NOT NULL DEFAULT '',
    error           text NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id, n);

CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text NOT NULL,
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
