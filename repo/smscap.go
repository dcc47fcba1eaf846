package repo

// The per-customer SMS cap (sms.max_per_customer_per_day) is counted at
// claim time. smsRecentJoinSQL counts, for a claimed SMS notice, the
// customer's SMS sent in the 24 hours before the claim ($2) and those in
// flight with another worker; the statement's snapshot shows this claim's
// own notices as they were before it, so none of them counts itself.
// smsRecentSQL then adds the notice's rank among the same customer's SMS in
// this claim, so a batch holding several of them cannot overshoot the cap.
const (
	smsRecentJoinSQL = `
LEFT JOIN LATERAL (
	SELECT count(*) AS n, min(x.sent_at) AS oldest FROM notifications x
	WHERE claimed.channel = 'sms' AND x.channel = 'sms' AND x.customer_id = claimed.customer_id
	  AND (x.sent_at > $2::timestamptz - interval '24 hours'
	       OR (x.status = 'sending' AND x.lease_expires_at >= $2))) sms ON true`
	smsRecentSQL = `CASE WHEN claimed.channel = 'sms' THEN sms.n - 1 +
	row_number() OVER (PARTITION BY claimed.customer_id, claimed.channel ORDER BY claimed.next_attempt_at, claimed.id)
	ELSE 0 END`
)
