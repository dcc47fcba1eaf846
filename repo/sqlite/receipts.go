package sqlite

// receiptsReasonSQL is the status_reason a receipt leaves, from columns
// status, provider and code of the row aliased rc.
const receiptsReasonSQL = `rc.status || ' per ' || rc.provider || ' receipt' ||
	CASE WHEN rc.code <> '' THEN ' (code ' || rc.code || ')' ELSE '' END`

// receiptsMatchSQL finds the SMS notice a receipt speaks of: by the
// provider's message id ($1 provider, $2 id), else by our out-id ($3) as
// long as the notice's provider and message id, once known, do not
// contradict it. The two ways are two index lookups (a UNION rather than an
// OR, so the partial message-id index serves the first); a match by
// message id comes first.
const receiptsMatchSQL = `
SELECT id, status, attempts FROM (
	SELECT id, status, attempts, provider_msg_id FROM notifications
	WHERE $2 <> '' AND provider_msg_id <> '' AND provider = $1 AND provider_msg_id = $2 AND channel = 'sms'
	UNION ALL
	SELECT id, status, attempts, provider_msg_id FROM notifications
	WHERE id = $3 AND channel = 'sms' AND provider IN ('', $1)
	  AND (provider_msg_id = '' OR $2 = '' OR provider_msg_id = $2)
)
ORDER BY ($2 <> '' AND provider_msg_id = $2) DESC, id
LIMIT 1`

// receiptsApplySQL moves notice $1 by receipt $2 (aliased rc): delivered
// wins over sent and undelivered, and over a retry still pending after a
// failed try (that try did reach the phone); undelivered only replaces
// sent. A delivered notice never changes again.
const receiptsApplySQL = `
UPDATE notifications AS n SET status = rc.status, status_reason = ` + receiptsReasonSQL + `,
	delivery_code = rc.code, updated_at = $3,
	delivered_at = CASE WHEN rc.status = 'delivered' THEN coalesce(rc.reported_at, $3) ELSE n.delivered_at END,
	sent_at = CASE WHEN rc.status = 'delivered' THEN coalesce(n.sent_at, rc.reported_at, $3) ELSE n.sent_at END,
	provider = CASE WHEN n.provider = '' THEN rc.provider ELSE n.provider END,
	provider_msg_id = CASE WHEN n.provider_msg_id = '' THEN rc.provider_msg_id ELSE n.provider_msg_id END
FROM sms_receipts AS rc
WHERE n.id = $1 AND rc.id = $2 AND (
	(rc.status = 'delivered' AND (n.status IN ('sent', 'undelivered') OR (n.status = 'pending' AND n.attempts > 0)))
	OR (rc.status = 'undelivered' AND n.status = 'sent'))
RETURNING status`
