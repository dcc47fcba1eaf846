package repo

import (
	"cmp"
	"fmt"
	"maps"
	"time"
)

// The import's decisions, shared by both stores: each store reads what is
// stored, hands it to these functions, and writes what they decide. Only
// the reads and writes are the store's own.

// CheckUnique refuses a batch that names a ref (an installment for
// payments) twice within one kind: Apply decides every line on one read of
// what is stored, so a repeated ref would be decided on a stale read.
func (b ImportBatch) CheckUnique() error {
	seen := map[string]bool{}
	dup := func(key string) error {
		if seen[key] {
			return fmt.Errorf("import batch: %s appears twice", key)
		}
		seen[key] = true
		return nil
	}
	for _, c := range b.Customers {
		if err := dup("customer " + c.Customer.Ref); err != nil {
			return err
		}
	}
	for _, p := range b.Plans {
		if err := dup("plan " + p.Plan.Ref); err != nil {
			return err
		}
	}
	for _, p := range b.Payments {
		if err := dup(fmt.Sprintf("payment on plan %s installment %d", p.Payment.PlanRef, p.Payment.Seq)); err != nil {
			return err
		}
	}
	for _, e := range b.Events {
		if err := dup("event " + e.Event.Ref); err != nil {
			return err
		}
	}
	return nil
}

// ImportRefusal is the result of a refused line.
func ImportRefusal(line int, kind, ref string, err error) ImportLineResult {
	return ImportLineResult{Line: line, Kind: kind, Ref: ref, Outcome: ImportRefused, Err: err}
}

// ImportCustomerRefs returns the refs of in, in order.
func ImportCustomerRefs(in []ImportCustomer) []string {
	refs := make([]string, len(in))
	for i, c := range in {
		refs[i] = c.Customer.Ref
	}
	return refs
}

// DecideImportCustomer returns the customer as the line stores it and what
// the line does, given the stored customer (found false: none). An opt-out
// the line leaves out is kept (false for a new customer). An SMS opt-out
// duebell set itself (the provider reported the number unsubscribed) is
// kept whatever the line says, as UpsertCustomer keeps it: the provider
// would refuse the number anyway (README, "unsubscribed"). An email
// opt-out duebell set (the address has no mailbox) is kept while the line
// keeps the address; with a new address the line's opt-out stands (false
// when it leaves it out), and the writes clear the reason.
func DecideImportCustomer(ic ImportCustomer, cur Customer, found bool) (Customer, ImportLineResult) {
	c := ic.Customer
	if ic.KeepSMSOptOut {
		c.SMSOptOut = found && cur.SMSOptOut
	}
	if ic.KeepEmailOptOut {
		c.EmailOptOut = found && cur.EmailOptOut
	}
	if found && cur.SMSOptOutReason != "" {
		c.SMSOptOut = true
	}
	if found && cur.EmailOptOutReason != "" {
		c.EmailOptOut = c.Email == cur.Email || c.EmailOptOut && !ic.KeepEmailOptOut
	}
	res := ImportLineResult{Line: ic.Line, Kind: "customer", Ref: c.Ref, Outcome: ImportCreated}
	if found {
		res.Outcome = ImportUpdated
		if sameCustomer(cur, c) {
			res.Outcome = ImportUnchanged
		}
	}
	return c, res
}

func sameCustomer(a, b Customer) bool {
	return a.Name == b.Name && a.Phone == b.Phone && a.Email == b.Email && a.Locale == b.Locale &&
		a.Timezone == b.Timezone && a.SMSOptOut == b.SMSOptOut && a.EmailOptOut == b.EmailOptOut
}

// ImportStoredInstallment is a stored installment with the sum of the
// payments recorded on it.
type ImportStoredInstallment struct {
	Installment
	Recorded int64 `db:"recorded"`
}

// ImportPlanState is what is stored for a batch of plan lines: the
// customers they name, the plans and their installments, and the last
// payment recorded on and the last channel event that may have changed
// each plan whose line carries an as_of.
type ImportPlanState struct {
	Customers    map[string]int64                          // customer id by ref
	Plans        map[string]Plan                           // by ref
	Installments map[int64]map[int]ImportStoredInstallment // by plan id, seq
	LastRecorded map[int64]LastRecorded                    // by plan id
	LastEvent    map[int64]LastEvent                       // by plan id
}

// NewImportPlanState returns an empty state whose customers are the ones
// of customerIDs (the batch's own, written or read by its customers step)
// that in names, and the plan refs and the other customer refs of in, to
// be looked up.
func NewImportPlanState(in []ImportPlan, customerIDs map[string]int64) (st ImportPlanState, planRefs, customerRefs []string) {
	st = ImportPlanState{Customers: map[string]int64{}, Plans: map[string]Plan{},
		Installments: map[int64]map[int]ImportStoredInstallment{}, LastRecorded: map[int64]LastRecorded{},
		LastEvent: map[int64]LastEvent{}}
	planRefs = make([]string, len(in))
	for i, p := range in {
		planRefs[i] = p.Plan.Ref
		if id, ok := customerIDs[p.Plan.CustomerRef]; ok {
			st.Customers[p.Plan.CustomerRef] = id
		} else {
			customerRefs = append(customerRefs, p.Plan.CustomerRef)
		}
	}
	return st, planRefs, customerRefs
}

// AddPlans records the stored plans and returns their ids.
func (st ImportPlanState) AddPlans(plans []Plan) []int64 {
	ids := make([]int64, len(plans))
	for i, p := range plans {
		st.Plans[p.Ref], ids[i] = p, p.ID
	}
	return ids
}

// AddInstallments records the stored installments.
func (st ImportPlanState) AddInstallments(insts []ImportStoredInstallment) {
	for _, it := range insts {
		if st.Installments[it.PlanID] == nil {
			st.Installments[it.PlanID] = map[int]ImportStoredInstallment{}
		}
		st.Installments[it.PlanID][it.Seq] = it
	}
}

// AsOfPlanIDs returns the ids of the stored plans whose lines in in carry
// an as_of: the plans whose last recorded payment and event the lines are
// checked against (AddLast). A batch without as_of reads none.
func (st ImportPlanState) AsOfPlanIDs(in []ImportPlan) []int64 {
	var ids []int64
	for _, ip := range in {
		if cur, ok := st.Plans[ip.Plan.Ref]; ok && ip.Plan.AsOf != nil {
			ids = append(ids, cur.ID)
		}
	}
	return ids
}

// AddLast records the last payment recorded on each plan, and the last
// event that may have changed it.
func (st ImportPlanState) AddLast(payments []LastRecorded, events []LastEvent) {
	for _, l := range payments {
		st.LastRecorded[l.PlanID] = l
	}
	for _, e := range events {
		st.LastEvent[e.PlanID] = e
	}
}

// Decide decides every line of in: its result and the plan as it is to
// be stored (with CustomerID, and ID 0 for a new plan).
func (st ImportPlanState) Decide(in []ImportPlan, now time.Time) ([]ImportLineResult, []Plan) {
	out, finals := make([]ImportLineResult, len(in)), make([]Plan, len(in))
	for i, ip := range in {
		final, outcome, err := st.decide(ip, now)
		if err != nil {
			out[i] = ImportRefusal(ip.Line, "plan", ip.Plan.Ref, err)
			continue
		}
		out[i], finals[i] = ImportLineResult{Line: ip.Line, Kind: "plan", Ref: ip.Plan.Ref, Outcome: outcome}, final
	}
	return out, finals
}

// decide returns the plan as it is to be stored and what the line does,
// or why it is refused, with the rules of UpsertPlan: the customer must
// exist, a plan stays with its customer, a line read before the plan's
// last recorded payment or its stored as_of is stale, installments are
// never removed, and a plan never lowers an installment's paid below what
// payments recorded (an omitted paid keeps the stored one). as_of is not
// part of what a line changes: a line that changes nothing else is
// unchanged and not written, so its as_of is not stored (a nightly
// re-sync of the same book stays cheap), and it is not stale either,
// whatever its as_of: the same file imported again, whose payments the
// first import recorded after the file's as_of, is all unchanged. A line
// that would change something is checked for staleness first.
func (st ImportPlanState) decide(ip ImportPlan, now time.Time) (Plan, ImportOutcome, error) {
	p := ip.Plan
	cid, ok := st.Customers[p.CustomerRef]
	if !ok {
		return p, "", fmt.Errorf("customer %q: %w", p.CustomerRef, ErrNotFound)
	}
	p.CustomerID = cid
	cur, found := st.Plans[p.Ref]
	if found && cur.CustomerID != cid {
		return p, "", fmt.Errorf("plan %q belongs to another customer: %w", p.Ref, ErrConflict)
	}
	p.ID = cur.ID // 0 for a new plan
	var stale error
	if found {
		var last *LastRecorded
		if l, ok := st.LastRecorded[cur.ID]; ok {
			last = &l
		}
		var event *LastEvent
		if e, ok := st.LastEvent[cur.ID]; ok {
			event = &e
		}
		stale = CheckAsOf(p.AsOf, cur.AsOf, last, event)
	}
	// refuse is why a line that changes something is refused: stale
	// before anything else wrong with it.
	refuse := func(err error) (Plan, ImportOutcome, error) { return p, "", cmp.Or(stale, err) }
	stored := st.Installments[cur.ID]
	if err := CheckCurrency(cur.Currency, p.Currency, maps.Values(stored)); err != nil {
		return refuse(err)
	}
	if found {
		given := make(map[int]bool, len(p.Installments))
		for _, it := range p.Installments {
			given[it.Seq] = true
		}
		missing := 0
		for seq := range stored {
			if !given[seq] && (missing == 0 || seq < missing) {
				missing = seq
			}
		}
		if missing > 0 {
			return refuse(fmt.Errorf("installment %d is missing from the plan; installments cannot be removed, mark them waived: %w", missing, ErrConflict))
		}
	}
	same := found && samePlanRow(cur, p) && len(stored) == len(p.Installments)
	insts := make([]Installment, len(p.Installments))
	for i, it := range p.Installments {
		old, had := stored[it.Seq]
		if had {
			if err := CheckPushedInstallment(it, old); err != nil {
				return refuse(err)
			}
		}
		switch {
		case it.KeepPaid && had:
			it.Paid = old.Paid
		case it.KeepPaid:
			it.Paid = 0
		}
		if it.Status == InstallmentPending && it.Paid >= it.Amount {
			it.Status = InstallmentPaid
		}
		if it.Status != InstallmentPaid {
			it.PaidAt = nil
		} else if it.PaidAt == nil {
			at := now
			if had && old.PaidAt != nil {
				at = *old.PaidAt
			}
			it.PaidAt = &at
		}
		it.PlanID = cur.ID
		insts[i] = it
		same = same && had && sameInstallment(old.Installment, it)
	}
	p.Installments = insts
	switch {
	case !found:
		return p, ImportCreated, nil
	case same:
		return p, ImportUnchanged, nil
	case stale != nil:
		return refuse(stale)
	}
	return p, ImportUpdated, nil
}

func samePlanRow(a, b Plan) bool {
	return a.Merchant == b.Merchant && a.Title == b.Title && a.Currency == b.Currency && a.Total == b.Total &&
		a.Periods == b.Periods && a.Status == b.Status && a.RepayMethod == b.RepayMethod && a.CardLast4 == b.CardLast4
}

func sameInstallment(a, b Installment) bool {
	samePaidAt := (a.PaidAt == nil) == (b.PaidAt == nil) && (a.PaidAt == nil || a.PaidAt.Equal(*b.PaidAt))
	return a.DueDate.Equal(b.DueDate.Time) && a.Amount == b.Amount && a.Paid == b.Paid && a.Status == b.Status && samePaidAt
}

// ImportPaymentTarget is a stored installment a payment line names.
type ImportPaymentTarget struct {
	Installment
	CustomerID int64  `db:"customer_id"`
	PlanRef    string `db:"plan_ref"`
}

// ImportRecordedPayment is a payment already stored under a ref.
type ImportRecordedPayment struct {
	InstallmentID int64  `db:"installment_id"`
	Ref           string `db:"ref"`
	Amount        int64  `db:"amount"`
}

// ImportPaymentWrite is a payment to record, and whether it settles its
// installment (which then becomes paid at PaidAt and gets payment_received).
type ImportPaymentWrite struct {
	InstallmentID, PlanID, CustomerID int64
	Ref                               string
	Amount                            int64
	PaidAt                            time.Time
	Settles                           bool
}

// ImportPaymentKeys returns the plan ref, seq and payment ref of every line
// of in, for the look-ups DecideImportPayments needs.
func ImportPaymentKeys(in []ImportPayment) (planRefs []string, seqs []int64, payRefs []string) {
	planRefs, seqs, payRefs = make([]string, len(in)), make([]int64, len(in)), make([]string, len(in))
	for i, p := range in {
		planRefs[i], seqs[i], payRefs[i] = p.Payment.PlanRef, int64(p.Payment.Seq), p.Payment.Ref
	}
	return planRefs, seqs, payRefs
}

// DecideImportPayments decides every payment line with the rules of
// RecordPayment, given the installments the lines name (as stored, with
// nothing else writing them) and the payments already recorded under the
// lines' refs: unknown plan or seq is ErrNotFound; a ref already recorded
// with the same amount changes nothing, with another amount is
// ErrConflict; an overpayment is ErrConflict; a payment that brings a
// pending installment up to its amount settles it. A zero PaidAt is now.
func DecideImportPayments(in []ImportPayment, targets []ImportPaymentTarget, known []ImportRecordedPayment, now time.Time) ([]ImportLineResult, []ImportPaymentWrite) {
	type key struct {
		plan string
		seq  int
	}
	inst := make(map[key]int, len(targets))
	for i, r := range targets {
		inst[key{r.PlanRef, r.Seq}] = i
	}
	type payKey struct {
		inst int64
		ref  string
	}
	recorded := make(map[payKey]int64, len(known))
	for _, k := range known {
		recorded[payKey{k.InstallmentID, k.Ref}] = k.Amount
	}
	out := make([]ImportLineResult, len(in))
	var w []ImportPaymentWrite
	for i, ip := range in {
		p := ip.Payment
		j, ok := inst[key{p.PlanRef, p.Seq}]
		if !ok {
			out[i] = ImportRefusal(ip.Line, "payment", p.Ref, fmt.Errorf("plan %q installment %d: %w", p.PlanRef, p.Seq, ErrNotFound))
			continue
		}
		cur := targets[j]
		if amount, ok := recorded[payKey{cur.ID, p.Ref}]; ok {
			if amount != p.Amount {
				out[i] = ImportRefusal(ip.Line, "payment", p.Ref, fmt.Errorf("payment %q was already recorded with another amount: %w", p.Ref, ErrConflict))
				continue
			}
			out[i] = ImportLineResult{Line: ip.Line, Kind: "payment", Ref: p.Ref, Outcome: ImportUnchanged}
			continue
		}
		if err := CheckPaymentFits(cur.Installment, p.Amount); err != nil {
			out[i] = ImportRefusal(ip.Line, "payment", p.Ref, err)
			continue
		}
		out[i] = ImportLineResult{Line: ip.Line, Kind: "payment", Ref: p.Ref, Outcome: ImportCreated}
		paidAt := p.PaidAt
		if paidAt.IsZero() {
			paidAt = now
		}
		settles, _ := PaymentEffect(cur.Installment, p.Amount)
		w = append(w, ImportPaymentWrite{InstallmentID: cur.ID, PlanID: cur.PlanID, CustomerID: cur.CustomerID,
			Ref: p.Ref, Amount: p.Amount, PaidAt: paidAt, Settles: settles})
	}
	return out, w
}

// ImportEventPlan is a stored plan an event line names.
type ImportEventPlan struct {
	Ref         string `db:"ref"`
	ID          int64  `db:"id"`
	CustomerID  int64  `db:"customer_id"`
	CustomerRef string `db:"customer_ref"`
}

// ImportEventTargets are the stored customers, plans and installments a
// batch of event lines names.
type ImportEventTargets struct {
	Customers    map[string]int64           // id by ref
	Plans        map[string]ImportEventPlan // by ref
	Installments map[string]bool            // by ImportInstallmentKey
}

// NewImportEventTargets returns empty targets and what in names: the
// customer refs, the plan refs, and the installments as plan refs and seqs.
func NewImportEventTargets(in []ImportEvent) (tg ImportEventTargets, customerRefs, planRefs, seqPlanRefs []string, seqs []int64) {
	tg = ImportEventTargets{Customers: map[string]int64{}, Plans: map[string]ImportEventPlan{}, Installments: map[string]bool{}}
	for _, ie := range in {
		e := ie.Event
		switch e.Scope {
		case ScopeCustomer:
			customerRefs = append(customerRefs, e.CustomerRef)
		case ScopePlan:
			planRefs = append(planRefs, e.PlanRef)
			if e.InstallmentSeq > 0 {
				seqPlanRefs, seqs = append(seqPlanRefs, e.PlanRef), append(seqs, int64(e.InstallmentSeq))
			}
		}
	}
	return tg, customerRefs, planRefs, seqPlanRefs, seqs
}

// ImportInstallmentKey names installment seq of plan planRef in
// ImportEventTargets.Installments (the PostgreSQL store builds it in SQL
// as ref || ':' || seq).
func ImportInstallmentKey(planRef string, seq int64) string {
	return fmt.Sprintf("%s:%d", planRef, seq)
}

// Resolve is what resolveEventTarget (RecordEvent) decides, over the
// loaded targets; 0 means none.
func (tg ImportEventTargets) Resolve(e EventInput) (customerID, planID int64, err error) {
	switch e.Scope {
	case ScopeCustomer:
		id, ok := tg.Customers[e.CustomerRef]
		if !ok {
			return 0, 0, fmt.Errorf("customer %q: %w", e.CustomerRef, ErrNotFound)
		}
		return id, 0, nil
	case ScopePlan:
		p, ok := tg.Plans[e.PlanRef]
		if !ok {
			return 0, 0, fmt.Errorf("plan %q: %w", e.PlanRef, ErrNotFound)
		}
		if e.CustomerRef != "" && e.CustomerRef != p.CustomerRef {
			return 0, 0, fmt.Errorf("plan %q belongs to another customer than %q: %w", e.PlanRef, e.CustomerRef, ErrConflict)
		}
		if e.InstallmentSeq > 0 && !tg.Installments[ImportInstallmentKey(e.PlanRef, int64(e.InstallmentSeq))] {
			return 0, 0, fmt.Errorf("plan %q installment %d: %w", e.PlanRef, e.InstallmentSeq, ErrNotFound)
		}
		return p.CustomerID, p.ID, nil
	case ScopeAll:
		return 0, 0, nil
	}
	return 0, 0, fmt.Errorf("import event: unknown scope %q", e.Scope)
}

// ImportEventWrite is an event line to insert (when its ref is new) or to
// compare with the stored event (when it is not). CustomerID and PlanID
// are 0 for none.
type ImportEventWrite struct {
	Index              int // of the line in the batch's events
	Event              EventInput
	CustomerID, PlanID int64
	Payload            string
}

// DecideImportEvents resolves every event line's targets: a line naming
// what is not stored (or not its) is refused; the others are to be written.
func DecideImportEvents(in []ImportEvent, tg ImportEventTargets) ([]ImportLineResult, []ImportEventWrite) {
	out := make([]ImportLineResult, len(in))
	var w []ImportEventWrite
	for i, ie := range in {
		e := ie.Event
		cid, pid, err := tg.Resolve(e)
		if err != nil {
			out[i] = ImportRefusal(ie.Line, "event", e.Ref, err)
			continue
		}
		out[i] = ImportLineResult{Line: ie.Line, Kind: "event", Ref: e.Ref}
		payload, _ := e.Payload.Value()
		w = append(w, ImportEventWrite{Index: i, Event: e, CustomerID: cid, PlanID: pid, Payload: payload.(string)})
	}
	return out, w
}

// SettleImportEvents sets the outcome of every written line of out, with
// the rules of RecordEvent: a new ref is created; a known ref with the same
// body is unchanged; with another body the line is refused (ErrConflict).
// created and same are by ref.
func SettleImportEvents(out []ImportLineResult, w []ImportEventWrite, created, same map[string]bool) {
	for _, x := range w {
		r := &out[x.Index]
		switch {
		case created[r.Ref]:
			r.Outcome = ImportCreated
		case same[r.Ref]:
			r.Outcome = ImportUnchanged
		default:
			*r = ImportRefusal(r.Line, "event", r.Ref, fmt.Errorf("event %q was already recorded with another body: %w", r.Ref, ErrConflict))
		}
	}
}
