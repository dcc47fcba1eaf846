-- duebell schema, version 2: the support console. Resends, their reasons and
-- idempotency keys; indexes for searching the delivery log newest first.

-- forced: a resend an operator pushed past the settled/plan re-check
-- (the dispatcher still honours opt-outs and missing addresses).
ALTER TABLE notifications ADD COLUMN forced boolean NOT NULL DEFAULT false;
-- resend_reason: why support resent it (also in audit_log).
ALTER TABLE notifications ADD COLUMN resend_reason text NOT NULL DEFAULT '';

-- Search: newest first (id DESC) within a plan, by the address it went to,
-- by creation time; bulk resend: by status and when the status was reached.
CREATE INDEX notifications_plan ON notifications (plan_id, id DESC);
CREATE INDEX notifications_recipient ON notifications (recipient, id DESC) WHERE recipient <> '';
CREATE INDEX notifications_created ON notifications (created_at);
CREATE INDEX notifications_status_updated ON notifications (status, updated_at);
CREATE INDEX notifications_resend_of ON notifications (resend_of) WHERE resend_of IS NOT NULL;

-- Idempotency-Key: the first request by actor with key creates the result;
-- a repeat returns it. scope names the action, target what it acted on, so a
-- key reused for another request is refused rather than answered wrongly.
CREATE TABLE idempotency_keys (
    actor           text NOT NULL,
    key             text NOT NULL,
    scope           text NOT NULL,
    target          text NOT NULL,
    notification_id bigint REFERENCES notifications (id),
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (actor, key)
);

CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
