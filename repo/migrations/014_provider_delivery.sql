-- duebell schema, version 14: provider-aware delivery.

-- Why a customer's SMS opt-out was set by duebell itself: the SMS provider
-- said the number unsubscribed or is blacklisted. A pushed customer keeps
-- such an opt-out (the provider would refuse the number anyway).
ALTER TABLE customers ADD COLUMN sms_opt_out_reason text NOT NULL DEFAULT '';

-- A provider that refused the account (balance, arrears, suspended,
-- credentials): each dispatcher stops sending through it while it is open
-- and probes again at probe_at. Open while closed_at is NULL. Written by the
-- dispatcher that saw it, read by the console.
CREATE TABLE provider_circuits (
    provider   text PRIMARY KEY,
    channel    text NOT NULL,
    opened_at  timestamptz NOT NULL,
    probe_at   timestamptz NOT NULL,
    code       text NOT NULL DEFAULT '',
    error      text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    closed_at  timestamptz
);
