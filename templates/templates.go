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
// A kind's templates are named after it. A kind may have further levels,
// named <level>.sms.txt and so on, that a policy stage chooses with
// template = "<level>" (see Levels): overdue_firm and overdue_serious are
// firmer overdue wordings than overdue's friendly first notice. Each
// reminder kind also has a digest, <kind>_digest (see Digest), listing the
// bills of Data.Bills: one notice for a customer's bills due together.
//
// Template funcs, bound to the file's locale: money, date, datetime, card,
// days, plural, reason (see funcs.go).
package templates

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"duebell/kinds"
)

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
	KindDueSoon             = kinds.DueSoon
	KindDueToday            = kinds.DueToday
	KindOverdue             = kinds.Overdue
	KindPaymentReceived     = kinds.PaymentReceived
	KindCardUnbound         = kinds.CardUnbound
	KindCardBound           = kinds.CardBound
	KindAutodebitFailed     = kinds.AutodebitFailed
	KindRepaymentEntryMoved = kinds.RepaymentEntryMoved
	KindPlanCancelled       = kinds.PlanCancelled
	KindServiceClosed       = kinds.ServiceClosed
	KindVerificationChanged = kinds.VerificationChanged
)

// Repayment methods.
const (
	RepayAutoDebit = "auto_debit"
	RepayManual    = "manual"
)

var locales = []string{LocaleZhCN, LocaleEn}

// Escalation levels: templates of a kind other than the kind's own, which a
// policy stage names (policy.stage template = "overdue_firm").
const (
	// TemplateOverdueFirm states the consequences of staying overdue
	// factually (late fees per the contract, credit reporting where
	// applicable); the default policy sends it at +7 days.
	TemplateOverdueFirm = "overdue_firm"
	// TemplateOverdueSerious is for a long-overdue installment (+15 or +30
	// days) and offers to talk about it; no default stage uses it.
	TemplateOverdueSerious = "overdue_serious"
)

// levels maps each escalation level to its kind, in the order shown.
var levels = []struct{ name, kind string }{
	{TemplateOverdueFirm, KindOverdue},
	{TemplateOverdueSerious, KindOverdue},
}

// names lists every template: each kind's own, then the levels, then the
// digests.
func names() []string {
	out := Kinds()
	for _, l := range levels {
		out = append(out, l.name)
	}
	for _, k := range kinds.Reminders() {
		out = append(out, Digest(k))
	}
	return out
}

// digestSuffix names a reminder kind's digest template: due_soon_digest.
const digestSuffix = "_digest"

// Digest names the template of kind's digest: one notice listing every
// bill of a customer that one stage reminds on one channel on one day
// (Data.Bills). Every reminder kind has one; a stage cannot name it.
func Digest(kind string) string { return kind + digestSuffix }

// IsDigest reports whether name is a digest template.
func IsDigest(name string) bool {
	k, ok := strings.CutSuffix(name, digestSuffix)
	return ok && slices.Contains(kinds.Reminders(), k)
}

// Names returns every template: the kinds' own, the escalation levels and
// the digests. A stage may name any but a digest (see IsDigest).
func Names() []string { return names() }

// KindOf returns the kind a template renders (a kind's own template is named
// after the kind); ok is false for an unknown name.
func KindOf(name string) (kind string, ok bool) {
	for _, l := range levels {
		if l.name == name {
			return l.kind, true
		}
	}
	if _, ok := kinds.Of(name); ok {
		return name, true
	}
	if IsDigest(name) {
		return strings.TrimSuffix(name, digestSuffix), true
	}
	return "", false
}

// Kinds returns every kind that has templates.
func Kinds() []string { return kinds.Names() }

// Locales returns the locales with templates; the first is the fallback.
func Locales() []string { return append([]string(nil), locales...) }

// Data is everything a template may show.
type Data struct {
	Kind, Locale, Channel string // Channel is "sms" or "email"
	// Template names the template to render, one of Kind's (see KindOf);
	// "" renders Kind's own.
	Template     string
	CustomerName string

	PlanRef, PlanTitle, Merchant, Currency string // Currency defaults to "CNY"
	Seq, Periods                           int

	Amount       int64     // amount still due on the installment, in fen
	DueDate      time.Time // the installment's due date (calendar date; its Y-M-D is shown as is)
	DaysUntilDue int       // computed by the caller at send time; negative = days overdue
	RepayMethod  string    // "auto_debit" or "manual"
	CardLast4    string    // "" when none
	Link         string    // signed repayment link ("" for kinds that must not carry one)
	LinkToken    string    // the token Link carries ("" when Link is not the signed link)

	PaidAmount   int64     // payment_received: the amount paid
	PaidAt       time.Time // payment_received
	AppName      string    // repayment_entry_moved: where to repay now
	EntryURL     string    // repayment_entry_moved: URL from the event payload
	Reason       string    // autodebit_failed: reason class, e.g. "insufficient_funds"
	Outstanding  int64     // service_closed: remaining balance in fen (0 = none)
	SupportPhone string    // support contact, from config
	// SMSSignature is the lender's SMS signature (签名) from config
	// (sms.signature), for an SMS; see Signature.
	SMSSignature string
	Now          time.Time // send time in the customer's zone

	// Bills are, for a digest (Digest(Kind)), every bill it reminds of, by
	// due date, and Total their sum; DueDate and DaysUntilDue are then the
	// first bill's, Amount is Total.
	Bills []Bill
	Total int64
	// Level is, for a digest, the escalation level its stage names
	// (TemplateOverdueFirm, TemplateOverdueSerious), "" for none: the
	// digest speaks for bills each of which would have had that level's
	// wording on its own.
	Level string
}

// Bill is one bill of a digest.
type Bill struct {
	Name         string // the merchant, or the plan's title when it has none
	PlanTitle    string
	PlanRef      string
	Seq, Periods int
	Amount       int64 // still due, in fen
	DueDate      time.Time
	DaysUntilDue int  // negative = days overdue
	AutoDebit    bool // its plan repays by automatic debit
}

// SameDue reports whether every bill of a digest falls due on one day (the
// wording then names the day once).
func (d Data) SameDue() bool {
	for _, b := range d.Bills {
		if !b.DueDate.Equal(d.DueDate) {
			return false
		}
	}
	return true
}

// Signature is who signs an SMS, the 【…】 a Chinese SMS opens with
// (mainland carriers refuse SMS without one): the lender's SMSSignature
// when configured, else the merchant's name ("" when the notice names no
// single merchant: a digest of several shops' bills, a security notice).
func (d Data) Signature() string { return cmp.Or(d.SMSSignature, d.Merchant) }

// BillsDebit says how a digest's bills are repaid: "all" by automatic
// debit, "none", or "some" (a digest told every borrower that some of its
// bills would be debited, whether or not any was).
func (d Data) BillsDebit() string {
	n := 0
	for _, b := range d.Bills {
		if b.AutoDebit {
			n++
		}
	}
	switch n {
	case 0:
		return "none"
	case len(d.Bills):
		return "all"
	}
	return "some"
}

// AutoDebit reports whether the plan repays by automatic debit.
func (d Data) AutoDebit() bool { return d.RepayMethod == RepayAutoDebit }

// Rendered is one rendered notice. SMS fills only Text.
type Rendered struct{ Subject, Text, HTML string }
