-- A delivery receipt is stored once. Providers post a batch again when our
-- answer was late (Aliyun after 1, 5 and 10 minutes; Tencent, Twilio and
-- webhook gateways likewise), and every receipt of it was stored a second
-- time: the notices were right, sms_receipts held each report twice.
--
-- Two receipts are the same report when the same provider reports the same
-- outcome (our status, its own status and code) at the same time (reported_at,
-- when it says) for the same message (its message id and our out-id). Only
-- receipts that name a message are kept once: one that names none matches
-- nothing and cannot be told from another provider's report of another
-- message.
--
-- The copies already stored go first: the earliest of each report stays,
-- with the notice a later copy was matched to and when it was applied when
-- the earliest had none (a copy posted after the send was recorded is the
-- one that was weighed), so the notice's receipts list it as before.
WITH copies AS (
	SELECT id,
	       count(*) OVER p AS n,
	       first_value(id) OVER (p ORDER BY id) AS keep,
	       first_value(notification_id) OVER (p ORDER BY notification_id IS NULL, id) AS notification_id,
	       min(applied_at) OVER p AS applied_at
	FROM sms_receipts
	WHERE provider_msg_id <> '' OR out_id <> ''
	WINDOW p AS (PARTITION BY provider, provider_msg_id, out_id, status, provider_status, code,
	             coalesce(reported_at, '-infinity'))
), merged AS (
	UPDATE sms_receipts r
	SET notification_id = coalesce(r.notification_id, c.notification_id), applied_at = coalesce(r.applied_at, c.applied_at)
	FROM copies c
	WHERE r.id = c.id AND c.id = c.keep AND c.n > 1 AND (r.notification_id IS NULL OR r.applied_at IS NULL)
)
DELETE FROM sms_receipts r USING copies c WHERE r.id = c.id AND c.id <> c.keep;

-- Receipts are written with INSERT … ON CONFLICT on this index (see
-- repo/receipts.go, writeReceiptsSQL). Building it reads every receipt and
-- blocks writes to sms_receipts while it builds.
CREATE UNIQUE INDEX IF NOT EXISTS sms_receipts_once ON sms_receipts
    (provider, provider_msg_id, out_id, status, provider_status, code, coalesce(reported_at, '-infinity'))
    WHERE provider_msg_id <> '' OR out_id <> '';
