package repo

import "time"

// Notification is one row of the outbox / delivery log.
type Notification struct {
	ID             int64      `db:"id" json:"id"`
	DedupKey       *string    `db:"dedup_key" json:"dedup_key,omitempty"`
	CustomerID     int64      `db:"customer_id" json:"-"`
	PlanID         *int64     `db:"plan_id" json:"-"`
	InstallmentID  *int64     `db:"installment_id" json:"-"`
	EventID        *int64     `db:"event_id" json:"-"`
	Kind           string     `db:"kind" json:"kind"`
	Stage          string     `db:"stage" json:"stage"`
	StageOffset    *int       `db:"stage_offset" json:"stage_offset,omitempty"`
	Channel        string     `db:"channel" json:"channel"`
	Locale         string     `db:"locale" json:"locale"`
	Template       string     `db:"template" json:"template"`
	Recipient      string     `db:"recipient" json:"recipient"`
	Subject        string     `db:"subject" json:"subject,omitempty"`
	Body           string     `db:"body" json:"body"`
	BodyHTML       string     `db:"body_html" json:"body_html,omitempty"`
	Link           string     `db:"link" json:"link,omitempty"`
	Status         string     `db:"status" json:"status"`
	StatusReason   string     `db:"status_reason" json:"status_reason,omitempty"`
	Attempts       int        `db:"attempts" json:"attempts"`
	NotBefore      time.Time  `db:"not_before" json:"not_before"`
	NextAttemptAt  time.Time  `db:"next_attempt_at" json:"next_attempt_at"`
	LeaseOwner     *string    `db:"lease_owner" json:"-"`
	LeaseExpiresAt *time.Time `db:"lease_expires_at" json:"-"`
	Provider       string     `db:"provider" json:"provider,omitempty"`
	ProviderMsgID  string     `db:"provider_msg_id" json:"provider_msg_id,omitempty"`
	LastError      string     `db:"last_error" json:"last_error,omitempty"`
	ResendOf       *int64     `db:"resend_of" json:"resend_of,omitempty"`
	RequestedBy    string     `db:"requested_by" json:"requested_by,omitempty"`
	ResendReason   string     `db:"resend_reason" json:"resend_reason,omitempty"`
	Forced         bool       `db:"forced" json:"forced,omitempty"` // a resend past the settled/plan re-check
	CreatedAt      time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt      time.Time  `db:"updated_at" json:"updated_at"`
	SentAt         *time.Time `db:"sent_at" json:"sent_at,omitempty"`
	DeliveredAt    *time.Time `db:"delivered_at" json:"delivered_at,omitempty"`
	DeliveryCode   string     `db:"delivery_code" json:"delivery_code,omitempty"` // the carrier's code from a receipt
	FallbackOf     *int64     `db:"fallback_of" json:"fallback_of,omitempty"`     // the SMS notice this one stands in for
	// DigestOf is, for a notice grouped into a digest, the notice that goes
	// out for the whole group (the leader, whose DigestOf is its own id).
	DigestOf *int64 `db:"digest_of" json:"digest_of,omitempty"`
}

// Attempt is one delivery try, as logged in delivery_attempts.
type Attempt struct {
	ID             int64     `db:"id" json:"-"`
	NotificationID int64     `db:"notification_id" json:"notification_id"`
	N              int       `db:"n" json:"n"`
	Channel        string    `db:"channel" json:"channel"`
	Provider       string    `db:"provider" json:"provider"`
	StartedAt      time.Time `db:"started_at" json:"started_at"`
	FinishedAt     time.Time `db:"finished_at" json:"finished_at"`
	Outcome        string    `db:"outcome" json:"outcome"` // sent, transient, permanent, unknown
	ProviderMsgID  string    `db:"provider_msg_id" json:"provider_msg_id,omitempty"`
	Code           string    `db:"code" json:"code,omitempty"`
	Error          string    `db:"error" json:"error,omitempty"`
}

// Attempt outcomes.
const (
	OutcomeSent      = "sent"
	OutcomeTransient = "transient"
	OutcomePermanent = "permanent"
	// OutcomeUnknown is a try whose result was never learnt: its worker
	// crashed or lost its lease, or shutdown cut the send off. The message
	// may have reached the provider.
	OutcomeUnknown = "unknown"
)
