package repo

// The per-customer SMS cap (sms.max_per_customer_per_day) reads, at claim
// time, two counts for each claimed SMS notice: the customer's SMS that
// reached a provider in the 24 hours before the claim ($2), and those
// claimed by a worker right now (a lease live on the lease clock, $7). Each is read once for all the claimed
// customers (an array of them, not a join the planner sizes at one row),
// through indexes that do not walk the queue's history. The sent count
// reads the customer's notices sent in the window through
// notifications_customer_recent, an index on (customer_id,
// coalesce(sent_at)) of the notices given to a provider (045; hence the
// condition on provider, which every sent notice meets): through
// notifications_customer it read every notice the customer ever had, and
// claims slowed as the log grew. The comparison is on coalesce(sent_at) on
// purpose, and the index's predicate is not on sent_at: with a bare
// "sent_at > …", statistics from before a burst (every sent_at NULL) made
// the partial sent_at index look free, and every claim read every SMS sent
// that day (13 s a claim of 300 at 100k notices with the default cap); no
// plain sent_at index matches the expression.
// The in-flight count looks each claimed customer up in
// notifications_sms_inflight: over an array of them, the planner, its
// statistics taken when nothing was being sent, read notifications_lease
// whole instead, every lease of the run, sending or finished since (a dead
// entry until vacuum): 1.4 ms of a 15 ms claim.
// The statement's snapshot shows this claim's own notices as they were
// before it, so none of them counts itself. The dispatcher counts the
// notices of one claim that it actually sends (see notify's capGate), so a
// notice suppressed, deferred or failed to render in the same claim never
// uses up the customer's cap.
const smsCapJoinSQL = `
LEFT JOIN (
	SELECT x.customer_id, count(*) AS n, min(x.sent_at) AS oldest FROM notifications x
	WHERE $5::int > 0 AND x.channel = 'sms'
	  AND x.customer_id = ANY (ARRAY(SELECT customer_id FROM claimed WHERE channel = 'sms'))
	  AND x.provider <> '' AND coalesce(x.sent_at, '-infinity') > $2::timestamptz - interval '24 hours'
	GROUP BY x.customer_id) sent ON sent.customer_id = claimed.customer_id AND claimed.channel = 'sms'
LEFT JOIN (
	SELECT cc.customer_id, f.n FROM (SELECT DISTINCT customer_id FROM claimed WHERE $5::int > 0 AND channel = 'sms') cc
	CROSS JOIN LATERAL (SELECT count(*) AS n FROM notifications x
		WHERE x.customer_id = cc.customer_id AND x.status = 'sending' AND x.channel = 'sms' AND x.lease_expires_at >= $7) f
	) flying ON flying.customer_id = claimed.customer_id AND claimed.channel = 'sms'`
