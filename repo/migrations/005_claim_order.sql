-- Claims take the oldest due notices in (next_attempt_at, id) order; with
-- both columns in the partial index a claim is an index scan, not a sort of
-- the whole queue.
DROP INDEX notifications_due;
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';

-- The per-customer SMS cap counts, at claim time, the customer's SMS in
-- flight with other workers: a customer-scoped index keeps that a lookup
-- rather than a walk over every leased notice.
CREATE INDEX notifications_sms_inflight ON notifications (customer_id) WHERE status = 'sending' AND channel = 'sms';
