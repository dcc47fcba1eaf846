// Package kinds is the one registry of notice kinds: each kind's facts are
// stated here once, and the scheduler, templates, dispatcher, store, API and
// console read them (SQL receives the lists as parameters). Adding a kind is
// one entry in registry plus its templates (see README, "Adding a notice
// kind").
package kinds

import "slices"

// The kinds of notice.
const (
	DueSoon             = "due_soon"
	DueToday            = "due_today"
	Overdue             = "overdue"
	PaymentReceived     = "payment_received"
	CardUnbound         = "card_unbound"
	CardBound           = "card_bound"
	AutodebitFailed     = "autodebit_failed"
	RepaymentEntryMoved = "repayment_entry_moved"
	PlanCancelled       = "plan_cancelled"
	ServiceClosed       = "service_closed"
	VerificationChanged = "verification_changed"
)

// Event scopes: one customer, one plan (and its customer), or every
// customer with an active plan.
const (
	ScopeCustomer = "customer"
	ScopePlan     = "plan"
	ScopeAll      = "all"
)

// Repayment methods an event may switch a plan to.
const (
	RepayAutoDebit = "auto_debit"
	RepayManual    = "manual"
)

// Locales a label may be given in (English shows the kind's name).
const LocaleZhCN = "zh-CN"

// Kind is what duebell knows about one kind of notice.
type Kind struct {
	Name string
	// Label names the kind for people, by locale (the console; English
	// shows Name).
	Label map[string]string
	// Reminder: queued by the due-date scan for a policy stage.
	Reminder bool
	// DueSide (reminders): on which side of the due date the kind's stages
	// lie: -1 before it, 0 on the day, 1 after it.
	DueSide int
	// AsksPayment: asks the borrower to pay one installment, so it is not
	// sent (suppressed, or a resend refused) once that installment is
	// settled or its plan is no longer active.
	AsksPayment bool
	// Link: carries the signed per-user repayment link.
	Link bool
	// NoURL: may carry no URL at all, not even one on the official domains
	// (a security notice: borrowers learn that such notices never link).
	NoURL bool
	// Security: goes out in defaults.security_send_window, wider than the
	// reminders' window (a security or payment-failure notice is urgent).
	Security bool
	// Collection: chases a bill already overdue, so it counts against the
	// customer's contact limits (policy.collection: so many a day and a
	// week, only inside the collection window). Security notices and
	// payment confirmations are not collection and are never counted.
	Collection bool
	// ConfirmsPayment: confirms a payment (queued when one settles an
	// installment): it shows the installment's full amount, what was paid
	// and when.
	ConfirmsPayment bool
	// Outstanding: reports what the customer still owes on the plans it
	// speaks of, computed when the notice is claimed; with nothing owed it
	// carries no link.
	Outstanding bool
	// Vars are the template variables, beyond the common ones (name,
	// merchant, plan, plan_ref, support_phone), that mean something for the
	// kind: what an SMS template filed provider-side may use (notify.Var*).
	Vars []string
	// Event: the kind is reported by the lender as a payment-channel event
	// (POST /api/v1/channel-events); nil for kinds duebell queues itself.
	Event *Event
}

// Event is how a payment-channel event of a kind is taken in and turned
// into notices by the channel-event scan.
type Event struct {
	// Scopes the event may have (ScopeCustomer, ScopePlan, ScopeAll).
	Scopes []string
	// Payload lists the payload keys the event accepts; each key is checked
	// by the API the same way whichever kind carries it. Required lists
	// those it must carry.
	Payload, Required []string
	// PickPlan: with scope customer or all, the notice names the customer's
	// active plan with the earliest unpaid installment (else the newest
	// active plan), for the template's title and merchant.
	PickPlan bool
	// Installment: the notice names the plan's next unpaid installment
	// (the one in payload "seq" when the kind takes that key and it is
	// given), so templates get its due date and amount.
	Installment bool
	// NeedsActivePlan: without an active plan the event changes nothing the
	// borrower repays, so no notice is queued.
	NeedsActivePlan bool
	// NeedsInstallment: without an installment to name there is nothing to
	// ask for (a failed auto-debit on a plan with nothing unpaid).
	NeedsInstallment bool
	// RepayMethod: the event switches the customer's active plans (or the
	// one plan) to this repay method; "" changes none. Such events apply in
	// the order they occurred: one older than a processed one is superseded.
	RepayMethod string
	// CancelsPlan: the event cancels its plan, suppressing the plan's
	// pending notices that ask for payment.
	CancelsPlan bool
}

// Template variable groups (names as notify.Var*).
var (
	installmentVars = []string{"seq", "periods", "amount", "due_date", "days"}
	reminderVars    = vars(installmentVars, []string{"card", "link", "link_token"})
)

func vars(groups ...[]string) []string { return slices.Concat(groups...) }

var registry = []Kind{
	{Name: DueSoon, Label: zh("即将到期"), Reminder: true, DueSide: -1, AsksPayment: true, Link: true, Vars: reminderVars},
	{Name: DueToday, Label: zh("今日到期"), Reminder: true, DueSide: 0, AsksPayment: true, Link: true, Vars: reminderVars},
	{Name: Overdue, Label: zh("已逾期"), Reminder: true, DueSide: 1, AsksPayment: true, Link: true, Collection: true, Vars: reminderVars},
	{Name: PaymentReceived, Label: zh("还款成功"), ConfirmsPayment: true,
		Vars: []string{"seq", "periods", "amount", "paid_amount", "paid_at"}},
	{Name: CardUnbound, Label: zh("银行卡已解绑"), Link: true, Vars: []string{"card", "amount", "due_date", "days", "link", "link_token"},
		Event: &Event{Scopes: []string{ScopeCustomer, ScopePlan}, Payload: []string{"card_last4"},
			PickPlan: true, Installment: true, NeedsActivePlan: true, RepayMethod: RepayManual}},
	{Name: CardBound, Label: zh("银行卡已绑定"), Vars: []string{"card"},
		Event: &Event{Scopes: []string{ScopeCustomer, ScopePlan}, Payload: []string{"card_last4"}, Required: []string{"card_last4"},
			PickPlan: true, NeedsActivePlan: true, RepayMethod: RepayAutoDebit}},
	{Name: AutodebitFailed, Label: zh("自动扣款失败"), AsksPayment: true, Link: true, Security: true, Vars: reminderVars,
		Event: &Event{Scopes: []string{ScopePlan}, Payload: []string{"seq", "reason"}, Installment: true, NeedsInstallment: true}},
	// Points to the new entry (payload url) instead of a signed link.
	{Name: RepaymentEntryMoved, Label: zh("还款入口迁移"), Vars: []string{"app_name", "entry_url"},
		Event: &Event{Scopes: []string{ScopeCustomer, ScopePlan, ScopeAll}, Payload: []string{"app_name", "url"}, Required: []string{"app_name"}}},
	{Name: PlanCancelled, Label: zh("分期已取消"), Vars: []string{},
		Event: &Event{Scopes: []string{ScopePlan}, CancelsPlan: true}},
	{Name: ServiceClosed, Label: zh("分期服务关闭"), Link: true, Outstanding: true, Vars: []string{"outstanding", "due_date", "link", "link_token"},
		Event: &Event{Scopes: []string{ScopeCustomer, ScopeAll}, PickPlan: true, Installment: true}},
	{Name: VerificationChanged, Label: zh("验证方式变更"), NoURL: true, Security: true, Vars: []string{},
		Event: &Event{Scopes: []string{ScopeCustomer}, Payload: []string{"setting"}, PickPlan: true}},
}

func zh(label string) map[string]string { return map[string]string{LocaleZhCN: label} }

var byName = func() map[string]Kind {
	m := make(map[string]Kind, len(registry))
	for _, k := range registry {
		m[k.Name] = k
	}
	return m
}()

// Of returns the facts of kind name; ok is false for an unknown kind.
func Of(name string) (Kind, bool) {
	k, ok := byName[name]
	return k, ok
}

// All returns every kind's facts, in the registry's order.
func All() []Kind { return slices.Clone(registry) }

// Names lists every kind, in the registry's order.
func Names() []string { return names(func(Kind) bool { return true }) }

// AsksPayment lists the kinds that ask for payment of an installment.
func AsksPayment() []string { return names(func(k Kind) bool { return k.AsksPayment }) }

// Collection lists the kinds that count against the contact limits.
func Collection() []string { return names(func(k Kind) bool { return k.Collection }) }

// Security lists the kinds sent in the security send window.
func Security() []string { return names(func(k Kind) bool { return k.Security }) }

// Reminders lists the kinds the due-date scan queues.
func Reminders() []string { return names(func(k Kind) bool { return k.Reminder }) }

// Events lists the kinds reported as payment-channel events.
func Events() []string { return names(func(k Kind) bool { return k.Event != nil }) }

// RepayMethodEvents lists the event kinds that switch a plan's repay method
// (the card events, applied in the order they occurred).
func RepayMethodEvents() []string {
	return names(func(k Kind) bool { return k.Event != nil && k.Event.RepayMethod != "" })
}

// ChangesPlan lists the event kinds whose processing changes plans (their
// repay method, or their status).
func ChangesPlan() []string {
	return names(func(k Kind) bool { return k.Event != nil && (k.Event.RepayMethod != "" || k.Event.CancelsPlan) })
}

// Outstanding lists the kinds that report what is still owed.
func Outstanding() []string { return names(func(k Kind) bool { return k.Outstanding }) }

// ConfirmsPayment lists the payment confirmation kinds.
func ConfirmsPayment() []string { return names(func(k Kind) bool { return k.ConfirmsPayment }) }

// PayloadKeys lists every payload key some event kind accepts, in registry
// order.
func PayloadKeys() []string {
	var out []string
	for _, k := range registry {
		if k.Event == nil {
			continue
		}
		for _, p := range k.Event.Payload {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// Takes reports whether k is an event kind whose payload accepts key.
func (k Kind) Takes(key string) bool { return k.Event != nil && slices.Contains(k.Event.Payload, key) }

// LabelIn is k's label in locale, or its name when it has none there.
func (k Kind) LabelIn(locale string) string {
	if l, ok := k.Label[locale]; ok {
		return l
	}
	return k.Name
}

func names(keep func(Kind) bool) []string {
	var out []string
	for _, k := range registry {
		if keep(k) {
			out = append(out, k.Name)
		}
	}
	return out
}

// Requires reports whether the event's payload must carry key.
func (e *Event) Requires(key string) bool { return slices.Contains(e.Required, key) }
