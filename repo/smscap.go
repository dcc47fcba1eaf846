package repo

// The per-customer SMS cap (sms.max_per_customer_per_day) reads, at claim
// time, two counts for each claimed SMS notice, each read once for all the
// claimed customers (one index scan, not one per notice) so neither walks
// the queue's history: the customer's SMS that reached a
// provider in the 24 hours before the claim ($2), and those claimed by a
// worker right now. Both are written so that statistics from before a burst
// cannot turn them into scans of the whole morning. The sent count reads
// the customer's notices (customer_id index) and compares coalesce(sent_at):
// with a bare "sent_at > …" the planner, whose statistics still said no
// notice was sent, chose the sent_at index as free and read every SMS of
// the day for each claimed notice (13 s a claim of 300 at 100k notices,
// with the daemon's default cap); coalesce implies no "sent_at IS NOT NULL",
// so that partial index is not a candidate. Both take the claimed
// customers as an array, not a join the planner sized at one row. The statement's snapshot shows this claim's own notices
// as they were before it, so none of them counts itself. The dispatcher
// counts the notices of one claim that it actually sends (see notify's
// capGate), so a notice suppressed, deferred or failed to render in the same
// claim never uses up the customer's cap.
const smsCapJoinSQL = `
LEFT JOIN (
	SELECT x.customer_id, count(*) AS n, min(x.sent_at) AS oldest FROM notifications x
	WHERE $5::int > 0 AND x.channel = 'sms'
	  AND x.customer_id = ANY (ARRAY(SELECT customer_id FROM claimed WHERE channel = 'sms'))
	  AND coalesce(x.sent_at, '-infinity') > $2::timestamptz - interval '24 hours'
	GROUP BY x.customer_id) sent ON sent.customer_id = claimed.customer_id AND claimed.channel = 'sms'
LEFT JOIN (
	SELECT x.customer_id, count(*) AS n FROM notifications x
	WHERE $5::int > 0 AND x.status = 'sending' AND x.channel = 'sms' AND x.lease_expires_at >= $2
	  AND x.customer_id = ANY (ARRAY(SELECT customer_id FROM claimed WHERE channel = 'sms'))
	GROUP BY x.customer_id) flying ON flying.customer_id = claimed.customer_id AND claimed.channel = 'sms'`
