package repo

// suppressReasonSQL decides, for a new notice on channel column "ch" to the
// customer row "c", why it cannot be sent at all: an opted-out channel or a
// missing address. ” means it can be queued. Every statement that creates
// notices uses it, so scans, payments and events agree on the rule.
const suppressReasonSQL = `CASE
	WHEN ch = 'sms'   AND c.sms_opt_out   THEN 'opted_out'
	WHEN ch = 'email' AND c.email_opt_out THEN 'opted_out'
	WHEN ch = 'sms'   AND c.phone = ''    THEN 'no_phone'
	WHEN ch = 'email' AND c.email = ''    THEN 'no_email'
	ELSE '' END`

// newNoticeStatusSQL turns the reason computed by suppressReasonSQL (as
// column "reason") into the notice's first status.
const newNoticeStatusSQL = `CASE WHEN reason = '' THEN 'pending' ELSE 'suppressed' END`
