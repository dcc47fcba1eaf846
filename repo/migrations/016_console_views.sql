-- duebell schema: the support console's overview and customer page.
-- Sends per day read notices by the time they went out; a customer page
-- reads the audit entries about that customer's notices.
CREATE INDEX IF NOT EXISTS notifications_sent_at ON notifications (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, at DESC);
