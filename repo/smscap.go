package repo

// The per-customer SMS cap (sms.max_per_customer_per_day) reads, at claim
// time, two counts for each claimed SMS notice, each from its own index so
// neither walks the queue's history: the customer's SMS that reached a
// provider in the 24 hours before the claim ($2), and those claimed by a
// worker right now. The statement's snapshot shows this claim's own notices
// as they were before it, so none of them counts itself. The dispatcher
// counts the notices of one claim that it actually sends (see notify's
// capGate), so a notice suppressed, deferred or failed to render in the same
// claim never uses up the customer's cap.
const smsCapJoinSQL = `
LEFT JOIN LATERAL (
	SELECT count(*) AS n, min(x.sent_at) AS oldest FROM notifications x
	WHERE $5::int > 0 AND claimed.channel = 'sms' AND x.channel = 'sms' AND x.customer_id = claimed.customer_id
	  AND x.sent_at IS NOT NULL AND x.sent_at > $2::timestamptz - interval '24 hours') sent ON true
LEFT JOIN (
	SELECT x.customer_id, count(*) AS n FROM notifications x
	WHERE $5::int > 0 AND x.status = 'sending' AND x.channel = 'sms' AND x.lease_expires_at >= $2
	  AND x.customer_id IN (SELECT customer_id FROM claimed WHERE channel = 'sms')
	GROUP BY x.customer_id) flying ON flying.customer_id = claimed.customer_id AND claimed.channel = 'sms'`
