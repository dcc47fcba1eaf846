-- duebell schema: contact limits for overdue notices (policy.collection).
-- The dispatcher counts, per customer, the collection notices that went out
-- in the last week, across channels; this keeps that a short index range.
CREATE INDEX IF NOT EXISTS notifications_customer_sent ON notifications (customer_id, sent_at) WHERE sent_at IS NOT NULL;
