-- duebell schema, version 3: payment-channel events.
-- channel_events (version 1) is documented for lenders that write it
-- directly, so its rules are constraints, not only API checks. They are added
-- NOT VALID: rows written before this version are left as they are (the scan
-- copes with them); every new or updated row must satisfy them.

ALTER TABLE channel_events ADD CONSTRAINT channel_events_kind CHECK (kind IN (
    'card_unbound', 'card_bound', 'autodebit_failed', 'repayment_entry_moved',
    'plan_cancelled', 'service_closed', 'verification_changed')) NOT VALID;

-- scope customer names the customer; scope plan names the plan and its
-- customer; scope all names neither (every customer with an active plan).
ALTER TABLE channel_events ADD CONSTRAINT channel_events_scope_target CHECK (
    (scope = 'customer' AND customer_id IS NOT NULL AND plan_id IS NULL) OR
    (scope = 'plan' AND customer_id IS NOT NULL AND plan_id IS NOT NULL) OR
    (scope = 'all' AND customer_id IS NULL AND plan_id IS NULL)) NOT VALID;

ALTER TABLE channel_events ADD CONSTRAINT channel_events_payload_object
    CHECK (jsonb_typeof(payload) = 'object') NOT VALID;

-- The card-event ordering check looks up a customer's processed card events.
CREATE INDEX channel_events_customer ON channel_events (customer_id, occurred_at) WHERE customer_id IS NOT NULL;

-- The notices an event produced.
CREATE INDEX notifications_event ON notifications (event_id) WHERE event_id IS NOT NULL;
