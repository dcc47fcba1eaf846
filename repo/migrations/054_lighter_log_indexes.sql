-- notifications_status_updated served only queries of finished notices
-- (retention, the console's failures by day, bulk resend, SMS fallback, a
-- digest's release), yet every notice a scan queued and every claim added
-- an entry to it: with a scan's notices all sharing one status and one
-- time, those entries cost more than the rest of the insert's indexes
-- together (a scan of 100k bills: 2.7 → 2.3 s; a plain insert of 200k
-- rows with the log's indexes: 2.1 → 1.5 s). It now holds finished
-- notices only. A query of pending or sending notices by status never
-- read it; the claim and the lease sweep have their own partial indexes.
-- The rebuild takes a while on a large log and holds writes off the table
-- meanwhile: run it at a quiet hour.
DROP INDEX notifications_status_updated;
CREATE INDEX notifications_status_updated ON notifications (status, updated_at)
	WHERE status IN ('sent', 'delivered', 'undelivered', 'suppressed', 'failed', 'skipped');
