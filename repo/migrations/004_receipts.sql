-- duebell schema, version 4: SMS delivery receipts, the carrier's code on a
-- notice, and channel fallback (an email queued when an SMS cannot go).

-- Every delivery receipt a provider posts, one row per reported message, as
-- received (raw). status is ours: delivered, undelivered, or progress (an
-- intermediate report such as Twilio's "sent", stored but not applied).
-- notification_id is the notice it was matched to (NULL: none yet);
-- applied_at is when it was weighed against that notice. A receipt that
-- arrives before our own "sent" write stays unapplied until the dispatcher
-- finishes the notice, which applies it in the same transaction.
CREATE TABLE sms_receipts (
    id              bigserial PRIMARY KEY,
    provider        text NOT NULL,
    provider_msg_id text NOT NULL DEFAULT '',
    out_id          text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('delivered', 'undelivered', 'progress')),
    provider_status text NOT NULL DEFAULT '',
    code            text NOT NULL DEFAULT '',
    description     text NOT NULL DEFAULT '',
    reported_at     timestamptz,
    received_at     timestamptz NOT NULL,
    notification_id bigint REFERENCES notifications (id),
    applied_at      timestamptz,
    raw             text NOT NULL
);
CREATE INDEX sms_receipts_msg ON sms_receipts (provider_msg_id, provider) WHERE provider_msg_id <> '' AND applied_at IS NULL;
CREATE INDEX sms_receipts_out ON sms_receipts (out_id) WHERE out_id <> '' AND applied_at IS NULL;
CREATE INDEX sms_receipts_notification ON sms_receipts (notification_id, id) WHERE notification_id IS NOT NULL;
CREATE INDEX sms_receipts_received ON sms_receipts (received_at);

-- delivery_code: the carrier's code from the receipt that decided
-- delivered/undelivered (DELIVERED, DELIVRD, 30003, …).
ALTER TABLE notifications ADD COLUMN delivery_code text NOT NULL DEFAULT '';

-- fallback_of: this notice was queued because the SMS notice it names could
-- not be delivered (failed, undelivered, or suppressed as opted out / no
-- phone) and its policy stage lists a fallback channel. At most one each.
ALTER TABLE notifications ADD COLUMN fallback_of bigint REFERENCES notifications (id);
CREATE UNIQUE INDEX notifications_fallback_of ON notifications (fallback_of) WHERE fallback_of IS NOT NULL;

-- The fallback sweep reads recently settled SMS notices that did not go out.
CREATE INDEX notifications_sms_undeliverable ON notifications (updated_at)
    WHERE channel = 'sms' AND status IN ('suppressed', 'failed', 'undelivered');
-- The per-customer SMS cap counts a customer's SMS sent in the last 24 hours.
CREATE INDEX notifications_sms_sent ON notifications (customer_id, sent_at)
    WHERE channel = 'sms' AND sent_at IS NOT NULL;
