package repotest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/storetest"
)

// Effect fixture times (Asia/Shanghai).
var (
	effectZone, _ = time.LoadLocation("Asia/Shanghai")
	// EffectSince and EffectNow bound the effect fixture's report: notices
	// sent from 1 March 2026, as of 20 March 2026 00:00.
	EffectSince = time.Date(2026, 3, 1, 0, 0, 0, 0, effectZone)
	EffectNow   = time.Date(2026, 3, 20, 0, 0, 0, 0, effectZone)
)

// EffectFixture stores one borrower's plan "pe" of 50 installments with
// reminders and payments whose effect report is known exactly:
//
//	overdue_1 sms   (overdue.sms.zh-CN), sent 2 March 10:00 for seq 1–10:
//	    seq 1–2 paid 12 h later, 3–5 two days later, 6 five days later, 7–10 unpaid
//	    → within 1 day 2/10, 3 days 5/10, 7 days 6/10.
//	    Seq 11 was sent too but paid (reported late) the day before: left out.
//	overdue_1 email (overdue.email.zh-CN), sent 2 March 10:00 for seq 1–4 and 12:
//	    → 2/5, 4/5, 4/5 (seq 12's SMS was suppressed opted_out; it got the email).
//	overdue_1 baseline: seq 13–37 (25 installments), SMS suppressed opted_out
//	    and email suppressed no_email, queued 2 March 08:00: 13–14 paid within
//	    1 day, 15–17 within 3 days, 18–22 within 7 days → 2/25, 5/25, 10/25.
//	overdue_7 sms (overdue_firm.sms.zh-CN), sent 15 March 10:00 for seq 38–40:
//	    seq 38 paid 2 h later → 1/3, 1/3, and no 7-day share yet on 20 March.
//	overdue_7 baseline: seq 41–43, opted out → 3, too few to compare.
//
// Left out of every figure: a resend of seq 7's SMS, and an SMS sent before
// the period (seq 44, 20 February).
func EffectFixture(t testing.TB, r *repo.Repo) {
	t.Helper()
	ctx := context.Background()
	storetest.Customer(t, r, "ce")
	var dues []repo.Date
	for range 50 {
		dues = append(dues, repo.NewDate(2026, 2, 28))
	}
	storetest.Plan(t, r, "pe", "ce", dues)
	at := func(mo time.Month, d, h int) time.Time { return time.Date(2026, mo, d, h, 0, 0, 0, effectZone) }
	sent := func(seq int, stage string, offset int, ch string, when time.Time) int64 {
		return Reminder(t, r, ReminderOpts{PlanRef: "pe", Seq: seq, Stage: stage, Offset: offset, Channel: ch,
			Created: when.Add(-2 * time.Hour), SentAt: &when,
			Template: map[bool]string{true: "overdue_firm", false: "overdue"}[offset == 7] + "." + ch + ".zh-CN"})
	}
	suppressed := func(seq int, stage string, offset int, ch, reason string, when time.Time) {
		Reminder(t, r, ReminderOpts{PlanRef: "pe", Seq: seq, Stage: stage, Offset: offset, Channel: ch,
			Created: when, Reason: reason})
	}
	pay := func(seq int, when time.Time) {
		if _, err := r.RecordPayment(ctx, repo.PaymentInput{PlanRef: "pe", Seq: seq, Amount: 50000, PaidAt: when,
			Ref: fmt.Sprintf("pay-%d", seq), Now: when}); err != nil {
			t.Fatalf("fixture payment %d: %v", seq, err)
		}
	}
	s1 := at(3, 2, 10)
	var seq7 int64
	for seq := 1; seq <= 11; seq++ {
		id := sent(seq, "overdue_1", 1, "sms", s1)
		if seq == 7 {
			seq7 = id
		}
	}
	for _, seq := range []int{1, 2, 3, 4, 12} {
		sent(seq, "overdue_1", 1, "email", s1)
	}
	suppressed(12, "overdue_1", 1, "sms", "opted_out", s1.Add(-2*time.Hour))
	for _, p := range []struct {
		seqs  []int
		after time.Duration
	}{{[]int{1, 2}, 12 * time.Hour}, {[]int{3, 4, 5}, 48 * time.Hour}, {[]int{6}, 120 * time.Hour}, {[]int{11}, -24 * time.Hour}} {
		for _, seq := range p.seqs {
			pay(seq, s1.Add(p.after))
		}
	}
	b1 := at(3, 2, 8)
	for seq := 13; seq <= 37; seq++ {
		suppressed(seq, "overdue_1", 1, "sms", "opted_out", b1)
		suppressed(seq, "overdue_1", 1, "email", "no_email", b1)
		switch {
		case seq <= 14:
			pay(seq, b1.Add(20*time.Hour))
		case seq <= 17:
			pay(seq, b1.Add(60*time.Hour))
		case seq <= 22:
			pay(seq, b1.Add(6*24*time.Hour))
		}
	}
	s7 := at(3, 15, 10)
	for seq := 38; seq <= 40; seq++ {
		sent(seq, "overdue_7", 7, "sms", s7)
	}
	pay(38, s7.Add(2*time.Hour))
	for seq := 41; seq <= 43; seq++ {
		suppressed(seq, "overdue_7", 7, "sms", "opted_out", s7)
	}
	resent := at(3, 3, 11)
	Reminder(t, r, ReminderOpts{PlanRef: "pe", Seq: 7, Stage: "overdue_1", Offset: 1, Channel: "sms",
		Created: resent, SentAt: &resent, Template: "overdue.sms.zh-CN", ResendOf: seq7})
	sent(44, "overdue_1", 1, "sms", at(2, 20, 10))
}
