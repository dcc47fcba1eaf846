package notify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"duebell/notify"
	"duebell/repo"
	"duebell/repo/storetest"
)

func fallbackSetup(t *testing.T, edit func(*repo.Customer)) *bundle {
	t.Helper()
	b := setup(t, func(c *notify.Config) { c.Fallbacks = map[string]string{"due_soon": "email"} })
	var edits []func(*repo.Customer)
	if edit != nil {
		edits = append(edits, edit)
	}
	storetest.Customer(t, b.r, "c1", edits...)
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) fallbackOf(t *testing.T, smsID int64) repo.Notification {
	t.Helper()
	var n []repo.Notification
	if err := b.r.DB().Select(&n, `SELECT * FROM notifications WHERE fallback_of = $1`, smsID); err != nil {
		t.Fatal(err)
	}
	if len(n) != 1 {
		t.Fatalf("%d fallback notices of %d, want 1", len(n), smsID)
	}
	return n[0]
}

func TestOptedOutOfSMSGetsTheEmailInstead(t *testing.T) {
	t.Parallel()
	b := fallbackSetup(t, func(c *repo.Customer) { c.SMSOptOut = true })
	sms := b.notice(t, "sms")
	if sms.Status != "suppressed" || sms.StatusReason != "opted_out" {
		t.Fatalf("the scan should queue the SMS suppressed: %s %q", sms.Status, sms.StatusReason)
	}
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 1 {
		t.Fatalf("counts %v, want the fallback email sent", c)
	}
	em := b.fallbackOf(t, sms.ID)
	if em.Channel != "email" || em.Status != "sent" || em.Kind != "due_soon" || em.Stage != "due_soon" || em.Recipient != "c1@example.net" {
		t.Fatalf("fallback email %+v", em)
	}
	if msgs := b.email.messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "¥500.00") || len(b.sms.messages()) != 0 {
		t.Fatalf("emails %d, sms %d", len(msgs), len(b.sms.messages()))
	}
	if got := b.notice(t, "sms").StatusReason; got != fmt.Sprintf("opted_out; fallback: email notice %d", em.ID) {
		t.Errorf("SMS reason %q does not name its fallback", got)
	}
	// Once: later runs queue nothing more.
	b.dispatch(t, sh(11, 21, 11, 0))
	b.dispatch(t, sh(11, 21, 12, 0))
	if len(b.email.messages()) != 1 {
		t.Errorf("fallback email sent %d times", len(b.email.messages()))
	}
}

func TestPermanentSMSFailureFallsBackInTheSameRun(t *testing.T) {
	t.Parallel()
	b := fallbackSetup(t, nil)
	b.sms.errs = []error{notify.Permanent("isv.MOBILE_NUMBER_ILLEGAL", errors.New("invalid number"))}
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["failed"] != 1 || c["sent"] != 1 {
		t.Fatalf("counts %v, want the SMS failed and the email sent", c)
	}
	sms := b.notice(t, "sms")
	em := b.fallbackOf(t, sms.ID)
	if em.Status != "sent" || len(b.email.messages()) != 1 {
		t.Fatalf("fallback %s, %d emails", em.Status, len(b.email.messages()))
	}
	if as := b.attempts(t, sms.ID); len(as) != 1 || as[0].Outcome != "permanent" {
		t.Errorf("SMS attempts %+v", as)
	}
	if !strings.Contains(sms.StatusReason, fmt.Sprintf("fallback: email notice %d", em.ID)) {
		t.Errorf("SMS reason %q", sms.StatusReason)
	}
}

func TestNoFallbackWithoutPolicyOrForTransientErrors(t *testing.T) {
	t.Parallel()
	b := fallbackSetup(t, nil)
	b.sms.errs = []error{notify.Transient("isv.BUSINESS_LIMIT_CONTROL", errors.New("limit"))}
	b.dispatch(t, sh(11, 21, 10, 0))
	if n := b.notice(t, "sms"); n.Status != "pending" {
		t.Fatalf("SMS %s after a transient error", n.Status)
	}
	// Another stage's SMS fails permanently, but only due_soon has a fallback.
	other := setup(t)
	storetest.Customer(t, other.r, "c1")
	storetest.Plan(t, other.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	if _, err := other.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}
	other.sms.errs = []error{notify.Permanent("400", errors.New("bad"))}
	other.dispatch(t, sh(11, 21, 10, 0))
	for _, bb := range []*bundle{b, other} {
		var n int
		if err := bb.r.DB().Get(&n, `SELECT count(*) FROM notifications WHERE channel = 'email'`); err != nil || n != 0 {
			t.Errorf("email notices %d, %v; want none", n, err)
		}
	}
}

func TestFallbackRejectsUnknownChannel(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.Fallbacks = map[string]string{"due_soon": "fax"} })
	if _, err := notify.New(b.cfg); err == nil {
		t.Fatal("a fax fallback was accepted")
	}
}

// A bill moved a month later after its due_today went: its new date's
// due_soon SMS, refused for good, still falls back to email. The old date's
// due_today (its key given up by the move) is no later stage the bill has
// reached now; counted as one, it left the borrower without the stage.
func TestFallbackOfABillMovedAfterALaterStageWent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.Fallbacks = map[string]string{"due_soon": "email"} })
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	stages := []repo.Stage{
		{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"}},
		{Name: "due_today", OffsetDays: 0, Kind: "due_today", Channels: []string{"sms"}},
	}
	for _, d := range []int{21, 24} {
		b.scanStages(t, sh(11, d, 8, 0), stages)
		if c := b.dispatch(t, sh(11, d, 10, 0)); c["sent"] != 1 {
			t.Fatalf("on the %dth: %v, want one SMS sent", d, c)
		}
	}
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 12, 24)})
	b.scanStages(t, sh(12, 21, 8, 0), stages)
	b.sms.errs = []error{notify.Permanent("isv.MOBILE_NUMBER_ILLEGAL", errors.New("invalid number"))}
	if c := b.dispatch(t, sh(12, 21, 10, 0)); c["failed"] != 1 || c["sent"] != 1 {
		t.Fatalf("on the new date's due_soon: %v, want the SMS failed and its email fallback sent", c)
	}
	if msgs := b.email.messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "¥500.00") {
		t.Errorf("%d fallback emails, want 1", len(msgs))
	}
}
