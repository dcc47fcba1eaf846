package repo_test

import (
	"errors"
	"strings"
	"testing"

	"duebell/repo"
)

// settled stores plan p1 (two installments of 100.00) for c1 and settles
// installment 1 through the payments endpoint.
func settled(t *testing.T, b ingestBundle) {
	t.Helper()
	b.customer(t, "c1", nil)
	b.plan(t, ingestPlan("p1", "c1", 2))
	if _, err := b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 10000, Ref: "pay-1",
		Now: ingestT0}); err != nil {
		t.Fatal(err)
	}
}

func installment(t *testing.T, b ingestBundle, seq int) repo.Installment {
	t.Helper()
	p, err := b.r.GetPlan(b.ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	return p.Installments[seq-1]
}

func TestStalePushWithoutPaidKeepsRecordedPayment(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	settled(t, b)
	stale := ingestPlan("p1", "c1", 2) // the lender's nightly copy, paid not given
	for i := range stale.Installments {
		stale.Installments[i].KeepPaid = true
	}
	b.plan(t, stale)
	if it := installment(t, b, 1); it.Status != repo.InstallmentPaid || it.Paid != 10000 || it.PaidAt == nil {
		t.Errorf("after a push without paid: %+v, want still paid", it)
	}
	if it := installment(t, b, 2); it.Paid != 0 || it.Status != repo.InstallmentPending {
		t.Errorf("unpaid installment: %+v", it)
	}
}

func TestStalePushBelowRecordedPaymentsIsRefused(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	settled(t, b)
	stale := ingestPlan("p1", "c1", 2) // paid: 0 on both, as the lender's stale copy says
	stale.Title = "changed"
	_, err := b.r.UpsertPlan(b.ctx, stale, ingestT0)
	if !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "installment 1") ||
		!strings.Contains(err.Error(), "10000 recorded") {
		t.Fatalf("stale push: %v, want a conflict naming installment 1", err)
	}
	p, _ := b.r.GetPlan(b.ctx, "p1")
	if p.Title != "Phone" || p.Installments[0].Status != repo.InstallmentPaid {
		t.Errorf("a refused push wrote: title %q, installment %+v", p.Title, p.Installments[0])
	}
	// A push that says at least what was recorded goes through.
	stale.Installments[0].Paid = 10000
	b.plan(t, stale)
	if it := installment(t, b, 1); it.Status != repo.InstallmentPaid {
		t.Errorf("matching push reopened the installment: %+v", it)
	}
}

func TestReversalReopensAndIsAudited(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	settled(t, b)
	if _, err := b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: -10000, Now: ingestT0}); err == nil {
		t.Fatal("a reversal without a reason was accepted")
	}
	if _, err := b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: -10001, Reason: "chargeback",
		Actor: "lender", Now: ingestT0}); !errors.Is(err, repo.ErrConflict) {
		t.Fatalf("reversing more than was paid: %v, want a conflict", err)
	}
	res, err := b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: -10000, Reason: "chargeback",
		Ref: "cb-1", Actor: "lender", Now: ingestT0})
	if err != nil || !res.Reopened || res.Installment.Status != repo.InstallmentPending || res.Installment.Paid != 0 ||
		res.Installment.PaidAt != nil {
		t.Fatalf("reversal: %+v, %v; want the installment due again", res, err)
	}
	var audit []repo.AuditEntry
	if err := b.r.DB().Select(&audit, `SELECT * FROM audit_log WHERE action = 'payment.reverse'`); err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Actor != "lender" || audit[0].Target != "plan:p1:1" ||
		!strings.Contains(string(audit[0].Detail), "chargeback") {
		t.Errorf("audit %+v", audit)
	}
	// The payments now add up to paid again, and a push of 0 is no longer stale.
	var sum int64
	if err := b.r.DB().Get(&sum, `SELECT sum(amount) FROM payments`); err != nil || sum != 0 {
		t.Errorf("payments sum %d (%v), want 0", sum, err)
	}
	b.plan(t, ingestPlan("p1", "c1", 2))
}
