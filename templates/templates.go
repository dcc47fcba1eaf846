// Package templates renders borrower notices from embedded default templates,
// any of which an operator can override by dropping a file with the same
// relative path into a directory. Every rendered part is checked so that no
// URL outside the official domains can leave.
//
// Layout, under default/ and under the override directory alike:
//
//	<locale>/<kind>.sms.txt      SMS body (text/template)
//	<locale>/<kind>.subject.txt  email subject (text/template)
//	<locale>/<kind>.text.txt     email plain-text part (text/template)
//	<locale>/<kind>.html         email HTML part (html/template)
//	<locale>/_layout.txt         partials for the text parts ("greeting", "footer")
//	<locale>/_layout.html        partials for the HTML part ("header", "button", "footer")
//
// Template funcs, bound to the file's locale: money, date, datetime, card,
// days, plural, reason (see funcs.go).
package templates

import "time"

// Channels.
const (
	ChannelSMS   = "sms"
	ChannelEmail = "email"
)

// Locales.
const (
	LocaleZhCN = "zh-CN"
	LocaleEn   = "en"
)

// Kinds of notice.
const (
	KindDueSoon             = "due_soon"
	KindDueToday            = "due_today"
	KindOverdue             = "overdue"
	KindPaymentReceived     = "payment_received"
	KindCardUnbound         = "card_unbound"
	KindCardBound           = "card_bound"
	KindAutodebitFailed     = "autodebit_failed"
	KindRepaymentEntryMoved = "repayment_entry_moved"
	KindPlanCancelled       = "plan_cancelled"
	KindServiceClosed       = "service_closed"
	KindVerificationChanged = "verification_changed"
)

// Repayment methods.
const (
	RepayAutoDebit = "auto_debit"
	RepayManual    = "manual"
)

var kinds = []string{
	KindDueSoon, KindDueToday, KindOverdue, KindPaymentReceived,
	KindCardUnbound, KindCardBound, KindAutodebitFailed, KindRepaymentEntryMoved,
	KindPlanCancelled, KindServiceClosed, KindVerificationChanged,
}

var locales = []string{LocaleZhCN, LocaleEn}

// Kinds returns every kind that has templates.
func Kinds() []string { return append([]string(nil), kinds...) }

// Locales returns the locales with templates; the first is the fallback.
func Locales() []string { return append([]string(nil), locales...) }

// Data is everything a template may show.
type Data struct {
	Kind, Locale, Channel string // Channel is "sms" or "email"
	CustomerName          string

	PlanRef, PlanTitle, Merchant, Currency string // Currency defaults to "CNY"
	Seq, Periods                           int

	Amount       int64     // amount still due on the installment, in fen
	DueDate      time.Time // the installment's due date (calendar date; its Y-M-D is shown as is)
	DaysUntilDue int       // computed by the caller at send time; negative = days overdue
	RepayMethod  string    // "auto_debit" or "manual"
	CardLast4    string    // "" when none
	Link         string    // signed repayment link ("" for kinds that must not carry one)

	PaidAmount   int64     // payment_received: the amount paid
	PaidAt       time.Time // payment_received
	AppName      string    // repayment_entry_moved: where to repay now
	EntryURL     string    // repayment_entry_moved: URL from the event payload
	Reason       string    // autodebit_failed: reason class, e.g. "insufficient_funds"
	Outstanding  int64     // service_closed: remaining balance in fen (0 = none)
	SupportPhone string    // support contact, from config
	Now          time.Time // send time in the customer's zone
}

// AutoDebit reports whether the plan repays by automatic debit.
func (d Data) AutoDebit() bool { return d.RepayMethod == RepayAutoDebit }

// Rendered is one rendered notice. SMS fills only Text.
type Rendered struct{ Subject, Text, HTML string }
