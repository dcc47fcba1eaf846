package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/repo"
)

// The import area: BeginImport and the batches an NDJSON import applies,
// line by line created, updated, unchanged or refused, with the rules of
// the single-record methods.

func init() {
	register("Import", func(t *testing.T, open Opener) {
		t.Run("CreatesThenSameBatchChangesNothing", func(t *testing.T) { t.Parallel(); importCreatesThenUnchanged(t, open(t)) })
		t.Run("ChangedLinesAreUpdates", func(t *testing.T) { t.Parallel(); importChangedLinesAreUpdates(t, open(t)) })
		t.Run("OptOutsKeptWhenLeftOut", func(t *testing.T) { t.Parallel(); importOptOutsKeptWhenLeftOut(t, open(t)) })
		t.Run("ProviderOptOutSurvivesImport", func(t *testing.T) { t.Parallel(); importProviderOptOutSurvives(t, open(t)) })
		t.Run("NoMailboxOptOutEndsWithTheAddress", func(t *testing.T) { t.Parallel(); importNoMailboxOptOut(t, open(t)) })
		t.Run("PlanRefusals", func(t *testing.T) { t.Parallel(); importPlanRefusals(t, open(t)) })
		t.Run("ConcurrentImportsOfANewPlan", func(t *testing.T) { t.Parallel(); importConcurrentNewPlan(t, open(t)) })
		t.Run("ImportRacingPayments", func(t *testing.T) { t.Parallel(); importRacingPayments(t, open(t)) })
		t.Run("StalePlanKeepsRecordedPayment", func(t *testing.T) { t.Parallel(); importStalePlanKeepsRecordedPayment(t, open(t)) })
		t.Run("Payments", func(t *testing.T) { t.Parallel(); importPayments(t, open(t)) })
		t.Run("PaymentReceivedNotices", func(t *testing.T) { t.Parallel(); importPaymentReceivedNotices(t, open(t)) })
		t.Run("Events", func(t *testing.T) { t.Parallel(); importEvents(t, open(t)) })
		t.Run("RepeatedRefIsAnError", func(t *testing.T) { t.Parallel(); importRepeatedRef(t, open(t)) })
		t.Run("RollbackWritesNothing", func(t *testing.T) { t.Parallel(); importRollbackWritesNothing(t, open(t)) })
		t.Run("CustomersOfEarlierBatches", func(t *testing.T) { t.Parallel(); importCustomersOfEarlierBatches(t, open(t)) })
	})
}

// importDues are the due dates of a three-month plan.
var importDues = []repo.Date{repo.NewDate(2026, 11, 15), repo.NewDate(2026, 12, 15), repo.NewDate(2027, 1, 15)}

// importCust is a customer line, as the API makes it from a line that
// gives no opt-out (both kept).
func importCust(line int, ref string, edit ...func(*repo.ImportCustomer)) repo.ImportCustomer {
	ic := repo.ImportCustomer{Line: line, Customer: repo.Customer{Ref: ref, Name: "李雷", Phone: "+8613812345678",
		Email: ref + "@example.com", Locale: "zh-CN", Timezone: "Asia/Shanghai"}, KeepSMSOptOut: true, KeepEmailOptOut: true}
	for _, e := range edit {
		e(&ic)
	}
	return ic
}

// importPlanLine is a plan line of three installments of 500.00 without
// paid (the stored paid is kept).
func importPlanLine(line int, ref, customer string, edit ...func(*repo.Plan)) repo.ImportPlan {
	p := repo.Plan{Ref: ref, CustomerRef: customer, Merchant: "优品手机", Title: "iPhone 17 3期", Currency: "CNY",
		Total: 150000, Periods: 3, Status: repo.PlanActive, RepayMethod: "manual"}
	for i, d := range importDues {
		p.Installments = append(p.Installments, repo.Installment{Seq: i + 1, DueDate: d, Amount: 50000,
			Status: repo.InstallmentPending, KeepPaid: true})
	}
	for _, e := range edit {
		e(&p)
	}
	return repo.ImportPlan{Line: line, Plan: p}
}

func importPay(line int, plan string, seq int, amount int64, ref string, paidAt time.Time) repo.ImportPayment {
	return repo.ImportPayment{Line: line, Payment: repo.PaymentInput{PlanRef: plan, Seq: seq, Amount: amount, Ref: ref, PaidAt: paidAt}}
}

// importApply applies b in one import transaction at now and commits it.
func importApply(t *testing.T, s Store, b repo.ImportBatch, now time.Time, confirm ...string) []repo.ImportLineResult {
	t.Helper()
	res, err := importTry(s, b, now, confirm...)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

// importTry is importApply that returns what stopped the import.
func importTry(s Store, b repo.ImportBatch, now time.Time, confirm ...string) ([]repo.ImportLineResult, error) {
	ctx := context.Background()
	tx, err := s.BeginImport(ctx, confirm)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.Apply(ctx, b, now)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// importOutcomes is "line:kind:ref:outcome" per result, in order.
func importOutcomes(res []repo.ImportLineResult) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = strings.Join([]string{strconv.Itoa(r.Line), r.Kind, r.Ref, string(r.Outcome)}, ":")
	}
	return out
}

func importWantOutcomes(t *testing.T, res []repo.ImportLineResult, want ...string) {
	t.Helper()
	got := importOutcomes(res)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("outcomes\n got %v\nwant %v", got, want)
		for _, r := range res {
			if r.Err != nil {
				t.Logf("line %d: %v", r.Line, r.Err)
			}
		}
	}
}

// importWantRefused checks that line's result is refused with an error
// wrapping target whose text contains msg.
func importWantRefused(t *testing.T, res []repo.ImportLineResult, line int, target error, msg string) {
	t.Helper()
	for _, r := range res {
		if r.Line != line {
			continue
		}
		if r.Outcome != repo.ImportRefused || !errors.Is(r.Err, target) || !strings.Contains(r.Err.Error(), msg) {
			t.Errorf("line %d: %s %v, want refused with %v containing %q", line, r.Outcome, r.Err, target, msg)
		}
		return
	}
	t.Errorf("line %d: no result", line)
}

func importCreatesThenUnchanged(t *testing.T, s Store) {
	ctx := context.Background()
	paidAt := Now.Add(-2 * time.Hour)
	b := repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1"), importCust(2, "c2")},
		Plans:     []repo.ImportPlan{importPlanLine(3, "p1", "c1"), importPlanLine(4, "p2", "c2")},
		Payments:  []repo.ImportPayment{importPay(5, "p1", 1, 20000, "pay-1", paidAt)},
		Events: []repo.ImportEvent{{Line: 6, Event: repo.EventInput{Ref: "ev-1", Kind: repo.EventPlanCancelled,
			Scope: repo.ScopePlan, PlanRef: "p2", OccurredAt: Now.Add(-time.Hour), Payload: repo.JSONObject(`{}`)}}},
	}
	importWantOutcomes(t, importApply(t, s, b, Now),
		"1:customer:c1:created", "2:customer:c2:created", "3:plan:p1:created", "4:plan:p2:created",
		"5:payment:pay-1:created", "6:event:ev-1:created")
	c1, err := s.GetCustomer(ctx, "c1")
	if err != nil || c1.Name != "李雷" || c1.Email != "c1@example.com" || c1.SMSOptOut || !c1.CreatedAt.Equal(Now) {
		t.Errorf("customer c1 = %+v, %v", c1, err)
	}
	p1, err := s.GetPlan(ctx, "p1")
	if err != nil || p1.CustomerRef != "c1" || len(p1.Installments) != 3 || !p1.UpdatedAt.Equal(Now) {
		t.Fatalf("plan p1 = %+v, %v", p1, err)
	}
	if it := p1.Installments[0]; it.Paid != 20000 || it.Status != repo.InstallmentPending || it.PaidAt != nil ||
		!it.DueDate.Equal(importDues[0].Time) {
		t.Errorf("installment 1 after a partial payment = %+v", it)
	}
	ev, err := s.GetEvent(ctx, "ev-1")
	if err != nil || ev.Scope != repo.ScopePlan || ev.PlanRef != "p2" || ev.CustomerRef != "c2" ||
		!ev.OccurredAt.Equal(Now.Add(-time.Hour)) || !ev.ReceivedAt.Equal(Now) || ev.ProcessedAt != nil {
		t.Errorf("event = %+v, %v", ev, err)
	}

	// The same batch again, later: every line unchanged, nothing rewritten,
	// the payment not recorded twice.
	later := Now.Add(24 * time.Hour)
	importWantOutcomes(t, importApply(t, s, b, later),
		"1:customer:c1:unchanged", "2:customer:c2:unchanged", "3:plan:p1:unchanged", "4:plan:p2:unchanged",
		"5:payment:pay-1:unchanged", "6:event:ev-1:unchanged")
	if c, _ := s.GetCustomer(ctx, "c1"); !c.UpdatedAt.Equal(Now) {
		t.Errorf("unchanged customer's updated_at = %v, want %v", c.UpdatedAt, Now)
	}
	p1again, _ := s.GetPlan(ctx, "p1")
	if !p1again.UpdatedAt.Equal(Now) || p1again.Installments[0].Paid != 20000 {
		t.Errorf("unchanged plan = %+v", p1again)
	}
}

func importChangedLinesAreUpdates(t *testing.T, s Store) {
	ctx := context.Background()
	importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1"), importCust(2, "c2")},
		Plans:     []repo.ImportPlan{importPlanLine(3, "p1", "c1"), importPlanLine(4, "p2", "c2")},
	}, Now)
	later := Now.Add(time.Hour)
	res := importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{
			importCust(1, "c1", func(ic *repo.ImportCustomer) { ic.Customer.Name = "韩梅梅" }),
			importCust(2, "c2"),
		},
		Plans: []repo.ImportPlan{
			importPlanLine(3, "p1", "c1", func(p *repo.Plan) {
				// a fourth installment, and the first marked paid by the lender
				p.Periods, p.Total = 4, 200000
				p.Installments = append(p.Installments, repo.Installment{Seq: 4, DueDate: repo.NewDate(2027, 2, 15),
					Amount: 50000, Status: repo.InstallmentPending})
				p.Installments[0].KeepPaid, p.Installments[0].Paid = false, 50000
			}),
			importPlanLine(4, "p2", "c2"),
		},
	}, later)
	importWantOutcomes(t, res, "1:customer:c1:updated", "2:customer:c2:unchanged", "3:plan:p1:updated", "4:plan:p2:unchanged")
	c1, _ := s.GetCustomer(ctx, "c1")
	c2, _ := s.GetCustomer(ctx, "c2")
	if c1.Name != "韩梅梅" || !c1.UpdatedAt.Equal(later) || !c1.CreatedAt.Equal(Now) || !c2.UpdatedAt.Equal(Now) {
		t.Errorf("customers after the update: c1 %+v, c2 %+v", c1, c2)
	}
	p1, err := s.GetPlan(ctx, "p1")
	if err != nil || p1.Periods != 4 || len(p1.Installments) != 4 || !p1.UpdatedAt.Equal(later) {
		t.Fatalf("plan p1 = %+v, %v", p1, err)
	}
	// A pending installment paid in full is stored as paid, at now.
	if it := p1.Installments[0]; it.Status != repo.InstallmentPaid || it.Paid != 50000 || it.PaidAt == nil || !it.PaidAt.Equal(later) {
		t.Errorf("installment 1 = %+v, want paid at %v", it, later)
	}
	if it := p1.Installments[3]; it.Seq != 4 || it.Status != repo.InstallmentPending || it.Paid != 0 {
		t.Errorf("installment 4 = %+v", it)
	}
	// Again: unchanged, and the paid_at stays the first one.
	res = importApply(t, s, repo.ImportBatch{Plans: []repo.ImportPlan{importPlanLine(3, "p1", "c1", func(p *repo.Plan) {
		p.Periods, p.Total = 4, 200000
		p.Installments = append(p.Installments, repo.Installment{Seq: 4, DueDate: repo.NewDate(2027, 2, 15),
			Amount: 50000, Status: repo.InstallmentPending})
	})}}, later.Add(time.Hour))
	importWantOutcomes(t, res, "3:plan:p1:unchanged")
	if p, _ := s.GetPlan(ctx, "p1"); p.Installments[0].PaidAt == nil || !p.Installments[0].PaidAt.Equal(later) {
		t.Errorf("installment 1 after a re-run = %+v", p.Installments[0])
	}
}

func importOptOutsKeptWhenLeftOut(t *testing.T, s Store) {
	ctx := context.Background()
	importApply(t, s, repo.ImportBatch{Customers: []repo.ImportCustomer{
		importCust(1, "c1", func(ic *repo.ImportCustomer) {
			ic.KeepSMSOptOut, ic.Customer.SMSOptOut = false, true
			ic.KeepEmailOptOut, ic.Customer.EmailOptOut = false, true
		}),
		importCust(2, "c2", func(ic *repo.ImportCustomer) { ic.Customer.SMSOptOut = true }), // kept: false for a new one
	}}, Now)
	c1, _ := s.GetCustomer(ctx, "c1")
	c2, _ := s.GetCustomer(ctx, "c2")
	if !c1.SMSOptOut || !c1.EmailOptOut || c2.SMSOptOut || c2.EmailOptOut {
		t.Fatalf("opt-outs after the first import: c1 %v/%v, c2 %v/%v", c1.SMSOptOut, c1.EmailOptOut, c2.SMSOptOut, c2.EmailOptOut)
	}
	// Lines that leave the opt-outs out keep them: unchanged.
	res := importApply(t, s, repo.ImportBatch{Customers: []repo.ImportCustomer{importCust(1, "c1")}}, Now.Add(time.Hour))
	importWantOutcomes(t, res, "1:customer:c1:unchanged")
	if c, _ := s.GetCustomer(ctx, "c1"); !c.SMSOptOut || !c.EmailOptOut {
		t.Errorf("left-out opt-outs were cleared: %+v", c)
	}
	// A line that gives sms_opt_out false clears it, and only it.
	res = importApply(t, s, repo.ImportBatch{Customers: []repo.ImportCustomer{
		importCust(1, "c1", func(ic *repo.ImportCustomer) { ic.KeepSMSOptOut, ic.Customer.SMSOptOut = false, false }),
	}}, Now.Add(2*time.Hour))
	importWantOutcomes(t, res, "1:customer:c1:updated")
	if c, _ := s.GetCustomer(ctx, "c1"); c.SMSOptOut || !c.EmailOptOut {
		t.Errorf("after sms_opt_out false: sms %v email %v, want false true", c.SMSOptOut, c.EmailOptOut)
	}
}

// An SMS opt-out duebell set itself (the provider reported the number
// unsubscribed) is not cleared by an imported customer line, as a customer
// push does not clear it.
func importProviderOptOutSurvives(t *testing.T, s Store) {
	ctx := context.Background()
	c := Customer(t, s, "c1")
	if ok, err := s.OptOut(ctx, repo.OptOutInput{Channel: "sms", CustomerID: c.ID, Provider: "tencent", Code: "FailedOperation.PhoneNumberInBlacklist",
		Reason: "unsubscribed at tencent", Now: Now}); err != nil || !ok {
		t.Fatalf("opt out: %v %v", ok, err)
	}
	res := importApply(t, s, repo.ImportBatch{Customers: []repo.ImportCustomer{
		importCust(1, "c1", func(ic *repo.ImportCustomer) {
			ic.Customer.Name = "张三"
			ic.KeepSMSOptOut, ic.Customer.SMSOptOut = false, false
		}),
	}}, Now.Add(time.Hour))
	importWantOutcomes(t, res, "1:customer:c1:updated")
	if got, _ := s.GetCustomer(ctx, "c1"); !got.SMSOptOut || got.SMSOptOutReason == "" {
		t.Errorf("customer after an import line with sms_opt_out false: %+v, want still opted out by the provider", got)
	}
}

// An email opt-out duebell set because the address has no mailbox is kept
// by an import line with the same address, whatever it says, and ended by
// one with a new address.
func importNoMailboxOptOut(t *testing.T, s Store) {
	ctx := context.Background()
	line := importCust(1, "c1").Customer
	c := Customer(t, s, "c1", func(c *repo.Customer) { *c = line })
	if ok, err := s.OptOut(ctx, repo.OptOutInput{Channel: "email", CustomerID: c.ID, Address: c.Email, Provider: "smtp",
		Code: "550", Reason: "no mailbox at this address (smtp 550)", Now: Now}); err != nil || !ok {
		t.Fatalf("opt out: %v %v", ok, err)
	}
	res := importApply(t, s, repo.ImportBatch{Customers: []repo.ImportCustomer{
		importCust(1, "c1", func(ic *repo.ImportCustomer) { ic.KeepEmailOptOut, ic.Customer.EmailOptOut = false, false }),
	}}, Now.Add(time.Hour))
	importWantOutcomes(t, res, "1:customer:c1:unchanged")
	if got, _ := s.GetCustomer(ctx, "c1"); !got.EmailOptOut || got.EmailOptOutReason == "" {
		t.Errorf("after a line with the same address and email_opt_out false: %+v, want still opted out", got)
	}
	res = importApply(t, s, repo.ImportBatch{Customers: []repo.ImportCustomer{
		importCust(1, "c1", func(ic *repo.ImportCustomer) { ic.KeepEmailOptOut, ic.Customer.Email = true, "new@example.net" }),
	}}, Now.Add(2*time.Hour))
	importWantOutcomes(t, res, "1:customer:c1:updated")
	if got, _ := s.GetCustomer(ctx, "c1"); got.EmailOptOut || got.EmailOptOutReason != "" || got.Email != "new@example.net" {
		t.Errorf("after a line with a new address: %+v, want mailed again", got)
	}
}

func importPlanRefusals(t *testing.T, s Store) {
	ctx := context.Background()
	importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1"), importCust(2, "c2")},
		Plans:     []repo.ImportPlan{importPlanLine(3, "p1", "c1")},
	}, Now)
	res := importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c3")},
		Plans: []repo.ImportPlan{
			importPlanLine(2, "p1", "c2"),     // another customer's plan
			importPlanLine(3, "p9", "nobody"), // unknown customer
			importPlanLine(4, "p1x", "c3"),    // fine: the customer came in the same batch
		},
	}, Now.Add(time.Hour))
	importWantOutcomes(t, res, "1:customer:c3:created", "2:plan:p1:refused", "3:plan:p9:refused", "4:plan:p1x:created")
	importWantRefused(t, res, 2, repo.ErrConflict, `plan "p1" belongs to another customer`)
	importWantRefused(t, res, 3, repo.ErrNotFound, `customer "nobody"`)
	res = importApply(t, s, repo.ImportBatch{Plans: []repo.ImportPlan{
		importPlanLine(1, "p1", "c1", func(p *repo.Plan) { // drops installment 3
			p.Periods, p.Installments = 2, p.Installments[:2]
		}),
	}}, Now.Add(time.Hour))
	importWantRefused(t, res, 1, repo.ErrConflict, "installment 3 is missing")
	p1, _ := s.GetPlan(ctx, "p1")
	if p1.CustomerRef != "c1" || len(p1.Installments) != 3 || !p1.UpdatedAt.Equal(Now) {
		t.Errorf("refused lines changed plan p1: %+v", p1)
	}
	if _, err := s.GetPlan(ctx, "p9"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("refused plan p9 stored: %v", err)
	}
	if p, err := s.GetPlan(ctx, "p1x"); err != nil || p.CustomerRef != "c3" {
		t.Errorf("plan p1x = %+v, %v", p, err)
	}
	// Once something is paid, the currency stays (see UpsertPlanCurrencyOncePaid).
	res = importApply(t, s, repo.ImportBatch{
		Plans:    []repo.ImportPlan{importPlanLine(1, "p1x", "c3", func(p *repo.Plan) { p.Currency = "HKD" })},
		Payments: []repo.ImportPayment{importPay(2, "p1x", 1, 100, "pay-x", Now)},
	}, Now.Add(2*time.Hour))
	importWantOutcomes(t, res, "1:plan:p1x:updated", "2:payment:pay-x:created")
	res = importApply(t, s, repo.ImportBatch{
		Plans: []repo.ImportPlan{importPlanLine(1, "p1x", "c3", func(p *repo.Plan) { p.Currency = "JPY" })},
	}, Now.Add(3*time.Hour))
	importWantRefused(t, res, 1, repo.ErrConflict, "currency: cannot change from HKD to JPY")
	if p, err := s.GetPlan(ctx, "p1x"); err != nil || p.Currency != "HKD" {
		t.Errorf("plan p1x after a refused currency change = %+v, %v", p, err)
	}
}

// A stale plan line (exported before a payment was recorded) without paid
// keeps what payments recorded; one that says paid 0 is refused.
func importStalePlanKeepsRecordedPayment(t *testing.T, s Store) {
	ctx := context.Background()
	paidAt := Now.Add(-3 * time.Hour)
	importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1")},
		Plans:     []repo.ImportPlan{importPlanLine(2, "p1", "c1")},
		Payments:  []repo.ImportPayment{importPay(3, "p1", 1, 50000, "pay-1", paidAt)},
	}, Now)
	res := importApply(t, s, repo.ImportBatch{Plans: []repo.ImportPlan{importPlanLine(1, "p1", "c1")}}, Now.Add(time.Hour))
	importWantOutcomes(t, res, "1:plan:p1:unchanged")
	p, _ := s.GetPlan(ctx, "p1")
	if it := p.Installments[0]; it.Status != repo.InstallmentPaid || it.Paid != 50000 || it.PaidAt == nil || !it.PaidAt.Equal(paidAt) {
		t.Errorf("installment 1 after a plan line without paid = %+v, want paid at %v", it, paidAt)
	}
	res = importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c9")},
		Plans: []repo.ImportPlan{importPlanLine(2, "p1", "c1", func(p *repo.Plan) {
			p.Installments[0].KeepPaid, p.Installments[0].Paid = false, 0
		})},
	}, Now.Add(2*time.Hour))
	importWantOutcomes(t, res, "1:customer:c9:created", "2:plan:p1:refused")
	importWantRefused(t, res, 2, repo.ErrConflict, "installment 1: paid 0 is below the 50000 recorded")
	if p, _ := s.GetPlan(ctx, "p1"); p.Installments[0].Status != repo.InstallmentPaid || p.Installments[0].Paid != 50000 {
		t.Errorf("installment 1 after a refused stale plan = %+v", p.Installments[0])
	}
	if _, err := s.GetCustomer(ctx, "c9"); err != nil {
		t.Errorf("the valid line of the same batch was not applied: %v", err)
	}
}

func importPayments(t *testing.T, s Store) {
	ctx := context.Background()
	importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1")},
		Plans:     []repo.ImportPlan{importPlanLine(2, "p1", "c1")},
		Payments:  []repo.ImportPayment{importPay(3, "p1", 1, 30000, "pay-1", time.Time{})},
	}, Now)
	paidAt := Now.Add(30 * time.Minute)
	later := Now.Add(time.Hour)
	res := importApply(t, s, repo.ImportBatch{Payments: []repo.ImportPayment{
		importPay(1, "p1", 1, 20000, "pay-1", paidAt), // the same ref with another amount
		importPay(2, "p1", 9, 5000, "pay-9", paidAt),  // no installment 9
		importPay(3, "p9", 1, 5000, "pay-x", paidAt),  // no plan p9
		importPay(4, "p1", 2, 60000, "pay-2", paidAt), // more than is due
		importPay(5, "p1", 3, 50000, "pay-3", paidAt), // settles installment 3
	}}, later)
	importWantOutcomes(t, res, "1:payment:pay-1:refused", "2:payment:pay-9:refused", "3:payment:pay-x:refused",
		"4:payment:pay-2:refused", "5:payment:pay-3:created")
	importWantRefused(t, res, 1, repo.ErrConflict, `payment "pay-1" was already recorded with another amount`)
	importWantRefused(t, res, 2, repo.ErrNotFound, `plan "p1" installment 9`)
	importWantRefused(t, res, 3, repo.ErrNotFound, `plan "p9" installment 1`)
	importWantRefused(t, res, 4, repo.ErrConflict, "overpayments are refused")
	p, _ := s.GetPlan(ctx, "p1")
	// pay-1 had no paid_at: it counted at the import's now, without settling.
	if it := p.Installments[0]; it.Paid != 30000 || it.Status != repo.InstallmentPending || it.PaidAt != nil {
		t.Errorf("installment 1 = %+v, want 300.00 paid, pending", it)
	}
	if it := p.Installments[1]; it.Paid != 0 || it.Status != repo.InstallmentPending {
		t.Errorf("installment 2 after a refused overpayment = %+v", it)
	}
	if it := p.Installments[2]; it.Paid != 50000 || it.Status != repo.InstallmentPaid || it.PaidAt == nil || !it.PaidAt.Equal(paidAt) {
		t.Errorf("installment 3 = %+v, want paid at %v", it, paidAt)
	}
	// The rest of installment 1 settles it; a replay changes nothing.
	res = importApply(t, s, repo.ImportBatch{Payments: []repo.ImportPayment{importPay(1, "p1", 1, 20000, "pay-1b", time.Time{})}}, later)
	importWantOutcomes(t, res, "1:payment:pay-1b:created")
	res = importApply(t, s, repo.ImportBatch{Payments: []repo.ImportPayment{
		importPay(1, "p1", 1, 20000, "pay-1b", time.Time{}), importPay(2, "p1", 3, 50000, "pay-3", paidAt),
	}}, later.Add(time.Hour))
	importWantOutcomes(t, res, "1:payment:pay-1b:unchanged", "2:payment:pay-3:unchanged")
	p, _ = s.GetPlan(ctx, "p1")
	if it := p.Installments[0]; it.Paid != 50000 || it.Status != repo.InstallmentPaid || it.PaidAt == nil || !it.PaidAt.Equal(later) {
		t.Errorf("installment 1 = %+v, want paid at the import's now %v", it, later)
	}
	if it := p.Installments[2]; it.Paid != 50000 {
		t.Errorf("installment 3 after a replay = %+v", it)
	}
}

// A payment that settles an installment queues payment_received on the
// confirm channels, not before the payment, suppressed on a channel the
// customer has no address for; a payment that does not settle queues none.
func importPaymentReceivedNotices(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.BeginImport(ctx, []string{"sms", "fax"}); err == nil {
		t.Errorf("BeginImport with confirm channel fax: no error")
	}
	paidAt := Now.Add(-30 * time.Minute)
	res := importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1", func(ic *repo.ImportCustomer) { ic.Customer.Email = "" })},
		Plans:     []repo.ImportPlan{importPlanLine(2, "p1", "c1")},
		Payments: []repo.ImportPayment{
			importPay(3, "p1", 1, 50000, "pay-1", paidAt),
			importPay(4, "p1", 2, 10000, "pay-2", paidAt),
		},
	}, Now, "sms", "email")
	importWantOutcomes(t, res, "1:customer:c1:created", "2:plan:p1:created", "3:payment:pay-1:created", "4:payment:pay-2:created")
	byChannel := map[string]repo.Notification{}
	for id := int64(1); id <= 3; id++ {
		n, err := s.GetNotification(ctx, id)
		if errors.Is(err, repo.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		byChannel[n.Channel] = n
	}
	if len(byChannel) != 2 {
		t.Fatalf("notices %+v, want one per confirm channel", byChannel)
	}
	p, _ := s.GetPlan(ctx, "p1")
	for ch, wantStatus := range map[string]string{"sms": repo.StatusPending, "email": repo.StatusSuppressed} {
		n := byChannel[ch]
		if n.Kind != "payment_received" || n.Status != wantStatus || n.InstallmentID == nil || *n.InstallmentID != p.Installments[0].ID ||
			!n.NotBefore.Equal(paidAt) || n.Locale != "zh-CN" {
			t.Errorf("%s notice = %+v, want payment_received %s for installment 1 not before %v", ch, n, wantStatus, paidAt)
		}
	}
	if r := byChannel["email"].StatusReason; r != "no_email" {
		t.Errorf("email notice reason %q, want no_email", r)
	}
	if _, err := s.GetNotification(ctx, 3); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("a third notice exists (%v): the partial payment queued one", err)
	}
}

func importEvents(t *testing.T, s Store) {
	ctx := context.Background()
	importApply(t, s, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1"), importCust(2, "c2")},
		Plans:     []repo.ImportPlan{importPlanLine(3, "p1", "c1")},
	}, Now)
	at := Now.Add(-time.Hour)
	ev := func(line int, ref, kind, scope, customer, plan, payload string, seq int) repo.ImportEvent {
		return repo.ImportEvent{Line: line, Event: repo.EventInput{Ref: ref, Kind: kind, Scope: scope, CustomerRef: customer,
			PlanRef: plan, OccurredAt: at, Payload: repo.JSONObject(payload), InstallmentSeq: seq}}
	}
	res := importApply(t, s, repo.ImportBatch{Events: []repo.ImportEvent{
		ev(1, "ev-1", repo.EventCardUnbound, repo.ScopeCustomer, "c1", "", `{"card_last4": "1234", "bank": "招商银行"}`, 0),
		ev(2, "ev-2", repo.EventAutodebitFailed, repo.ScopePlan, "c1", "p1", `{"seq":2}`, 2),
		ev(3, "ev-3", repo.EventRepaymentEntryMoved, repo.ScopeAll, "", "", `{}`, 0),
		ev(4, "ev-4", repo.EventCardUnbound, repo.ScopeCustomer, "nobody", "", `{}`, 0),
		ev(5, "ev-5", repo.EventPlanCancelled, repo.ScopePlan, "c2", "p1", `{}`, 0),
		ev(6, "ev-6", repo.EventAutodebitFailed, repo.ScopePlan, "", "p1", `{"seq":7}`, 7),
		ev(7, "ev-7", repo.EventPlanCancelled, repo.ScopePlan, "", "p9", `{}`, 0),
	}}, Now)
	importWantOutcomes(t, res, "1:event:ev-1:created", "2:event:ev-2:created", "3:event:ev-3:created",
		"4:event:ev-4:refused", "5:event:ev-5:refused", "6:event:ev-6:refused", "7:event:ev-7:refused")
	importWantRefused(t, res, 4, repo.ErrNotFound, `customer "nobody"`)
	importWantRefused(t, res, 5, repo.ErrConflict, `plan "p1" belongs to another customer than "c2"`)
	importWantRefused(t, res, 6, repo.ErrNotFound, `plan "p1" installment 7`)
	importWantRefused(t, res, 7, repo.ErrNotFound, `plan "p9"`)
	e1, err := s.GetEvent(ctx, "ev-1")
	if err != nil || e1.CustomerRef != "c1" || e1.PlanRef != "" || e1.Kind != repo.EventCardUnbound ||
		!strings.Contains(string(e1.Payload), `"1234"`) || !e1.OccurredAt.Equal(at) {
		t.Errorf("event ev-1 = %+v (%s), %v", e1, e1.Payload, err)
	}
	if e2, _ := s.GetEvent(ctx, "ev-2"); e2.PlanRef != "p1" || e2.CustomerRef != "c1" {
		t.Errorf("event ev-2 = %+v", e2)
	}
	if e3, _ := s.GetEvent(ctx, "ev-3"); e3.CustomerID != nil || e3.PlanID != nil || e3.Scope != repo.ScopeAll {
		t.Errorf("event ev-3 = %+v", e3)
	}
	for _, ref := range []string{"ev-4", "ev-5", "ev-6", "ev-7"} {
		if _, err := s.GetEvent(ctx, ref); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("refused %s stored: %v", ref, err)
		}
	}
	// The same body, its payload written otherwise (key order, spacing,
	// number spelling), is unchanged; another body is a conflict.
	res = importApply(t, s, repo.ImportBatch{Events: []repo.ImportEvent{
		ev(1, "ev-1", repo.EventCardUnbound, repo.ScopeCustomer, "c1", "", `{"bank":"招商银行","card_last4":"1234"}`, 0),
		ev(2, "ev-2", repo.EventAutodebitFailed, repo.ScopePlan, "", "p1", `{"seq": 2.0}`, 2),
		ev(3, "ev-3", repo.EventRepaymentEntryMoved, repo.ScopeAll, "", "", `{"app":"new"}`, 0),
		{Line: 4, Event: repo.EventInput{Ref: "ev-1x", Kind: repo.EventCardUnbound, Scope: repo.ScopeCustomer, CustomerRef: "c2",
			OccurredAt: at, Payload: repo.JSONObject(`{}`)}},
	}}, Now.Add(time.Hour))
	importWantOutcomes(t, res, "1:event:ev-1:unchanged", "2:event:ev-2:unchanged", "3:event:ev-3:refused", "4:event:ev-1x:created")
	importWantRefused(t, res, 3, repo.ErrConflict, `event "ev-3" was already recorded with another body`)
	// Another instant or another customer is another body too.
	moved := ev(1, "ev-1", repo.EventCardUnbound, repo.ScopeCustomer, "c1", "", `{"bank":"招商银行","card_last4":"1234"}`, 0)
	moved.Event.OccurredAt = at.Add(time.Second)
	other := ev(2, "ev-1x", repo.EventCardUnbound, repo.ScopeCustomer, "c1", "", `{}`, 0)
	res = importApply(t, s, repo.ImportBatch{Events: []repo.ImportEvent{moved, other}}, Now.Add(time.Hour))
	importWantOutcomes(t, res, "1:event:ev-1:refused", "2:event:ev-1x:refused")
	if e, _ := s.GetEvent(ctx, "ev-3"); string(e.Payload) != "{}" || !e.ReceivedAt.Equal(Now) {
		t.Errorf("event ev-3 after a conflicting line = %+v", e)
	}
}

// A batch that names a ref twice is the caller's error: Apply fails and the
// transaction is rolled back.
func importRepeatedRef(t *testing.T, s Store) {
	ctx := context.Background()
	for name, b := range map[string]repo.ImportBatch{
		"customer": {Customers: []repo.ImportCustomer{importCust(1, "c1"), importCust(2, "c1")}},
		"plan":     {Customers: []repo.ImportCustomer{importCust(1, "c1")}, Plans: []repo.ImportPlan{importPlanLine(2, "p1", "c1"), importPlanLine(3, "p1", "c1")}},
		"payment": {Customers: []repo.ImportCustomer{importCust(1, "c1")}, Plans: []repo.ImportPlan{importPlanLine(2, "p1", "c1")},
			Payments: []repo.ImportPayment{importPay(3, "p1", 1, 100, "a", Now), importPay(4, "p1", 1, 100, "b", Now)}},
	} {
		tx, err := s.BeginImport(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Apply(ctx, b, Now); err == nil || !strings.Contains(err.Error(), "appears twice") {
			t.Errorf("%s twice: error %v, want appears twice", name, err)
		}
		if err := tx.Rollback(); err != nil {
			t.Errorf("rollback: %v", err)
		}
		if _, err := s.GetCustomer(ctx, "c1"); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("%s twice: customer c1 stored (%v)", name, err)
		}
	}
}

// A dry run or a refused all-or-nothing import rolls its transaction back:
// nothing is stored, across batches; a committed one is kept, and Rollback
// after Commit changes nothing.
func importRollbackWritesNothing(t *testing.T, s Store) {
	ctx := context.Background()
	tx, err := s.BeginImport(ctx, []string{"sms"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Apply(ctx, repo.ImportBatch{Customers: []repo.ImportCustomer{importCust(1, "c1")}}, Now); err != nil {
		t.Fatal(err)
	}
	res, err := tx.Apply(ctx, repo.ImportBatch{
		Plans:    []repo.ImportPlan{importPlanLine(2, "p1", "c1")},
		Payments: []repo.ImportPayment{importPay(3, "p1", 1, 50000, "pay-1", Now)},
	}, Now)
	if err != nil {
		t.Fatal(err)
	}
	// The second batch saw the first (the plan found its customer), and
	// its payment the plan written before it.
	importWantOutcomes(t, res, "2:plan:p1:created", "3:payment:pay-1:created")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCustomer(ctx, "c1"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("rolled back customer stored: %v", err)
	}
	if _, err := s.GetPlan(ctx, "p1"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("rolled back plan stored: %v", err)
	}
	// After a rollback the store takes writes again.
	tx, err = s.BeginImport(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Apply(ctx, repo.ImportBatch{Customers: []repo.ImportCustomer{importCust(1, "c2")}}, Now); err != nil {
		t.Fatal(err)
	}
	if err := tx.Analyze(ctx); err != nil {
		t.Errorf("analyze: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback() // after Commit: nothing
	if _, err := s.GetCustomer(ctx, "c2"); err != nil {
		t.Errorf("committed customer: %v", err)
	}
	Customer(t, s, "c3") // and the store takes another write
}

// A plan finds its customer when the customer came earlier in the same
// batch or in an earlier batch of the same transaction, or is stored.
func importCustomersOfEarlierBatches(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "stored")
	tx, err := s.BeginImport(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	res1, err := tx.Apply(ctx, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(1, "c1")},
		Plans:     []repo.ImportPlan{importPlanLine(2, "p1", "c1"), importPlanLine(3, "p0", "stored"), importPlanLine(4, "late", "c2")},
	}, Now)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := tx.Apply(ctx, repo.ImportBatch{
		Customers: []repo.ImportCustomer{importCust(5, "c2"), importCust(6, "c1")},
		Plans:     []repo.ImportPlan{importPlanLine(7, "p2", "c2"), importPlanLine(8, "p1", "c1")},
	}, Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	importWantOutcomes(t, append(res1, res2...), "1:customer:c1:created", "2:plan:p1:created", "3:plan:p0:created",
		"4:plan:late:refused", "5:customer:c2:created", "6:customer:c1:unchanged", "7:plan:p2:created", "8:plan:p1:unchanged")
	for ref, cust := range map[string]string{"p1": "c1", "p0": "stored", "p2": "c2"} {
		if p, err := s.GetPlan(ctx, ref); err != nil || p.CustomerRef != cust {
			t.Errorf("plan %s = %+v, %v", ref, p, err)
		}
	}
}

// Imports racing to create the same plan: each applies it or is refused as
// a conflict (import again), none fails otherwise, and the plan ends with
// its installments once.
func importConcurrentNewPlan(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := importTry(s, repo.ImportBatch{Plans: []repo.ImportPlan{importPlanLine(1, "p1", "c1")}}, Now)
			if err != nil && !errors.Is(err, repo.ErrConflict) {
				t.Errorf("a racing import failed with %v, want success or a conflict", err)
			}
		})
	}
	wg.Wait()
	p, err := s.GetPlan(ctx, "p1")
	if err != nil || len(p.Installments) != 3 {
		t.Fatalf("plan %+v (%v), want it with its 3 installments", p, err)
	}
}

// Imports of a customer's line and plan line racing payments on that plan
// (which queue confirmations) all succeed: neither waits on the other in a
// cycle, and every payment is kept.
func importRacingPayments(t *testing.T, s Store) {
	ctx := context.Background()
	const plans = 8
	for i := range plans {
		ref := fmt.Sprintf("c%d", i)
		Customer(t, s, ref)
		importApply(t, s, repo.ImportBatch{Plans: []repo.ImportPlan{importPlanLine(1, "p"+ref, ref)}}, Now)
	}
	var wg sync.WaitGroup
	for i := range plans {
		ref := fmt.Sprintf("c%d", i)
		wg.Go(func() {
			if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p" + ref, Seq: 1, Amount: 50000, Ref: "pay",
				PaidAt: Now, Now: Now, ConfirmChannels: []string{"sms"}}); err != nil {
				t.Errorf("payment on p%s: %v", ref, err)
			}
		})
		for k := range 3 {
			wg.Go(func() {
				b := repo.ImportBatch{
					Customers: []repo.ImportCustomer{{Line: 1, Customer: repo.Customer{Ref: ref, Name: fmt.Sprintf("名%d", k),
						Phone: "+8613812345678", Locale: "zh-CN", Timezone: "Asia/Shanghai"}}},
					Plans: []repo.ImportPlan{importPlanLine(2, "p"+ref, ref, func(p *repo.Plan) { p.Title = fmt.Sprint(k) })},
				}
				if _, err := importTry(s, b, Now); err != nil {
					t.Errorf("import of p%s: %v", ref, err)
				}
			})
		}
	}
	wg.Wait()
	for i := range plans {
		if p, err := s.GetPlan(ctx, fmt.Sprintf("pc%d", i)); err != nil || p.Installments[0].Paid != 50000 {
			t.Errorf("plan pc%d: %+v (%v), want its payment kept", i, p.Installments, err)
		}
	}
}
