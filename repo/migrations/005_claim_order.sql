-- Claims take the oldest due notices in (next_attempt_at, id) order; with
-- both columns in the partial index a claim is an index scan, not a sort of
-- the whole queue.
DROP INDEX notifications_due;
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';
