-- Retention deletes notices: SQLite checks each deleted notice's
-- idempotency keys (a foreign key) and the cleaner deletes them by notice,
-- both by scanning the table without an index on the key. A plain (not
-- partial) index, so the foreign-key check can use it.
CREATE INDEX idempotency_keys_notification ON idempotency_keys (notification_id);
