package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"duebell/repo"
)

// The ingest area: customers, plans and installments as the lender pushes
// them, payments, repayment link targets, console sessions and the audit log.

func init() {
	register("Ingest", func(t *testing.T, open Opener) {
		t.Run("UpsertCustomerIdempotent", func(t *testing.T) { t.Parallel(); ingestUpsertCustomerIdempotent(t, open(t)) })
		t.Run("UpsertCustomerKeepsProviderOptOut", func(t *testing.T) { t.Parallel(); ingestKeepsProviderOptOut(t, open(t)) })
		t.Run("UpsertCustomerKeepsUnsaidOptOuts", func(t *testing.T) { t.Parallel(); ingestKeepsUnsaidOptOuts(t, open(t)) })
		t.Run("UpsertPlanIdempotent", func(t *testing.T) { t.Parallel(); ingestUpsertPlanIdempotent(t, open(t)) })
		t.Run("UpsertPlanInstallmentStates", func(t *testing.T) { t.Parallel(); ingestUpsertPlanInstallmentStates(t, open(t)) })
		t.Run("UpsertPlanRefusals", func(t *testing.T) { t.Parallel(); ingestUpsertPlanRefusals(t, open(t)) })
		t.Run("UpsertPlanCurrencyOncePaid", func(t *testing.T) { t.Parallel(); ingestPlanCurrencyOncePaid(t, open(t)) })
		t.Run("RecordPaymentSettlesAndQueues", func(t *testing.T) { t.Parallel(); ingestPaymentSettlesAndQueues(t, open(t)) })
		t.Run("RecordPaymentSuppressed", func(t *testing.T) { t.Parallel(); ingestPaymentSuppressed(t, open(t)) })
		t.Run("RecordPaymentPartial", func(t *testing.T) { t.Parallel(); ingestPaymentPartial(t, open(t)) })
		t.Run("RecordPaymentReplayByRef", func(t *testing.T) { t.Parallel(); ingestPaymentReplayByRef(t, open(t)) })
		t.Run("RecordPaymentConcurrentReplays", func(t *testing.T) { t.Parallel(); ingestPaymentConcurrentReplays(t, open(t)) })
		t.Run("RecordPaymentRefusals", func(t *testing.T) { t.Parallel(); ingestPaymentRefusals(t, open(t)) })
		t.Run("ReversalReopensAndIsAudited", func(t *testing.T) { t.Parallel(); ingestReversal(t, open(t)) })
		t.Run("PaymentOnABillMarkedPaid", func(t *testing.T) { t.Parallel(); ingestPaymentOnBillMarkedPaid(t, open(t)) })
		t.Run("StalePushAgainstRecordedPayments", func(t *testing.T) { t.Parallel(); ingestStalePush(t, open(t)) })
		t.Run("PushRacingAPayment", func(t *testing.T) { t.Parallel(); ingestPushRacingPayment(t, open(t)) })
		t.Run("LinkTarget", func(t *testing.T) { t.Parallel(); ingestLinkTarget(t, open(t)) })
		t.Run("ConsoleSessions", func(t *testing.T) { t.Parallel(); ingestConsoleSessions(t, open(t)) })
		t.Run("Audit", func(t *testing.T) { t.Parallel(); ingestAuditLog(t, open(t)) })
		t.Run("AuditDatabaseClock", func(t *testing.T) { t.Parallel(); ingestAuditDatabaseClock(t, open(t)) })
		t.Run("AuditLimit", func(t *testing.T) { t.Parallel(); ingestAuditLimit(t, open(t)) })
	})
}

// ingestDues are the due dates of a three-month plan.
var ingestDues = []repo.Date{repo.NewDate(2026, 11, 15), repo.NewDate(2026, 12, 15), repo.NewDate(2027, 1, 15)}

func ingestUpsertCustomerIdempotent(t *testing.T, s Store) {
	ctx := context.Background()
	first := Customer(t, s, "c1")
	if first.ID == 0 || first.Ref != "c1" || first.Phone != "+8613812345678" || first.Locale != "zh-CN" ||
		first.Timezone != "Asia/Shanghai" || first.SMSOptOut || !first.CreatedAt.Equal(Now) || !first.UpdatedAt.Equal(Now) {
		t.Fatalf("first upsert = %+v", first)
	}
	c := first
	c.Name, c.Email, c.Locale, c.SMSOptOut, c.EmailOptOut = "李四", "", "en", true, true
	later := Now.Add(time.Hour)
	second, err := s.UpsertCustomer(ctx, c, later)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.Name != "李四" || second.Email != "" || second.Locale != "en" ||
		!second.SMSOptOut || !second.EmailOptOut {
		t.Errorf("second upsert = %+v, want the same customer replaced", second)
	}
	if !second.CreatedAt.Equal(Now) || !second.UpdatedAt.Equal(later) {
		t.Errorf("created_at %v updated_at %v, want %v and %v", second.CreatedAt, second.UpdatedAt, Now, later)
	}
	got, err := s.GetCustomer(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != first.ID || got.Name != "李四" || got.Locale != "en" || !got.SMSOptOut || !got.EmailOptOut ||
		!got.CreatedAt.Equal(Now) || !got.UpdatedAt.Equal(later) {
		t.Errorf("GetCustomer = %+v", got)
	}
	// Clearing the opt-outs the lender set is the lender's right.
	c.SMSOptOut, c.EmailOptOut = false, false
	if third, err := s.UpsertCustomer(ctx, c, later.Add(time.Hour)); err != nil || third.SMSOptOut || third.EmailOptOut {
		t.Errorf("third upsert = %+v, %v; want both opt-outs cleared", third, err)
	}
	if other := Customer(t, s, "c2"); other.ID == first.ID {
		t.Errorf("a second ref got the first customer's id %d", other.ID)
	}
	if _, err := s.GetCustomer(ctx, "nobody"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("GetCustomer(unknown) error = %v, want ErrNotFound", err)
	}
}

// ingestKeepsProviderOptOut: an SMS opt-out duebell set because the
// provider reported the number unsubscribed survives a lender push that
// clears it; the email opt-out stays the lender's to clear.
func ingestKeepsProviderOptOut(t *testing.T, s Store) {
	ctx := context.Background()
	c := Customer(t, s, "c1", func(c *repo.Customer) { c.EmailOptOut = true })
	ingestPorted(t, func() {
		if _, err := s.OptOut(ctx, repo.OptOutInput{Channel: "sms", CustomerID: c.ID, Provider: "tencent",
			Code: "FailedOperation.PhoneNumberInBlacklist", Reason: "unsubscribed at tencent", Now: Now}); err != nil {
			t.Fatal(err)
		}
	})
	c.SMSOptOut, c.EmailOptOut = false, false
	got, err := s.UpsertCustomer(ctx, c, Now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !got.SMSOptOut || got.SMSOptOutReason != "unsubscribed at tencent" || got.EmailOptOut {
		t.Errorf("after a push clearing both: sms %v (%q), email %v; want sms kept, email cleared",
			got.SMSOptOut, got.SMSOptOutReason, got.EmailOptOut)
	}
}

func ingestUpsertPlanIdempotent(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	first := Plan(t, s, "p1", "c1", ingestDues, func(p *repo.Plan) {
		p.Installments[0].Paid = 50000 // pending but fully paid: stored as paid, at now
		p.CardLast4 = "1234"
	})
	if first.ID == 0 || first.CustomerRef != "c1" || first.CustomerID == 0 || first.CardLast4 != "1234" ||
		!first.CreatedAt.Equal(Now) || len(first.Installments) != 3 {
		t.Fatalf("plan = %+v", first)
	}
	i1 := first.Installments[0]
	if i1.Status != repo.InstallmentPaid || i1.Paid != 50000 || i1.PaidAt == nil || !i1.PaidAt.Equal(Now) {
		t.Errorf("installment 1 = %+v, want paid at %v", i1, Now)
	}
	if i2 := first.Installments[1]; i2.Status != repo.InstallmentPending || i2.PaidAt != nil || i2.Paid != 0 ||
		i2.DueDate != ingestDues[1] || i2.Amount != 50000 {
		t.Errorf("installment 2 = %+v, want pending", i2)
	}

	later := Now.Add(time.Hour)
	p := first
	p.Title, p.Status = "iPhone 17 Pro 12期", repo.PlanCancelled
	p.Installments = []repo.Installment{first.Installments[2], first.Installments[1], first.Installments[0]} // any order
	p.Installments[0].DueDate = repo.NewDate(2027, 2, 1)
	second, err := s.UpsertPlan(ctx, p, later)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.Title != "iPhone 17 Pro 12期" || second.Status != repo.PlanCancelled ||
		!second.CreatedAt.Equal(Now) || !second.UpdatedAt.Equal(later) {
		t.Errorf("second upsert = %+v", second)
	}
	for i, it := range second.Installments {
		if it.Seq != i+1 || it.ID != first.Installments[i].ID {
			t.Errorf("installment %d = seq %d id %d, want seq %d id %d (ordered by seq, same rows)",
				i, it.Seq, it.ID, i+1, first.Installments[i].ID)
		}
	}
	if pa := second.Installments[0].PaidAt; pa == nil || !pa.Equal(Now) {
		t.Errorf("paid_at of an already paid installment = %v, want it kept at %v", pa, Now)
	}
	if d := second.Installments[2].DueDate; d != repo.NewDate(2027, 2, 1) {
		t.Errorf("installment 3 due %v, want 2027-02-01", d)
	}

	got, err := s.GetPlan(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != first.ID || got.CustomerRef != "c1" || got.Title != second.Title || len(got.Installments) != 3 ||
		got.Installments[2].Seq != 3 || got.Installments[2].DueDate != repo.NewDate(2027, 2, 1) ||
		got.Installments[0].Status != repo.InstallmentPaid || !got.UpdatedAt.Equal(later) {
		t.Errorf("GetPlan = %+v", got)
	}
	if _, err := s.GetPlan(ctx, "nope"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("GetPlan(unknown) error = %v, want ErrNotFound", err)
	}
}

// ingestUpsertPlanInstallmentStates: what a push says about each
// installment's state, and what it leaves as stored.
func ingestUpsertPlanInstallmentStates(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	paidAt := Now.Add(-48 * time.Hour)
	Plan(t, s, "p1", "c1", ingestDues, func(p *repo.Plan) {
		p.Installments[0].Status, p.Installments[0].Paid, p.Installments[0].PaidAt = repo.InstallmentPaid, 50000, &paidAt
		p.Installments[1].Status = repo.InstallmentWaived
		p.Installments[2].Paid = 20000 // partly paid: stays pending
	})
	got, err := s.GetPlan(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	is := got.Installments
	if is[0].Status != repo.InstallmentPaid || is[0].PaidAt == nil || !is[0].PaidAt.Equal(paidAt) {
		t.Errorf("installment 1 = %+v, want paid at the pushed %v", is[0], paidAt)
	}
	if is[1].Status != repo.InstallmentWaived || is[1].PaidAt != nil {
		t.Errorf("installment 2 = %+v, want waived without paid_at", is[1])
	}
	if is[2].Status != repo.InstallmentPending || is[2].Paid != 20000 || is[2].PaidAt != nil {
		t.Errorf("installment 3 = %+v, want pending with 20000 paid", is[2])
	}

	// A push that does not say paid keeps the stored one, and a paid
	// installment pushed as pending again is reopened without paid_at.
	p := got
	for i := range p.Installments {
		p.Installments[i].Paid, p.Installments[i].KeepPaid, p.Installments[i].PaidAt = 0, true, nil
	}
	p.Installments[0].Status, p.Installments[0].KeepPaid = repo.InstallmentPending, false
	out, err := s.UpsertPlan(ctx, p, Now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	is = out.Installments
	if is[0].Status != repo.InstallmentPending || is[0].Paid != 0 || is[0].PaidAt != nil {
		t.Errorf("installment 1 = %+v, want pending again with nothing paid", is[0])
	}
	if is[2].Status != repo.InstallmentPending || is[2].Paid != 20000 {
		t.Errorf("installment 3 = %+v, want its 20000 paid kept", is[2])
	}
	// Keeping paid that reaches the amount settles it at now.
	p.Installments[2].KeepPaid, p.Installments[2].Paid = false, 50000
	later := Now.Add(2 * time.Hour)
	if out, err = s.UpsertPlan(ctx, p, later); err != nil {
		t.Fatal(err)
	}
	if it := out.Installments[2]; it.Status != repo.InstallmentPaid || it.PaidAt == nil || !it.PaidAt.Equal(later) {
		t.Errorf("installment 3 = %+v, want paid at %v", it, later)
	}
	// A new installment pushed with KeepPaid starts at nothing paid.
	p = out
	p.Periods = 4
	p.Installments = append(p.Installments, repo.Installment{Seq: 4, DueDate: repo.NewDate(2027, 2, 15),
		Amount: 50000, Status: repo.InstallmentPending, KeepPaid: true})
	if out, err = s.UpsertPlan(ctx, p, later); err != nil {
		t.Fatal(err)
	}
	if len(out.Installments) != 4 || out.Installments[3].Paid != 0 || out.Installments[3].Status != repo.InstallmentPending {
		t.Errorf("installments = %+v, want a fourth, unpaid", out.Installments)
	}
}

func ingestUpsertPlanRefusals(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Customer(t, s, "c2")
	orig := Plan(t, s, "p1", "c1", ingestDues)

	tests := []struct {
		name string
		edit func(p *repo.Plan)
		want error
		msg  string
	}{
		{"unknown customer", func(p *repo.Plan) { p.Ref, p.CustomerRef = "p2", "nobody" }, repo.ErrNotFound, `customer "nobody"`},
		{"moved to another customer", func(p *repo.Plan) { p.CustomerRef = "c2" }, repo.ErrConflict, "another customer"},
		{"installment removed", func(p *repo.Plan) { p.Installments = p.Installments[:1] }, repo.ErrConflict, "installment 2 is missing"},
		{"all installments removed", func(p *repo.Plan) { p.Installments = nil }, repo.ErrConflict, "installment 1 is missing"},
	}
	for _, tt := range tests {
		p := orig
		p.Installments = append([]repo.Installment(nil), orig.Installments...)
		p.Title = "changed"
		p.Installments[0].Amount = 1
		tt.edit(&p)
		_, err := s.UpsertPlan(ctx, p, Now.Add(time.Hour))
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error = %v, want %v saying %q", tt.name, err, tt.want, tt.msg)
		}
	}
	got, err := s.GetPlan(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != orig.Title || got.CustomerRef != "c1" || len(got.Installments) != 3 ||
		got.Installments[0].Amount != 50000 || !got.UpdatedAt.Equal(Now) {
		t.Errorf("plan changed by a refused upsert: %+v", got)
	}
	if _, err := s.GetPlan(ctx, "p2"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("plan of an unknown customer: GetPlan error = %v, want ErrNotFound", err)
	}
}

// A bill the lender pushed as paid without saying how much was paid (paid
// elsewhere) stays paid when a payment is then recorded on it: only a
// reversal reopens a bill, and nothing reminds it.
func ingestPaymentOnBillMarkedPaid(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", ingestDues, func(p *repo.Plan) {
		p.Installments[0].Status, p.Installments[0].KeepPaid = repo.InstallmentPaid, true
	})
	res, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 100, Ref: "pay-1", Now: Now})
	if err != nil || res.Reopened || res.Installment.Status != repo.InstallmentPaid || res.Installment.Paid != 100 {
		t.Errorf("payment on a bill marked paid = %+v, %v; want it still paid, not reopened", res, err)
	}
	scanDue(t, s, scanShanghai(2026, 11, 16, 10)) // seq 1 a day overdue, were it owed
	for _, n := range scanList(t, s) {
		if strings.Contains(n, "p1#1 ") {
			t.Errorf("scan after the payment queued %q for the bill marked paid", n)
		}
	}
	// A reversal below what was paid still reopens a bill payments settled.
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: 50000, Ref: "pay-2", Now: Now}); err != nil {
		t.Fatal(err)
	}
	res, err = s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: -100, Reason: "chargeback", Now: Now})
	if err != nil || !res.Reopened || res.Installment.Status != repo.InstallmentPending {
		t.Errorf("reversal = %+v, %v; want reopened", res, err)
	}
}

// A plan's currency may be corrected until something is paid on it; then
// a push in another currency is refused (its amounts and payments are minor
// units of the old one: ¥500.00 paid would read as 50,000 JPY), whether
// the payment was recorded or pushed, and changes nothing.
func ingestPlanCurrencyOncePaid(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	p := Plan(t, s, "p1", "c1", ingestDues)
	p.Currency = "HKD"
	if got, err := s.UpsertPlan(ctx, p, Now.Add(time.Minute)); err != nil || got.Currency != "HKD" {
		t.Fatalf("currency corrected before any payment: %+v, %v", got, err)
	}
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: 50000, Ref: "pay-1", Now: Now.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	pushed := Plan(t, s, "p2", "c1", ingestDues, func(p *repo.Plan) { p.Installments[0].Paid = 100 })
	for _, p := range []repo.Plan{p, pushed} {
		p.Currency, p.Title = "JPY", "changed"
		if _, err := s.UpsertPlan(ctx, p, Now.Add(time.Hour)); !errors.Is(err, repo.ErrConflict) ||
			!strings.Contains(err.Error(), "currency: cannot change") {
			t.Errorf("%s: currency changed once paid: %v, want a conflict", p.Ref, err)
		}
	}
	if got, err := s.GetPlan(ctx, "p1"); err != nil || got.Currency != "HKD" || got.Title == "changed" || got.Installments[1].Paid != 50000 {
		t.Errorf("plan after the refused push = %+v, %v", got, err)
	}
	// The same currency goes on as before.
	p.Title = "changed"
	for i := range p.Installments {
		p.Installments[i].KeepPaid = true
	}
	if got, err := s.UpsertPlan(ctx, p, Now.Add(time.Hour)); err != nil || got.Title != "changed" {
		t.Errorf("push in the plan's own currency: %+v, %v", got, err)
	}
}

// A push that leaves an opt-out out keeps the stored flag, decided in the
// upsert on the locked row (an opt-out that committed between a read and a
// write would be undone); a new customer starts opted in.
func ingestKeepsUnsaidOptOuts(t *testing.T, s Store) {
	ctx := context.Background()
	c := repo.Customer{Ref: "c1", Name: "张三", Phone: "+8613812345678", Email: "c1@example.net", Locale: "zh-CN",
		Timezone: "Asia/Shanghai", SMSOptOut: true, EmailOptOut: true, KeepSMSOptOut: true, KeepEmailOptOut: true}
	got, err := s.UpsertCustomer(ctx, c, Now)
	if err != nil || got.SMSOptOut || got.EmailOptOut {
		t.Fatalf("new customer %+v (%v), want opted in: the push said nothing", got, err)
	}
	c.KeepSMSOptOut, c.KeepEmailOptOut = false, false
	if _, err := s.UpsertCustomer(ctx, c, Now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c.SMSOptOut, c.EmailOptOut, c.KeepSMSOptOut, c.KeepEmailOptOut, c.Name = false, false, true, true, "张三丰"
	got, err = s.UpsertCustomer(ctx, c, Now.Add(2*time.Minute))
	if err != nil || !got.SMSOptOut || !got.EmailOptOut || got.Name != "张三丰" {
		t.Errorf("after a push without the flags: %+v (%v), want both opt-outs kept and the name changed", got, err)
	}
}
