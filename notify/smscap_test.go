package notify_test

import (
	"context"
	"testing"
	"time"

	"duebell/notify"
	"duebell/repo"
	"duebell/repo/storetest"
)

// sentSMS records an SMS already sent to customer at sentAt, as a send
// leaves it: delivered, through a provider.
func sentSMS(t *testing.T, r *repo.Repo, customer repo.Customer, sentAt time.Time) {
	t.Helper()
	if _, err := r.DB().Exec(`INSERT INTO notifications (customer_id, kind, channel, locale, status, provider,
		attempts, not_before, next_attempt_at, created_at, updated_at, sent_at)
		VALUES ($1, 'due_soon', 'sms', 'zh-CN', 'delivered', 'webhook', 1, $2, $2, $2, $2, $2)`, customer.ID, sentAt); err != nil {
		t.Fatal(err)
	}
}

func TestPerCustomerSMSCapDefersToNextWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.SMSPerCustomerPerDay = 3 })
	c1 := storetest.Customer(t, b.r, "c1")
	// Two SMS in the last 24 hours; the later one went out at 08:30 (a security notice's wider window).
	sentSMS(t, b.r, c1, sh(11, 20, 11, 0))
	sentSMS(t, b.r, c1, sh(11, 21, 8, 30))
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24), repo.NewDate(2026, 11, 24), repo.NewDate(2026, 11, 24)})
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}

	// Three SMS due at once: one fits under the cap of 3, two wait.
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 1 || c["pending"] != 2 {
		t.Fatalf("counts %v, want 1 sent, 2 deferred", c)
	}
	if got := len(b.sms.messages()); got != 1 {
		t.Fatalf("%d SMS sent, want 1", got)
	}
	for _, n := range b.pending(t) {
		// The oldest of the day's SMS ages out at 11:00, inside the window.
		if !n.NextAttemptAt.Equal(sh(11, 21, 11, 0)) || n.Attempts != 0 || n.StatusReason != "waiting: per-customer SMS cap (3 in 24h)" {
			t.Errorf("deferred: next %v attempts %d reason %q", n.NextAttemptAt.In(shanghaiLoc), n.Attempts, n.StatusReason)
		}
	}

	// At 11:00 one slot frees: one more goes; the last waits for the 08:30
	// SMS to age out, 08:30 tomorrow, outside the window: the 09:00 opening.
	if c := b.dispatch(t, sh(11, 21, 11, 0)); c["sent"] != 1 || c["pending"] != 1 {
		t.Fatalf("at 11:00: %v", c)
	}
	var last repo.Notification
	if err := b.r.DB().Get(&last, `SELECT * FROM notifications WHERE status = 'pending'`); err != nil {
		t.Fatal(err)
	}
	if !last.NextAttemptAt.Equal(sh(11, 22, 9, 0)) {
		t.Errorf("last deferred to %v, want 09:00 tomorrow", last.NextAttemptAt.In(shanghaiLoc))
	}
	if c := b.dispatch(t, sh(11, 22, 9, 0)); c["sent"] != 1 {
		t.Fatalf("next morning: %v", c)
	}
	if got := len(b.sms.messages()); got != 3 {
		t.Errorf("%d SMS in all, want every one of the 3 (deferred, not dropped)", got)
	}
}

func TestSMSCapIgnoresEmailAndOtherCustomers(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.SMSPerCustomerPerDay = 1 })
	c2 := storetest.Customer(t, b.r, "c2")
	sentSMS(t, b.r, c2, sh(11, 21, 9, 0))
	b.seedDueSoon(t) // c1: one SMS and one email
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 2 {
		t.Fatalf("counts %v, want c1's SMS and email sent", c)
	}
}

func TestSMSCapCountsOnlySMSThatGoOut(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.SMSPerCustomerPerDay = 5 })
	storetest.Customer(t, b.r, "c1")
	due := []repo.Date{repo.NewDate(2026, 11, 24)}
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5", "p6"} {
		storetest.Plan(t, b.r, p, "c1", due)
	}
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}
	// The first five bills are paid after the scan: their SMS, ahead of
	// the sixth in the same claim, are suppressed just before sending.
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5"} {
		if _, err := b.r.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: p, Seq: 1, Amount: 50000,
			Now: sh(11, 21, 9, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["suppressed"] != 5 || c["sent"] != 1 {
		t.Fatalf("counts %v, want 5 suppressed and the unpaid bill's SMS sent now", c)
	}
	if got := len(b.sms.messages()); got != 1 {
		t.Errorf("%d SMS reached the provider, want 1", got)
	}
}

func TestSMSCapDoesNotSpendOnNoticesOthersHold(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.SMSPerCustomerPerDay = 1 })
	storetest.Customer(t, b.r, "c1")
	due := []repo.Date{repo.NewDate(2026, 11, 24)}
	storetest.Plan(t, b.r, "p1", "c1", due)
	storetest.Plan(t, b.r, "p2", "c1", due)
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}
	at := sh(11, 21, 10, 0)
	// Another worker holds the first SMS: the second waits a little, not a day.
	if _, err := b.r.ClaimNotifications(context.Background(), "other", at, at, time.Minute, 1, 1); err != nil {
		t.Fatal(err)
	}
	if c := b.dispatch(t, at); c["pending"] != 1 {
		t.Fatalf("counts %v, want the second SMS waiting", c)
	}
	var n repo.Notification
	if err := b.r.DB().Get(&n, `SELECT * FROM notifications WHERE status = 'pending'`); err != nil {
		t.Fatal(err)
	}
	if wait := n.NextAttemptAt.Sub(at); wait <= 0 || wait > time.Minute {
		t.Errorf("waits %v for an SMS another worker holds, want a short recheck", wait)
	}
}
