package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/repo"
)

// The as_of area: a plan push that says when its data was read (as_of) is
// refused as stale when duebell recorded a payment or reversal of the plan
// after that instant, or a channel event that changed the plan, or wrote a
// push read later; single pushes and import lines alike.

func init() {
	register("PushAsOf", func(t *testing.T, open Opener) {
		t.Run("StalePushCannotSettleAChargeback", func(t *testing.T) { t.Parallel(); asOfChargeback(t, open(t)) })
		t.Run("OlderThanTheLastPush", func(t *testing.T) { t.Parallel(); asOfOlderThanLastPush(t, open(t)) })
		t.Run("WithoutAsOfAsBefore", func(t *testing.T) { t.Parallel(); asOfLeftOut(t, open(t)) })
		t.Run("RecordedNotPaidAt", func(t *testing.T) { t.Parallel(); asOfRecordedNotPaidAt(t, open(t)) })
		t.Run("StaleBeforeOtherRefusals", func(t *testing.T) { t.Parallel(); asOfStaleFirst(t, open(t)) })
		t.Run("PushesRacingAReversal", func(t *testing.T) { t.Parallel(); asOfRacingReversal(t, open(t)) })
		t.Run("ImportLines", func(t *testing.T) { t.Parallel(); asOfImportLines(t, open(t)) })
		t.Run("OlderThanAnEvent", func(t *testing.T) { t.Parallel(); asOfOlderThanAnEvent(t, open(t)) })
	})
}

// asOfAt is a pointer to t, for Plan.AsOf.
func asOfAt(t time.Time) *time.Time { return &t }

// asOfPush is plan p1 of customer c1 as the lender reads it at asOf: two
// installments of 500.00, the first said paid (the lender's copy before
// a chargeback), the second without paid.
func asOfPush(asOf *time.Time) repo.Plan {
	p := ingestOnePlanPush()
	p.AsOf = asOf
	p.Installments[0].Paid = 50000
	p.Installments[1].KeepPaid = true
	return p
}

// asOfSettledThenChargedBack stores p1 (read at Now), records a payment of
// 500.00 on installment 1 an hour later and its chargeback two hours
// later, and returns when the chargeback was recorded.
func asOfSettledThenChargedBack(t *testing.T, s Store) time.Time {
	t.Helper()
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", ingestDues[:2], func(p *repo.Plan) { p.AsOf = asOfAt(Now) })
	if res, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, Ref: "pay-1",
		Now: Now.Add(time.Hour)}); err != nil || !res.Settled {
		t.Fatalf("payment: %+v, %v", res, err)
	}
	at := Now.Add(2 * time.Hour)
	if res, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: -50000, Reason: "chargeback",
		Ref: "cb-1", Actor: "lender", PaidAt: Now.Add(30 * time.Minute), Now: at}); err != nil || !res.Reopened {
		t.Fatalf("chargeback: %+v, %v", res, err)
	}
	return at
}

// asOfWantUnsettled checks that installment 1 of p1 is due again and that
// the plan still holds what was stored before (title, as_of).
func asOfWantUnsettled(t *testing.T, s Store, asOf time.Time) {
	t.Helper()
	p, err := s.GetPlan(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	if it := p.Installments[0]; it.Status != repo.InstallmentPending || it.Paid != 0 || it.PaidAt != nil {
		t.Errorf("installment 1 = %+v, want due again (the chargeback stands)", it)
	}
	if p.Title == "changed" || p.AsOf == nil || !p.AsOf.Equal(asOf) {
		t.Errorf("plan title %q as_of %v, want the stored plan untouched (as_of %v)", p.Title, p.AsOf, asOf)
	}
}

// The bug: a push the lender built before a chargeback, arriving after it,
// said the bill was paid and settled it again; the borrower was never
// reminded. With as_of it is refused, naming the chargeback.
func asOfChargeback(t *testing.T, s Store) {
	ctx := context.Background()
	cb := asOfSettledThenChargedBack(t, s)
	read := Now.Add(90 * time.Minute) // after the payment, before the chargeback
	_, err := s.UpsertPlan(ctx, asOfPush(asOfAt(read)), cb.Add(time.Hour))
	want := `as_of 2026-11-01T01:30:00Z is older than reversal "cb-1" on installment 1, recorded at 2026-11-01T02:00:00Z`
	if !errors.Is(err, repo.ErrStale) || !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), want) {
		t.Fatalf("push read before the chargeback: %v, want ErrStale saying %q", err, want)
	}
	asOfWantUnsettled(t, s, Now)

	// Read as late as the chargeback was recorded: not stale. The lender's
	// copy then has the bill unpaid.
	fresh := asOfPush(asOfAt(cb))
	fresh.Installments[0].Paid = 0
	p, err := s.UpsertPlan(ctx, fresh, cb.Add(time.Hour))
	if err != nil || p.AsOf == nil || !p.AsOf.Equal(cb) || p.Title != "changed" || p.Installments[0].Status != repo.InstallmentPending {
		t.Fatalf("push read at the chargeback = %+v, %v; want it written with its as_of", p, err)
	}
	if got, _ := s.GetPlan(ctx, "p1"); got.AsOf == nil || !got.AsOf.Equal(cb) {
		t.Errorf("GetPlan as_of = %v, want %v", got.AsOf, cb)
	}
	// The same push again (a retry) is not stale either.
	if _, err := s.UpsertPlan(ctx, fresh, cb.Add(2*time.Hour)); err != nil {
		t.Errorf("the same push again: %v", err)
	}
}

// A push read before the last one written is stale, even with no payment
// in between; one read later is written and moves as_of on.
func asOfOlderThanLastPush(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	t1 := Now.Add(time.Hour)
	Plan(t, s, "p1", "c1", ingestDues[:2], func(p *repo.Plan) { p.AsOf = asOfAt(t1) })
	old := ingestOnePlanPush()
	old.AsOf = asOfAt(t1.Add(-time.Microsecond))
	_, err := s.UpsertPlan(ctx, old, Now.Add(2*time.Hour))
	want := "as_of 2026-11-01T00:59:59.999999Z is older than the as_of of the last push written for the plan, 2026-11-01T01:00:00Z"
	if !errors.Is(err, repo.ErrStale) || !strings.Contains(err.Error(), want) {
		t.Fatalf("push read before the last: %v, want ErrStale saying %q", err, want)
	}
	if p, _ := s.GetPlan(ctx, "p1"); p.Title == "changed" || !p.AsOf.Equal(t1) || !p.UpdatedAt.Equal(Now) {
		t.Errorf("a stale push wrote: %+v", p)
	}
	later := ingestOnePlanPush()
	later.AsOf = asOfAt(t1.Add(time.Minute))
	if p, err := s.UpsertPlan(ctx, later, Now.Add(2*time.Hour)); err != nil || !p.AsOf.Equal(*later.AsOf) || p.Title != "changed" {
		t.Fatalf("push read later = %+v, %v", p, err)
	}
	// A payment without a ref is named by its installment.
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: 100, Now: Now.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	later.AsOf = asOfAt(Now.Add(150 * time.Minute))
	_, err = s.UpsertPlan(ctx, later, Now.Add(4*time.Hour))
	if want := "older than a payment on installment 2, recorded at 2026-11-01T03:00:00Z"; !errors.Is(err, repo.ErrStale) ||
		!strings.Contains(err.Error(), want) {
		t.Errorf("push read before a payment without ref: %v, want ErrStale saying %q", err, want)
	}
}

// A push without as_of is checked as before (only against the recorded
// payments' sum): a stale one is written, the hazard README names. It
// keeps the stored as_of, so a later push with as_of is still fenced.
func asOfLeftOut(t *testing.T, s Store) {
	ctx := context.Background()
	asOfSettledThenChargedBack(t, s)
	p, err := s.UpsertPlan(ctx, asOfPush(nil), Now.Add(3*time.Hour))
	if err != nil || p.Installments[0].Status != repo.InstallmentPaid || p.AsOf == nil || !p.AsOf.Equal(Now) {
		t.Fatalf("push without as_of = %+v, %v; want it written as before, as_of kept", p, err)
	}
	if got, _ := s.GetPlan(ctx, "p1"); got.AsOf == nil || !got.AsOf.Equal(Now) {
		t.Errorf("as_of after a push without one = %v, want %v kept", got.AsOf, Now)
	}
	// A new plan pushed without as_of has none.
	if p := Plan(t, s, "p2", "c1", ingestDues[:1]); p.AsOf != nil {
		t.Errorf("new plan without as_of: as_of %v", p.AsOf)
	}
	if got, _ := s.GetPlan(ctx, "p2"); got.AsOf != nil {
		t.Errorf("GetPlan p2 as_of %v, want none", got.AsOf)
	}
}

// The instant a payment counts from is when duebell recorded it, not the
// paid_at the lender gives it: a bank return dated before the push was
// read, but reported after, still makes the push stale.
func asOfRecordedNotPaidAt(t *testing.T, s Store) {
	ctx := context.Background()
	cb := asOfSettledThenChargedBack(t, s) // paid_at Now+30m, recorded Now+2h
	_, err := s.UpsertPlan(ctx, asOfPush(asOfAt(Now.Add(time.Hour))), cb)
	if !errors.Is(err, repo.ErrStale) {
		t.Fatalf("push read after the chargeback's paid_at, before it was recorded: %v, want ErrStale", err)
	}
	asOfWantUnsettled(t, s, Now)
}

// A stale push that is wrong in other ways too (an installment left out,
// paid below what was recorded) is refused as stale on both stores.
func asOfStaleFirst(t *testing.T, s Store) {
	ctx := context.Background()
	asOfSettledThenChargedBack(t, s)
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: 10000, Ref: "pay-2",
		Now: Now.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	short := asOfPush(asOfAt(Now.Add(time.Hour)))
	short.Periods, short.Installments = 1, short.Installments[:1]
	below := asOfPush(asOfAt(Now.Add(time.Hour)))
	below.Installments[1].Paid, below.Installments[1].KeepPaid = 0, false
	for name, p := range map[string]repo.Plan{"installment left out": short, "paid below recorded": below} {
		if _, err := s.UpsertPlan(ctx, p, Now.Add(4*time.Hour)); !errors.Is(err, repo.ErrStale) ||
			!strings.Contains(err.Error(), `payment "pay-2" on installment 2`) {
			t.Errorf("%s: %v, want ErrStale naming pay-2", name, err)
		}
	}
	asOfWantUnsettled(t, s, Now)
}

// Pushes read before a chargeback, racing it: whichever lands first, the
// bill ends due again (a push before the chargeback is undone by it; one
// after is refused), never settled by a stale push.
func asOfRacingReversal(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	const plans = 8
	refs := make([]string, plans)
	for i := range refs {
		refs[i] = "p" + string(rune('a'+i))
		Plan(t, s, refs[i], "c1", ingestDues[:1])
		if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: refs[i], Seq: 1, Amount: 50000, Ref: "pay",
			Now: Now}); err != nil {
			t.Fatal(err)
		}
	}
	read, cbAt := Now.Add(time.Minute), Now.Add(2*time.Minute)
	var wg sync.WaitGroup
	for _, ref := range refs {
		wg.Go(func() {
			if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: ref, Seq: 1, Amount: -50000, Reason: "chargeback",
				Ref: "cb", Now: cbAt}); err != nil {
				t.Error(err)
			}
		})
		for range 3 {
			wg.Go(func() {
				p := repo.Plan{Ref: ref, CustomerRef: "c1", Currency: "CNY", Total: 50000, Periods: 1,
					Status: repo.PlanActive, RepayMethod: "manual", AsOf: asOfAt(read),
					Installments: []repo.Installment{{Seq: 1, DueDate: ingestDues[0], Amount: 50000, Paid: 50000,
						Status: repo.InstallmentPending}}}
				if _, err := s.UpsertPlan(ctx, p, cbAt); err != nil && !errors.Is(err, repo.ErrStale) {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for _, ref := range refs {
		p, err := s.GetPlan(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if it := p.Installments[0]; it.Paid != 0 || it.Status != repo.InstallmentPending {
			t.Errorf("plan %s after the race: paid %d status %s, want the chargeback to stand", ref, it.Paid, it.Status)
		}
	}
}

// Import plan lines keep the same rule: a stale line is refused (ErrStale)
// and the rest of the batch applied; a written line stores its as_of; a
// line that changes nothing stays unchanged and is not written, so its
// as_of is not stored.
func asOfImportLines(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := Now.Add(-time.Hour)
	withAsOf := func(at time.Time, edit ...func(*repo.Plan)) func(*repo.Plan) {
		return func(p *repo.Plan) {
			p.AsOf = asOfAt(at)
			for _, e := range edit {
				e(p)
			}
		}
	}
	res := importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1")},
		Plans: []repo.ImportPlan{importPlanLine(2, "p1", "c1", withAsOf(t0)), importPlanLine(3, "p2", "c1", withAsOf(t0)),
			importPlanLine(4, "p3", "c1")},
	}, Now)
	importWantOutcomes(t, res, "1:customer:c1:created", "2:plan:p1:created", "3:plan:p2:created", "4:plan:p3:created")
	if p, _ := s.GetPlan(ctx, "p1"); p.AsOf == nil || !p.AsOf.Equal(t0) {
		t.Errorf("p1 as_of = %v, want %v", p.AsOf, t0)
	}
	if p, _ := s.GetPlan(ctx, "p3"); p.AsOf != nil {
		t.Errorf("p3 as_of = %v, want none", p.AsOf)
	}
	// A payment on p1 after the file was read, and its reversal.
	payAt := Now.Add(time.Hour)
	for _, amount := range []int64{50000, -50000} {
		if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: amount, Reason: "chargeback",
			Now: payAt}); err != nil {
			t.Fatal(err)
		}
	}
	settled := func(p *repo.Plan) { p.Installments[0].Paid, p.Installments[0].KeepPaid = 50000, false }
	retitled := func(p *repo.Plan) { p.Title = "changed" }
	t1 := Now.Add(30 * time.Minute)
	res = importApply(t, s, repo.ImportBatch{Plans: []repo.ImportPlan{
		importPlanLine(1, "p1", "c1", withAsOf(t1, settled)), // read before the chargeback
		importPlanLine(2, "p2", "c1", withAsOf(t1, retitled)),
		importPlanLine(3, "p3", "c1", withAsOf(t1)), // no change: not written
	}}, Now.Add(2*time.Hour))
	importWantOutcomes(t, res, "1:plan:p1:refused", "2:plan:p2:updated", "3:plan:p3:unchanged")
	importWantRefused(t, res, 1, repo.ErrStale, "is older than a reversal on installment 1, recorded at 2026-11-01T01:00:00Z")
	if p, _ := s.GetPlan(ctx, "p1"); p.Installments[0].Status != repo.InstallmentPending || p.Installments[0].Paid != 0 ||
		!p.AsOf.Equal(t0) {
		t.Errorf("p1 after a stale line = %+v, want the chargeback to stand and as_of %v", p, t0)
	}
	if p, _ := s.GetPlan(ctx, "p2"); p.Title != "changed" || p.AsOf == nil || !p.AsOf.Equal(t1) {
		t.Errorf("p2 = %q as_of %v, want changed as of %v", p.Title, p.AsOf, t1)
	}
	if p, _ := s.GetPlan(ctx, "p3"); p.AsOf != nil || !p.UpdatedAt.Equal(Now) {
		t.Errorf("p3 as_of %v updated %v: an unchanged line was written", p.AsOf, p.UpdatedAt)
	}
	// Older than the line written before: stale when it would change
	// something; unchanged, and not stale, when it changes nothing (the
	// same file again); a line without as_of keeps the stored one.
	older := func(p *repo.Plan) { p.Title = "older" }
	res = importApply(t, s, repo.ImportBatch{Plans: []repo.ImportPlan{
		importPlanLine(1, "p2", "c1", withAsOf(t0, older)),
		importPlanLine(2, "p1", "c1", func(p *repo.Plan) { p.Title = "no as_of" }),
	}}, Now.Add(3*time.Hour))
	importWantOutcomes(t, res, "1:plan:p2:refused", "2:plan:p1:updated")
	importWantRefused(t, res, 1, repo.ErrStale, "older than the as_of of the last push written for the plan, 2026-11-01T00:30:00Z")
	res = importApply(t, s, repo.ImportBatch{Plans: []repo.ImportPlan{importPlanLine(1, "p2", "c1", withAsOf(t0, retitled))}},
		Now.Add(3*time.Hour))
	importWantOutcomes(t, res, "1:plan:p2:unchanged")
	if p, _ := s.GetPlan(ctx, "p2"); p.Title != "changed" || !p.AsOf.Equal(t1) {
		t.Errorf("p2 after older lines = %q as_of %v, want %q as of %v", p.Title, p.AsOf, "changed", t1)
	}
	if p, _ := s.GetPlan(ctx, "p1"); p.Title != "no as_of" || p.AsOf == nil || !p.AsOf.Equal(t0) {
		t.Errorf("p1 after a line without as_of = %q as_of %v, want as_of %v kept", p.Title, p.AsOf, t0)
	}
	// The same file twice: its payment was recorded after the file's
	// as_of by the first import, and the second finds every line unchanged.
	book := repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c5")},
		Plans:     []repo.ImportPlan{importPlanLine(2, "p5", "c5", withAsOf(t0))},
		Payments:  []repo.ImportPayment{importPay(3, "p5", 1, 50000, "pay-5", t0.Add(-time.Hour))},
	}
	importWantOutcomes(t, importApply(t, s, book, Now), "1:customer:c5:created", "2:plan:p5:created", "3:payment:pay-5:created")
	importWantOutcomes(t, importApply(t, s, book, Now.Add(time.Hour)),
		"1:customer:c5:unchanged", "2:plan:p5:unchanged", "3:payment:pay-5:unchanged")

	// A single push with as_of sees what the import stored.
	push := ingestOnePlanPush()
	push.Ref, push.Periods, push.Total, push.AsOf = "p2", 3, 150000, asOfAt(t0)
	push.Installments = append(push.Installments, repo.Installment{Seq: 3, DueDate: importDues[2], Amount: 50000,
		Status: repo.InstallmentPending})
	if _, err := s.UpsertPlan(ctx, push, Now.Add(3*time.Hour)); !errors.Is(err, repo.ErrStale) {
		t.Errorf("single push older than the imported as_of: %v, want ErrStale", err)
	}
}

// A push read before a channel event that changed its plan (the plan
// cancelled, a card unbound) is stale, single or imported. A retried push
// used to make a cancelled plan active again, and the next scan reminded
// the borrower just told nothing more was due; after a card was unbound it
// said the bills would be auto-debited again. An event not yet processed
// has changed nothing, and a push read before it is written (the event is
// applied after it).
func asOfOlderThanAnEvent(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	autoDebit := func(p *repo.Plan) { p.AsOf, p.RepayMethod, p.CardLast4 = asOfAt(Now), "auto_debit", "4321" }
	Plan(t, s, "p1", "c1", ingestDues[:2], autoDebit)
	Plan(t, s, "p2", "c1", ingestDues[:2], autoDebit)
	retry := func(ref string) repo.Plan { // the push that wrote ref, read at Now, again
		p := ingestOnePlanPush()
		p.Ref = ref
		autoDebit(&p)
		return p
	}
	cancelAt := Now.Add(time.Hour)
	scanRecord(t, s, repo.EventInput{Ref: "ev-cancel", Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan,
		CustomerRef: "c1", PlanRef: "p1", OccurredAt: cancelAt})
	if _, err := s.UpsertPlan(ctx, retry("p1"), cancelAt); err != nil {
		t.Fatalf("push before the cancel was processed: %v", err)
	}
	scanProcess(t, s, cancelAt)
	if got := scanPlanState(t, s, "p1"); got != "cancelled/auto_debit/4321" {
		t.Fatalf("p1 after its cancel = %s", got)
	}
	_, err := s.UpsertPlan(ctx, retry("p1"), cancelAt.Add(time.Minute))
	want := `as_of 2026-11-01T00:00:00Z is older than event "ev-cancel" (plan_cancelled), recorded at 2026-11-01T01:00:00Z`
	if !errors.Is(err, repo.ErrStale) || !strings.Contains(err.Error(), want) {
		t.Fatalf("retried push after the cancel: %v, want ErrStale saying %q", err, want)
	}
	if got := scanPlanState(t, s, "p1"); got != "cancelled/auto_debit/4321" {
		t.Errorf("p1 after a stale push = %s, want it still cancelled", got)
	}

	unbindAt := Now.Add(2 * time.Hour)
	scanRecord(t, s, repo.EventInput{Ref: "ev-unbind", Kind: repo.EventCardUnbound, Scope: repo.ScopeCustomer,
		CustomerRef: "c1", OccurredAt: unbindAt, Payload: repo.JSONObject(`{"card_last4":"4321"}`)})
	scanProcess(t, s, unbindAt)
	line := retry("p2")
	line.AsOf = asOfAt(Now.Add(90 * time.Minute))
	res := importApply(t, s, repo.ImportBatch{Plans: []repo.ImportPlan{{Line: 1, Plan: line}}}, unbindAt.Add(time.Minute))
	importWantOutcomes(t, res, "1:plan:p2:refused")
	importWantRefused(t, res, 1, repo.ErrStale, `older than event "ev-unbind" (card_unbound), recorded at 2026-11-01T02:00:00Z`)
	if got := scanPlanState(t, s, "p2"); got != "active/manual/4321" {
		t.Errorf("p2 after a stale import line = %s, want the card still unbound", got)
	}
	// Read when the unbinding was recorded, or later: the lender's books
	// know of it (here the card was bound again), and the push is written.
	fresh := retry("p2")
	fresh.AsOf = asOfAt(unbindAt)
	if p, err := s.UpsertPlan(ctx, fresh, unbindAt.Add(time.Hour)); err != nil || p.RepayMethod != "auto_debit" {
		t.Fatalf("push read at the unbinding = %+v, %v; want it written", p, err)
	}
}
