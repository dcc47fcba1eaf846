package notify_test

import (
	"context"
	"testing"
	"time"

	"duebell/kinds"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
)

// The "settled" rule lives in SQL (a resend is refused) and in Go (the
// pre-send re-check suppresses): every kind goes through both, and both
// must agree with the registry.
func TestSettledRuleAgreesForEveryKindInResendAndPreSendCheck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	storetest.Customer(t, b.r, "c1")
	at := sh(11, 21, 10, 0)
	for _, kind := range kinds.Names() {
		t.Run(kind, func(t *testing.T) {
			plan := "p-" + kind
			storetest.Plan(t, b.r, plan, "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
			sent := at.Add(-time.Hour)
			orig := repotest.Reminder(t, b.r, repotest.ReminderOpts{PlanRef: plan, Seq: 1, Stage: kind, Kind: kind,
				Channel: "sms", Created: sent.Add(-time.Minute), SentAt: &sent, Template: kind + ".sms.zh-CN"})
			// While the bill is unpaid, a resend of any kind is queued.
			res, err := b.r.Resend(ctx, repo.ResendInput{ID: orig, Reason: "customer asked", Actor: "ops", Now: at})
			if err != nil {
				t.Fatalf("resend while unpaid: %v", err)
			}
			if _, err := b.r.RecordPayment(ctx, repo.PaymentInput{PlanRef: plan, Seq: 1, Amount: 50000, Ref: "pay",
				Now: at}); err != nil {
				t.Fatal(err)
			}
			facts, _ := kinds.Of(kind)
			// SQL: a second resend, now that the bill is paid (by email:
			// the SMS resend is still queued).
			_, err = b.r.Resend(ctx, repo.ResendInput{ID: orig, Channel: "email", Reason: "again", Actor: "ops", Now: at})
			if refused := err != nil; refused != facts.AsksPayment {
				t.Errorf("resend of a paid bill's %s: err %v; the registry says asks for payment = %v", kind, err, facts.AsksPayment)
			}
			// Go: the queued resend meets the pre-send re-check.
			b.dispatch(t, at)
			n, err := b.r.GetNotification(ctx, res.Notification.ID)
			if err != nil {
				t.Fatal(err)
			}
			suppressed := n.Status == repo.StatusSuppressed && n.StatusReason == "installment paid"
			if suppressed != facts.AsksPayment {
				t.Errorf("pre-send check of a paid bill's %s: %s %q; the registry says asks for payment = %v",
					kind, n.Status, n.StatusReason, facts.AsksPayment)
			}
		})
	}
}
