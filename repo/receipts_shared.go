package repo

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// This file holds the receipt, opt-out and fallback rules both stores keep,
// so the PostgreSQL and SQLite stores decide them the same way.

// Validate checks a receipt before it is stored: a provider and a known
// status. The error wraps ErrInvalid.
func (in Receipt) Validate() error {
	if in.Provider == "" || !slices.Contains([]string{ReceiptDelivered, ReceiptUndelivered, ReceiptProgress}, in.Status) {
		return invalidf("receipt: provider and a known status are required")
	}
	return nil
}

// OutNotificationID is the notice id the receipt's out-id names, or 0 when
// the out-id is not one of ours.
func (in Receipt) OutNotificationID() int64 {
	id, err := strconv.ParseInt(in.OutID, 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

// ReasonFallbackWithdrawn is why a fallback still pending is not sent when
// a late receipt says its SMS was delivered after all (after an
// undelivered one had queued the fallback): the borrower has the message.
const ReasonFallbackWithdrawn = "the sms was delivered after all"

// ReceiptSettlesRetrySQL is true when a delivered receipt rc settles notice
// n, pending for a retry: one of its tries through rc's provider ended
// unknown (the provider had the whole message, and may have sent it). A
// try the provider answered with a refusal (a 5xx) sent nothing: a
// delivered report naming that notice's id is another sender's (another
// application on a shared account whose OutId is the same number), and
// settled a reminder that never went out.
const ReceiptSettlesRetrySQL = `(n.status = 'pending' AND EXISTS (SELECT 1 FROM delivery_attempts a
	WHERE a.notification_id = n.id AND a.provider = rc.provider AND a.outcome = 'unknown'))`

// ReceiptWaits reports whether a receipt of status is stored unapplied, to
// be matched or applied later: it matched no notice (matched false), or the
// notice it matched is still being sent, or is pending and either was never
// tried or the receipt is not a delivery. A progress report never waits (it
// is never applied).
func ReceiptWaits(status string, matched bool, noticeStatus string, attempts int) bool {
	return status != ReceiptProgress && (!matched || noticeStatus == StatusSending ||
		noticeStatus == StatusPending && (status != ReceiptDelivered || attempts == 0))
}

// AuditEntry is the audit row an opt-out leaves on customer ref
// (customer.sms_opt_out, customer.email_opt_out).
func (in OptOutInput) AuditEntry(ref string) (AuditEntry, error) {
	detail, err := json.Marshal(map[string]any{
		"reason": in.Reason, "provider": in.Provider, "code": in.Code, "notification_id": in.NotificationID})
	if err != nil {
		return AuditEntry{}, fmt.Errorf("audit detail: %w", err)
	}
	return AuditEntry{At: in.Now, Actor: "duebell", Action: "customer." + in.Channel + "_opt_out", Target: "customer:" + ref,
		Detail: detail}, nil
}

// ValidateFallbackChannel checks the channel fallback notices go out on:
// a known channel other than SMS. The error wraps ErrInvalid.
func ValidateFallbackChannel(ch string) error {
	if !validChannels[ch] || ch == "sms" {
		return invalidf("fallback channel %q: want email", ch)
	}
	return nil
}
