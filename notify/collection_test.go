package notify_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/notify"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
	"duebell/scheduler"
)

// overdueSMS is a policy with one overdue stage, by SMS only.
var overdueSMS = []repo.Stage{{Name: "overdue_1", OffsetDays: 1, Kind: "overdue", Channels: []string{"sms"}}}

// collectionSetup is the default collection limits (1 a day, 3 a week) and
// one borrower c1.
func collectionSetup(t *testing.T, edit ...func(*notify.Config)) *bundle {
	t.Helper()
	b := setup(t, append([]func(*notify.Config){func(c *notify.Config) {
		c.Collection = scheduler.Collection{PerDay: 1, PerWeek: 3}
	}}, edit...)...)
	storetest.Customer(t, b.r, "c1")
	return b
}

func (b *bundle) scanStages(t *testing.T, at time.Time, stages []repo.Stage) {
	t.Helper()
	if _, err := b.r.QueueDueReminders(context.Background(), at, stages); err != nil {
		t.Fatal(err)
	}
}

// When today's and the week's budget are both spent, the notice says it
// waits for the week's, which sets its wait.
func TestWaitNamesTheWeeklyLimitWhenBothAreFull(t *testing.T) {
	t.Parallel()
	b := collectionSetup(t)
	for i, due := range []int{20, 21, 22, 22} {
		storetest.Plan(t, b.r, fmt.Sprintf("p%d", i+1), "c1", []repo.Date{repo.NewDate(2026, 11, due)})
	}
	for d := 21; d <= 23; d++ {
		b.scanStages(t, sh(11, d, 8, 0), overdueSMS)
		b.dispatch(t, sh(11, d, 10, 0))
	}
	waiting := b.pending(t)
	if len(b.sms.messages()) != 3 || len(waiting) != 1 {
		t.Fatalf("%d sent, %d waiting; want 3 and 1", len(b.sms.messages()), len(waiting))
	}
	if n := waiting[0]; !n.NextAttemptAt.Equal(sh(11, 28, 9, 0)) || n.StatusReason != "waiting: collection limit (3 in 7 days)" {
		t.Fatalf("waiting notice: next %v reason %q", n.NextAttemptAt.In(shanghaiLoc), n.StatusReason)
	}
}

// Four bills fall overdue on four days in a row: one overdue SMS a day for
// three days, and the fourth waits until the first of them is a week old,
// then goes at that day's window opening, with no attempt spent waiting.
func TestFourthOverdueNoticeInAWeekWaitsForTheWeeksBudget(t *testing.T) {
	t.Parallel()
	b := collectionSetup(t)
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		storetest.Plan(t, b.r, p, "c1", []repo.Date{repo.NewDate(2026, 11, 20+i)})
	}
	for d := 21; d <= 24; d++ {
		b.scanStages(t, sh(11, d, 8, 0), overdueSMS)
		b.dispatch(t, sh(11, d, 10, 0))
	}
	if got := len(b.sms.messages()); got != 3 {
		t.Fatalf("%d overdue SMS in four days, want 3 (the week's budget)", got)
	}
	waiting := b.pending(t)
	if len(waiting) != 1 {
		t.Fatalf("%d notices waiting, want the 4th", len(waiting))
	}
	// The week is the day and the six before it: the SMS of the 21st
	// leaves it on the 28th.
	n := waiting[0]
	if !n.NextAttemptAt.Equal(sh(11, 28, 9, 0)) || n.Attempts != 0 || n.StatusReason != "waiting: collection limit (3 in 7 days)" {
		t.Fatalf("4th notice: next %v attempts %d reason %q", n.NextAttemptAt.In(shanghaiLoc), n.Attempts, n.StatusReason)
	}
	if c := b.dispatch(t, sh(11, 27, 19, 0)); len(c) != 0 {
		t.Fatalf("claimed before the budget allows: %v", c)
	}
	if c := b.dispatch(t, sh(11, 28, 9, 0)); c["sent"] != 1 {
		t.Fatalf("on the 28th: %v, want the 4th sent", c)
	}
	msgs := b.sms.messages()
	if len(msgs) != 4 || !strings.Contains(msgs[3].Text, "已逾期5天") {
		t.Fatalf("the 4th SMS: %+v", msgs[len(msgs)-1])
	}
}

// Two bills of one borrower fall overdue together: one notice today, the
// other deferred, not dropped, to tomorrow's window opening.
func TestTwoOverdueNoticesAtOnceOneTodayOneTomorrow(t *testing.T) {
	t.Parallel()
	b := collectionSetup(t)
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 20)})
	storetest.Plan(t, b.r, "p2", "c1", []repo.Date{repo.NewDate(2026, 11, 20)})
	b.scanStages(t, sh(11, 21, 8, 0), overdueSMS)
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 1 || c["pending"] != 1 {
		t.Fatalf("counts %v, want one sent and one deferred", c)
	}
	n := b.pending(t)[0]
	if !n.NextAttemptAt.Equal(sh(11, 22, 9, 0)) || n.Attempts != 0 || n.StatusReason != "waiting: collection limit (1 a day)" {
		t.Fatalf("deferred: next %v attempts %d reason %q", n.NextAttemptAt.In(shanghaiLoc), n.Attempts, n.StatusReason)
	}
	if c := b.dispatch(t, sh(11, 22, 9, 0)); c["sent"] != 1 {
		t.Fatalf("tomorrow: %v", c)
	}
	if got := len(b.sms.messages()); got != 2 {
		t.Errorf("%d SMS in all, want both bills' notices", got)
	}
}

// Two dispatchers (replicas) claim the overdue notices of the same
// borrowers at the same moment: whoever sends first, each borrower gets one
// today and the other tomorrow, never two.
func TestReplicasRacingNeverSendTwoOverdueNoticesADay(t *testing.T) {
	t.Parallel()
	b := collectionSetup(t, func(c *notify.Config) { c.Batch = 1 })
	const borrowers = 6
	for i := range borrowers {
		c := fmt.Sprintf("r%d", i)
		storetest.Customer(t, b.r, c)
		storetest.Plan(t, b.r, c+"a", c, []repo.Date{repo.NewDate(2026, 11, 20)})
		storetest.Plan(t, b.r, c+"b", c, []repo.Date{repo.NewDate(2026, 11, 20)})
	}
	b.scanStages(t, sh(11, 21, 8, 0), overdueSMS)
	at := sh(11, 21, 10, 0)
	race := func() {
		var wg sync.WaitGroup
		for i, owner := range []string{"replica-a", "replica-b", "replica-c"} {
			cfg := b.cfg
			cfg.Owner, cfg.Now = owner, func() time.Time { return at }
			// Each replica its own jitter, as math/rand gives them: two
			// notices that saw each other in flight look again at
			// different times, so one goes before the other is claimed.
			cfg.Jitter = func() float64 { return 0.4 * float64(i) }
			wg.Go(func() {
				d, err := notify.New(cfg)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := d.RunOnce(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	// Those that saw another's notice in flight look again shortly, until
	// none is left waiting on one. The clock steps less than the jitter
	// spreads them (30 s × 0, 0.4, 0.8 after the 30 s), so they come due
	// one at a time.
	for round := 0; round < 30; round++ {
		race()
		inFlight := 0
		for _, n := range b.pending(t) {
			if strings.Contains(n.StatusReason, "in flight") {
				inFlight++
			}
		}
		if inFlight == 0 {
			break
		}
		at = at.Add(35 * time.Second)
	}
	var sent []struct {
		Customer int64 `db:"customer_id"`
		N        int   `db:"n"`
	}
	if err := b.r.DB().Select(&sent, `SELECT customer_id, count(*) AS n FROM notifications
		WHERE sent_at IS NOT NULL GROUP BY customer_id`); err != nil {
		t.Fatal(err)
	}
	if len(sent) != borrowers || len(b.sms.messages()) != borrowers {
		t.Errorf("%d borrowers got %d overdue SMS today, want all %d one each", len(sent), len(b.sms.messages()), borrowers)
	}
	for _, s := range sent {
		if s.N != 1 {
			t.Errorf("customer %d got %d overdue SMS today, want 1", s.Customer, s.N)
		}
	}
	for _, n := range b.pending(t) {
		if !n.NextAttemptAt.Equal(sh(11, 22, 9, 0)) || n.StatusReason != "waiting: collection limit (1 a day)" {
			t.Errorf("notice %d: next %v reason %q, want tomorrow's opening", n.ID, n.NextAttemptAt.In(shanghaiLoc), n.StatusReason)
		}
	}
	if got := len(b.pending(t)); got != borrowers {
		t.Errorf("%d notices waiting for tomorrow, want %d", got, borrowers)
	}
}

// A security notice and a payment confirmation sent today use none of the
// budget, and a security notice goes out when the budget is spent.
func TestSecurityNoticesAndPaymentConfirmationsAreNotCounted(t *testing.T) {
	t.Parallel()
	b := collectionSetup(t)
	storetest.Plan(t, b.r, "p0", "c1", []repo.Date{repo.NewDate(2026, 11, 1)})
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 20)})
	morning := sh(11, 21, 9, 30)
	for _, kind := range []string{"verification_changed", "payment_received"} {
		repotest.Reminder(t, b.r, repotest.ReminderOpts{PlanRef: "p0", Seq: 1, Stage: kind, Kind: kind, Channel: "sms",
			Created: morning.Add(-time.Minute), SentAt: &morning, Template: kind + ".sms.zh-CN"})
	}
	b.scanStages(t, sh(11, 21, 8, 0), overdueSMS)
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 1 {
		t.Fatalf("counts %v: the overdue SMS was held by notices that are not collection", c)
	}
	// The day's budget is spent; a resent security notice still goes.
	sec := repotest.Reminder(t, b.r, repotest.ReminderOpts{PlanRef: "p0", Seq: 1, Stage: "verification_changed",
		Kind: "verification_changed", Channel: "email", Created: morning, SentAt: &morning, Template: "verification_changed.email.zh-CN"})
	if _, err := b.r.Resend(context.Background(), repo.ResendInput{ID: sec, Reason: "customer asked", Actor: "ops",
		Now: sh(11, 21, 11, 0)}); err != nil {
		t.Fatal(err)
	}
	if c := b.dispatch(t, sh(11, 21, 11, 0)); c["sent"] != 1 {
		t.Fatalf("counts %v, want the security notice sent despite the spent budget", c)
	}
}

// Collection notices keep to 08:00-21:00 even where the send window is
// wider; other reminders use the whole send window.
func TestOverdueNoticesKeepToTheCollectionWindow(t *testing.T) {
	t.Parallel()
	b := collectionSetup(t, func(c *notify.Config) { c.Window = scheduler.Window{Start: 7 * 60, End: 22 * 60} })
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 20)})
	storetest.Plan(t, b.r, "p2", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	b.scanStages(t, sh(11, 21, 7, 0), append([]repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon",
		Channels: []string{"sms"}}}, overdueSMS...))
	if c := b.dispatch(t, sh(11, 21, 7, 30)); c["sent"] != 1 || c["pending"] != 1 {
		t.Fatalf("at 07:30: %v, want the due_soon SMS sent and the overdue one waiting", c)
	}
	if n := b.pending(t)[0]; n.Kind != "overdue" || !n.NextAttemptAt.Equal(sh(11, 21, 8, 0)) {
		t.Fatalf("waiting %s until %v, want overdue until 08:00", n.Kind, n.NextAttemptAt.In(shanghaiLoc))
	}
	if c := b.dispatch(t, sh(11, 21, 8, 0)); c["sent"] != 1 {
		t.Fatalf("at 08:00: %v", c)
	}
}
