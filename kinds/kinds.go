// Package kinds is the one registry of notice kinds: each kind's facts are
// stated here once, and the scheduler, templates, dispatcher, store and
// console read them (SQL receives the lists as parameters).
package kinds

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

// Kind is what duebell knows about one kind of notice.
type Kind struct {
	Name string
	// Reminder: queued by the due-date scan for a policy stage.
	Reminder bool
	// AsksPayment: asks the borrower to pay one installment, so it is not
	// sent (suppressed, or a resend refused) once that installment is
	// settled or its plan is no longer active.
	AsksPayment bool
	// Link: carries the signed per-user repayment link.
	Link bool
	// Security: goes out in defaults.security_send_window, wider than the
	// reminders' window (a security or payment-failure notice is urgent).
	Security bool
	// Collection: chases a bill already overdue, so it counts against the
	// customer's contact limits (policy.collection: so many a day and a
	// week, only inside the collection window). Security notices and
	// payment confirmations are not collection and are never counted.
	Collection bool
}

var registry = []Kind{
	{Name: DueSoon, Reminder: true, AsksPayment: true, Link: true},
	{Name: DueToday, Reminder: true, AsksPayment: true, Link: true},
	{Name: Overdue, Reminder: true, AsksPayment: true, Link: true, Collection: true},
	{Name: PaymentReceived},
	{Name: CardUnbound, Link: true},
	{Name: CardBound},
	{Name: AutodebitFailed, AsksPayment: true, Link: true, Security: true},
	{Name: RepaymentEntryMoved}, // points to the new entry (payload url) instead
	{Name: PlanCancelled},
	{Name: ServiceClosed, Link: true},
	{Name: VerificationChanged, Security: true},
}

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

// Names lists every kind, in the registry's order.
func Names() []string { return names(func(Kind) bool { return true }) }

// AsksPayment lists the kinds that ask for payment of an installment.
func AsksPayment() []string { return names(func(k Kind) bool { return k.AsksPayment }) }

// Collection lists the kinds that count against the contact limits.
func Collection() []string { return names(func(k Kind) bool { return k.Collection }) }

// Security lists the kinds sent in the security send window.
func Security() []string { return names(func(k Kind) bool { return k.Security }) }

func names(keep func(Kind) bool) []string {
	var out []string
	for _, k := range registry {
		if keep(k) {
			out = append(out, k.Name)
		}
	}
	return out
}

// Reminders lists the kinds the due-date scan queues.
func Reminders() []string { return names(func(k Kind) bool { return k.Reminder }) }
