package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/kinds"
	"duebell/repo"
)

// ingestPorted runs f and skips the rest of the test when f reaches a
// method the store under test does not have yet (another area's port in
// progress panics "not ported"); any other panic goes on.
func ingestPorted(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if msg, ok := r.(string); ok && strings.Contains(msg, "not ported") {
				t.Skipf("needs another area's method: %s", msg)
			}
			panic(r)
		}
	}()
	f()
}

// ingestNotices checks that exactly n notices exist (ids 1…n in a fresh
// store), each for installment seq of plan planRef, and returns them once
// the store can read notices back (see ingestPorted).
func ingestNotices(t *testing.T, s Store, n int, planRef string, seq int) []repo.Notification {
	t.Helper()
	ctx := context.Background()
	for id := int64(1); id <= int64(n); id++ {
		lt, err := s.GetLinkTarget(ctx, id)
		if err != nil || lt.PlanRef != planRef || lt.Seq != seq {
			t.Fatalf("notice %d: link target %+v, %v; want plan %s installment %d", id, lt, err, planRef, seq)
		}
	}
	if lt, err := s.GetLinkTarget(ctx, int64(n)+1); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("notice %d: %+v, %v; want %d notices only", n+1, lt, err, n)
	}
	out := make([]repo.Notification, n)
	ingestPorted(t, func() {
		for i := range out {
			var err error
			if out[i], err = s.GetNotification(ctx, int64(i)+1); err != nil {
				t.Fatal(err)
			}
		}
	})
	return out
}

// ingestOnePlan stores customer c1 and plan p1 with two installments of
// 500.00.
func ingestOnePlan(t *testing.T, s Store, edit ...func(*repo.Customer)) repo.Plan {
	t.Helper()
	Customer(t, s, "c1", edit...)
	return Plan(t, s, "p1", "c1", ingestDues[:2])
}

func ingestInstallment(t *testing.T, s Store, seq int) repo.Installment {
	t.Helper()
	p, err := s.GetPlan(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	return p.Installments[seq-1]
}

func ingestPaymentSettlesAndQueues(t *testing.T, s Store) {
	ctx := context.Background()
	plan := ingestOnePlan(t, s, func(c *repo.Customer) { c.Locale = "en" })
	paidAt := Now.Add(-2 * time.Hour)
	now := Now.Add(time.Minute)

	res, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, PaidAt: paidAt,
		Ref: "pay-1", Now: now, ConfirmChannels: []string{"sms", "email", "sms"}})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Installment
	if !res.Settled || res.Replayed || res.Reopened || res.Queued != 2 || in.Status != repo.InstallmentPaid ||
		in.Paid != 50000 || in.PaidAt == nil || !in.PaidAt.Equal(paidAt) || in.Seq != 1 || in.ID != plan.Installments[0].ID {
		t.Fatalf("result = %+v (installment %+v), want settled at %v with 2 queued", res, in, paidAt)
	}
	if got := ingestInstallment(t, s, 1); got.Status != repo.InstallmentPaid || got.Paid != 50000 || !got.PaidAt.Equal(paidAt) {
		t.Errorf("stored installment = %+v", got)
	}
	if got := ingestInstallment(t, s, 2); got.Status != repo.InstallmentPending || got.Paid != 0 {
		t.Errorf("installment 2 = %+v, want untouched", got)
	}

	// A later payment on the settled installment is an overpayment:
	// refused, nothing more queued or paid.
	_, err = s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 5, Now: now,
		ConfirmChannels: []string{"sms", "email"}})
	if !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "exceeds the 0 still due") {
		t.Errorf("overpayment: %v, want a conflict", err)
	}
	if got := ingestInstallment(t, s, 1); got.Paid != 50000 {
		t.Errorf("paid after a refused overpayment = %d, want 50000", got.Paid)
	}

	ns := ingestNotices(t, s, 2, "p1", 1)
	channels := map[string]bool{}
	for _, n := range ns {
		channels[n.Channel] = true
		wantKey := fmt.Sprintf("%d:payment_received:%s:%d", plan.Installments[0].ID, n.Channel, paidAt.UnixMicro())
		if n.DedupKey == nil || *n.DedupKey != wantKey || n.Kind != "payment_received" || n.Stage != "payment_received" ||
			n.StageOffset != nil || n.Locale != "en" || n.Status != repo.StatusPending || n.StatusReason != "" ||
			n.PlanID == nil || *n.PlanID != plan.ID || n.CustomerID != plan.CustomerID ||
			!n.NotBefore.Equal(paidAt) || !n.NextAttemptAt.Equal(paidAt) || !n.CreatedAt.Equal(now) {
			t.Errorf("notice = %+v, want key %s, pending, not_before %v", n, wantKey, paidAt)
		}
	}
	if !channels["sms"] || !channels["email"] {
		t.Errorf("channels %v, want sms and email", channels)
	}
}

// ingestPaymentSuppressed: a confirmation on a channel the customer opted
// out of, or has no address on, is recorded suppressed and not counted.
func ingestPaymentSuppressed(t *testing.T, s Store) {
	ctx := context.Background()
	ingestOnePlan(t, s, func(c *repo.Customer) { c.SMSOptOut, c.Email = true, "" })
	res, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, PaidAt: Now,
		Now: Now, ConfirmChannels: []string{"sms", "email"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Settled || res.Queued != 0 {
		t.Errorf("result = %+v, want settled with nothing queued", res)
	}
	for _, n := range ingestNotices(t, s, 2, "p1", 1) {
		want := map[string]string{"sms": "opted_out", "email": "no_email"}[n.Channel]
		if n.Status != repo.StatusSuppressed || n.StatusReason != want {
			t.Errorf("%s notice: %s %q, want suppressed %q", n.Channel, n.Status, n.StatusReason, want)
		}
	}
}

func ingestPaymentPartial(t *testing.T, s Store) {
	ctx := context.Background()
	ingestOnePlan(t, s)
	in := repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 20000, PaidAt: Now, Now: Now, ConfirmChannels: []string{"sms"}}
	res, err := s.RecordPayment(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Settled || res.Queued != 0 || res.Installment.Status != repo.InstallmentPending ||
		res.Installment.Paid != 20000 || res.Installment.PaidAt != nil {
		t.Errorf("partial payment = %+v", res)
	}
	ingestNotices(t, s, 0, "", 0)

	// A partial reversal of an unsettled installment reopens nothing.
	rev, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: -5000, Reason: "bank return", Now: Now})
	if err != nil || rev.Reopened || rev.Settled || rev.Installment.Paid != 15000 || rev.Installment.Status != repo.InstallmentPending {
		t.Errorf("partial reversal = %+v, %v; want 15000 paid, still pending", rev, err)
	}

	in.Amount, in.PaidAt, in.Now = 35000, Now.Add(time.Hour), Now.Add(2*time.Hour)
	res, err = s.RecordPayment(ctx, in)
	if err != nil || !res.Settled || res.Queued != 1 || res.Installment.Paid != 50000 ||
		res.Installment.PaidAt == nil || !res.Installment.PaidAt.Equal(in.PaidAt) {
		t.Fatalf("last payment = %+v, %v; want it to settle at %v", res, err, in.PaidAt)
	}
	ingestNotices(t, s, 1, "p1", 1)
}

func ingestPaymentReplayByRef(t *testing.T, s Store) {
	ctx := context.Background()
	ingestOnePlan(t, s)
	in := repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, PaidAt: Now, Ref: "pay-1", Now: Now,
		ConfirmChannels: []string{"sms"}}
	if first, err := s.RecordPayment(ctx, in); err != nil || !first.Settled {
		t.Fatalf("first = %+v, %v", first, err)
	}
	in.Now, in.PaidAt = Now.Add(time.Hour), Now.Add(time.Hour)
	again, err := s.RecordPayment(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Settled || again.Queued != 0 || again.Installment.Paid != 50000 ||
		again.Installment.PaidAt == nil || !again.Installment.PaidAt.Equal(Now) {
		t.Errorf("replay = %+v, want the stored state unchanged", again)
	}
	in.Amount = 49999
	if _, err := s.RecordPayment(ctx, in); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("same ref, other amount: error = %v, want ErrConflict", err)
	}
	// A ref names a payment of one installment: the same ref on another
	// installment is another payment.
	other, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: 100, Ref: "pay-1", Now: Now})
	if err != nil || other.Replayed || other.Installment.Paid != 100 {
		t.Errorf("same ref on installment 2 = %+v, %v; want a new payment", other, err)
	}
	// Without a ref every call is a payment.
	for range 2 {
		if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: 100, Now: Now}); err != nil {
			t.Fatal(err)
		}
	}
	if got := ingestInstallment(t, s, 2); got.Paid != 300 {
		t.Errorf("installment 2 paid %d, want 300", got.Paid)
	}
	if got := ingestInstallment(t, s, 1); got.Paid != 50000 {
		t.Errorf("installment 1 paid %d, want 50000", got.Paid)
	}
	ingestNotices(t, s, 1, "p1", 1)
}

// ingestPaymentConcurrentReplays sends the same payment from many
// goroutines, as a lender retrying on timeouts would: one payment, one notice.
func ingestPaymentConcurrentReplays(t *testing.T, s Store) {
	ctx := context.Background()
	ingestOnePlan(t, s)
	in := repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, PaidAt: Now, Ref: "pay-1", Now: Now,
		ConfirmChannels: []string{"sms"}}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		settled int
		queued  int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.RecordPayment(ctx, in)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Settled {
				settled++
			}
			queued += res.Queued
		}()
	}
	wg.Wait()
	if settled != 1 || queued != 1 {
		t.Errorf("settled by %d calls, %d queued; want 1 and 1", settled, queued)
	}
	if got := ingestInstallment(t, s, 1); got.Paid != 50000 {
		t.Errorf("paid %d, want 50000 (one payment)", got.Paid)
	}
	ingestNotices(t, s, 1, "p1", 1)
}

// ingestPaymentRefusals: bad input and unknown targets change nothing.
func ingestPaymentRefusals(t *testing.T, s Store) {
	ctx := context.Background()
	ingestOnePlan(t, s)
	for _, tt := range []struct {
		name string
		in   repo.PaymentInput
		want error // nil: any error that is neither not found nor conflict
	}{
		{"unknown plan", repo.PaymentInput{PlanRef: "nope", Seq: 1, Amount: 1}, repo.ErrNotFound},
		{"unknown installment", repo.PaymentInput{PlanRef: "p1", Seq: 3, Amount: 1}, repo.ErrNotFound},
		{"zero amount", repo.PaymentInput{PlanRef: "p1", Seq: 1}, nil},
		{"reversal without a reason", repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: -1}, nil},
		{"unknown confirm channel", repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, ConfirmChannels: []string{"fax"}}, nil},
		{"overpayment", repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50001}, repo.ErrConflict},
		{"reversal of more than paid", repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: -1, Reason: "chargeback"}, repo.ErrConflict},
	} {
		tt.in.Now = Now
		_, err := s.RecordPayment(ctx, tt.in)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", tt.name)
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%s: error = %v, want %v", tt.name, err, tt.want)
		case tt.want == nil && (errors.Is(err, repo.ErrNotFound) || errors.Is(err, repo.ErrConflict)):
			t.Errorf("%s: error = %v, want a refused input", tt.name, err)
		}
	}
	for seq := 1; seq <= 2; seq++ {
		if got := ingestInstallment(t, s, seq); got.Paid != 0 || got.Status != repo.InstallmentPending {
			t.Errorf("installment %d after refusals = %+v", seq, got)
		}
	}
	if audit, err := s.ListAudit(ctx, time.Time{}, "", 0); err != nil || len(audit) != 0 {
		t.Errorf("audit after refusals = %+v, %v; want none", audit, err)
	}
	ingestNotices(t, s, 0, "", 0)
}

func ingestReversal(t *testing.T, s Store) {
	ctx := context.Background()
	ingestOnePlan(t, s)
	if res, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, Ref: "pay-1", Now: Now,
		ConfirmChannels: []string{"email"}}); err != nil || res.Queued != 1 {
		t.Fatalf("first payment: %+v, %v; want it to settle and queue a confirmation", res, err)
	}
	at := Now.Add(time.Hour)
	res, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: -50000, Reason: "chargeback",
		Ref: "cb-1", Actor: "lender", Now: at})
	if err != nil || !res.Reopened || res.Settled || res.Installment.Status != repo.InstallmentPending ||
		res.Installment.Paid != 0 || res.Installment.PaidAt != nil {
		t.Fatalf("reversal: %+v, %v; want the installment due again", res, err)
	}
	if got := ingestInstallment(t, s, 1); got.Status != repo.InstallmentPending || got.Paid != 0 || got.PaidAt != nil {
		t.Errorf("stored installment = %+v, want due again", got)
	}
	audit, err := s.ListAudit(ctx, time.Time{}, "lender", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Action != "payment.reverse" || audit[0].Target != "plan:p1:1" || !audit[0].At.Equal(at) ||
		!strings.Contains(string(audit[0].Detail), "chargeback") || !strings.Contains(string(audit[0].Detail), "cb-1") {
		t.Errorf("audit %+v, want one payment.reverse by lender", audit)
	}
	// The payments now add up to nothing paid, and a push of 0 is no
	// longer stale; paying again settles again.
	Plan(t, s, "p1", "c1", ingestDues[:2])
	res, err = s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, Now: at, ConfirmChannels: []string{"email"}})
	if err != nil || !res.Settled || res.Queued != 1 {
		t.Errorf("payment after the reversal = %+v, %v; want it to settle and queue", res, err)
	}
	// Each settlement was confirmed: the borrower who paid again hears so.
	if ns := ingestNotices(t, s, 2, "p1", 1); ns[0].Kind != kinds.PaymentReceived || ns[1].Kind != kinds.PaymentReceived ||
		*ns[0].DedupKey == *ns[1].DedupKey {
		t.Errorf("notices %+v, want one payment_received for each settlement", ns)
	}
}

// ingestStalePush: payments recorded through the payments endpoint win over
// a stale plan push.
func ingestStalePush(t *testing.T, s Store) {
	ctx := context.Background()
	ingestOnePlan(t, s)
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, Ref: "pay-1", Now: Now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: 10000, Ref: "pay-2", Now: Now}); err != nil {
		t.Fatal(err)
	}
	// The lender's nightly copy without paid keeps what was recorded.
	Plan(t, s, "p1", "c1", ingestDues[:2], func(p *repo.Plan) {
		for i := range p.Installments {
			p.Installments[i].KeepPaid = true
		}
	})
	if it := ingestInstallment(t, s, 1); it.Status != repo.InstallmentPaid || it.Paid != 50000 || it.PaidAt == nil {
		t.Errorf("after a push without paid: %+v, want still paid", it)
	}
	// A copy saying less was paid is refused, naming the first such
	// installment, and writes nothing.
	stale := ingestOnePlanPush()
	stale.Installments[0].Paid = 50000
	_, err := s.UpsertPlan(ctx, stale, Now.Add(time.Hour))
	if !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "installment 2") ||
		!strings.Contains(err.Error(), "10000 recorded") {
		t.Fatalf("stale push: %v, want a conflict naming installment 2", err)
	}
	if p, _ := s.GetPlan(ctx, "p1"); p.Title == stale.Title || p.Installments[1].Paid != 10000 {
		t.Errorf("a refused push wrote: %+v", p)
	}
	stale.Installments[1].Paid = 20000 // more than recorded: the lender knows of another payment
	p, err := s.UpsertPlan(ctx, stale, Now.Add(time.Hour))
	if err != nil || p.Title != stale.Title || p.Installments[0].Status != repo.InstallmentPaid || p.Installments[1].Paid != 20000 {
		t.Errorf("push at or above recorded = %+v, %v", p, err)
	}
	// Amounts against what is paid: a settled bill's amount is not raised
	// (a stale version of the plan would reopen it), no bill's amount goes
	// below its paid, and an unpaid bill is re-priced freely.
	for _, tc := range []struct {
		name    string
		amounts [2]int64
		want    string
	}{
		{"raising a settled bill", [2]int64{60000, 50000}, "installment 1 was settled by recorded payments"},
		{"lowering below paid", [2]int64{50000, 15000}, "installment 2: amount 15000 is below the 20000 already paid"},
		{"re-pricing an unpaid bill", [2]int64{50000, 55000}, ""},
		{"raising a settled bill with what is paid", [2]int64{60000, 55000}, ""},
	} {
		push := ingestOnePlanPush()
		for i := range push.Installments {
			push.Installments[i].Amount, push.Installments[i].KeepPaid = tc.amounts[i], true
		}
		if tc.want == "" && tc.amounts[0] > 50000 { // the lender says the higher amount is paid too
			push.Installments[0].Paid, push.Installments[0].KeepPaid = tc.amounts[0], false
		}
		_, err := s.UpsertPlan(ctx, push, Now.Add(2*time.Hour))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want a conflict saying %q", tc.name, err, tc.want)
		}
	}
	if it := ingestInstallment(t, s, 1); it.Status != repo.InstallmentPaid || it.Amount != 60000 || it.Paid != 60000 {
		t.Errorf("installment 1 after the pushes: %+v, want paid, re-priced to 600.00 with it paid", it)
	}
}

func ingestOnePlanPush() repo.Plan {
	p := repo.Plan{Ref: "p1", CustomerRef: "c1", Merchant: "优品手机", Title: "changed", Currency: "CNY",
		Total: 100000, Periods: 2, Status: repo.PlanActive, RepayMethod: "manual"}
	for i, d := range ingestDues[:2] {
		p.Installments = append(p.Installments, repo.Installment{Seq: i + 1, DueDate: d, Amount: 50000,
			Status: repo.InstallmentPending})
	}
	return p
}

// Plan pushes that leave paid out, racing a payment on the same bill, never
// undo the payment: the bill ends paid, whatever the interleaving.
func ingestPushRacingPayment(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	const plans = 12
	push := func(ref string) {
		Plan(t, s, ref, "c1", ingestDues[:1], func(p *repo.Plan) { p.Installments[0].KeepPaid = true })
	}
	for i := range plans {
		push(fmt.Sprintf("p%d", i))
	}
	var wg sync.WaitGroup
	for i := range plans {
		ref := fmt.Sprintf("p%d", i)
		wg.Go(func() {
			if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: ref, Seq: 1, Amount: 50000, Ref: "pay",
				PaidAt: Now, Now: Now}); err != nil {
				t.Error(err)
			}
		})
		for range 4 {
			wg.Go(func() { push(ref) })
		}
	}
	wg.Wait()
	for i := range plans {
		p, err := s.GetPlan(ctx, fmt.Sprintf("p%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if it := p.Installments[0]; it.Paid != 50000 || it.Status != repo.InstallmentPaid {
			t.Errorf("plan %s after the race: paid %d status %s, want the payment kept", p.Ref, it.Paid, it.Status)
		}
	}
}
