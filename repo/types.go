package repo

import "time"

// Customer is a borrower.
type Customer struct {
	ID          int64  `db:"id" json:"-"`
	Ref         string `db:"ref" json:"ref"`
	Name        string `db:"name" json:"name"`
	Phone       string `db:"phone" json:"phone"` // E.164 or ''
	Email       string `db:"email" json:"email"` // or ''
	Locale      string `db:"locale" json:"locale"`
	Timezone    string `db:"timezone" json:"timezone"`
	SMSOptOut   bool   `db:"sms_opt_out" json:"sms_opt_out"`
	EmailOptOut bool   `db:"email_opt_out" json:"email_opt_out"`
	// SMSOptOutReason says why duebell set SMSOptOut itself (the provider
	// reported the number unsubscribed); "" when the lender set it.
	SMSOptOutReason string `db:"sms_opt_out_reason" json:"sms_opt_out_reason,omitempty"`
	// EmailOptOutReason says why duebell set EmailOptOut itself (the mail
	// server said the address has no mailbox); "" when the lender set it.
	// It lasts while the customer keeps that address.
	EmailOptOutReason string    `db:"email_opt_out_reason" json:"email_opt_out_reason,omitempty"`
	CreatedAt         time.Time `db:"created_at" json:"created_at"`
	UpdatedAt         time.Time `db:"updated_at" json:"updated_at"`
	// KeepSMSOptOut and KeepEmailOptOut, on a push, leave the stored flag
	// as it is (false for a new customer): the push did not say.
	KeepSMSOptOut   bool `db:"-" json:"-"`
	KeepEmailOptOut bool `db:"-" json:"-"`
	// Created, from UpsertCustomer, says the push created the customer
	// (the API's 201), decided by the write itself: of pushes racing to
	// create one customer, one creates it.
	Created bool `db:"created" json:"-"`
}

// Plan is one installment purchase.
type Plan struct {
	ID          int64     `db:"id" json:"-"`
	Ref         string    `db:"ref" json:"ref"`
	CustomerID  int64     `db:"customer_id" json:"-"`
	CustomerRef string    `db:"customer_ref" json:"customer_ref"`
	Merchant    string    `db:"merchant" json:"merchant"`
	Title       string    `db:"title" json:"title"`
	Currency    string    `db:"currency" json:"currency"`
	Total       int64     `db:"total" json:"total"`
	Periods     int       `db:"periods" json:"periods"`
	Status      string    `db:"status" json:"status"`
	RepayMethod string    `db:"repay_method" json:"repay_method"`
	CardLast4   string    `db:"card_last4" json:"card_last4"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
	UpdatedAt   time.Time `db:"updated_at" json:"updated_at"`
	// AsOf is when the lender's data in a push was read (its as_of). On a
	// push it is the push's own (nil: the push did not say, and the stored
	// one stays); read back, it is the as_of of the last push written (nil
	// when none said). A push older than it, or than a payment recorded
	// since, is refused (ErrStale).
	AsOf *time.Time `db:"as_of" json:"as_of,omitempty"`
	// Installments is filled by GetPlan and read by UpsertPlan.
	Installments []Installment `db:"-" json:"installments"`
	// Created, from UpsertPlan, says the push created the plan (the API's
	// 201), decided by the write itself, as Customer.Created.
	Created bool `db:"created" json:"-"`
}

// Installment is one period's bill.
type Installment struct {
	ID      int64      `db:"id" json:"-"`
	PlanID  int64      `db:"plan_id" json:"-"`
	Seq     int        `db:"seq" json:"seq"`
	DueDate Date       `db:"due_date" json:"due_date"`
	Amount  int64      `db:"amount" json:"amount"`
	Paid    int64      `db:"paid" json:"paid"`
	Status  string     `db:"status" json:"status"`
	PaidAt  *time.Time `db:"paid_at" json:"paid_at,omitempty"`
	// KeepPaid, on a plan push, leaves the stored paid as it is (the push
	// did not say); a new installment starts at 0.
	KeepPaid bool `db:"-" json:"-"`
}

// Plan, installment and notification states.
const (
	PlanActive    = "active"
	PlanCancelled = "cancelled"
	PlanClosed    = "closed"

	InstallmentPending = "pending"
	InstallmentPaid    = "paid"
	InstallmentWaived  = "waived"

	StatusPending     = "pending"
	StatusSending     = "sending"
	StatusSent        = "sent"
	StatusDelivered   = "delivered"
	StatusUndelivered = "undelivered"
	StatusSuppressed  = "suppressed"
	StatusFailed      = "failed"
	StatusSkipped     = "skipped"
)
