package notify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"duebell/notify"
	"duebell/repo"
	"duebell/repo/storetest"
	"duebell/scheduler"
)

// digestStages is the default policy with digests on both channels.
func digestStages() []repo.Stage {
	stages := scheduler.DefaultStages()
	for i := range stages {
		stages[i].DigestChannels = stages[i].Channels
	}
	return stages
}

// threePlans stores borrower c1 with three plans of three merchants, each
// with one bill due on 24 November: 500.00, 300.00 and 200.00.
func threePlans(t *testing.T, b *bundle) {
	t.Helper()
	storetest.Customer(t, b.r, "c1")
	for _, p := range []struct {
		ref, merchant, title string
		amount               int64
	}{{"p1", "优品手机", "iPhone 17", 50000}, {"p2", "悦家家居", "布艺沙发", 30000}, {"p3", "乐学教育", "英语课程", 20000}} {
		storetest.Plan(t, b.r, p.ref, "c1", []repo.Date{repo.NewDate(2026, 11, 24)}, func(pl *repo.Plan) {
			pl.Merchant, pl.Title, pl.Total, pl.Installments[0].Amount = p.merchant, p.title, p.amount, p.amount
		})
	}
}

func pay(t *testing.T, b *bundle, plan string, amount int64) {
	t.Helper()
	if _, err := b.r.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: plan, Seq: 1, Amount: amount,
		Ref: "pay-" + plan, Now: sh(11, 23, 12, 0)}); err != nil {
		t.Fatal(err)
	}
}

// A borrower with three plans due the same day gets one SMS and one email
// naming all three with the total; every bill's notice row says which
// digest covered it. A bill paid before the next stage goes out drops out
// of that digest; when all are paid the digest is suppressed.
func TestThreeBillsDueTogetherMakeOneSMSAndOneEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	b.scanStages(t, sh(11, 21, 8, 30), digestStages()) // a re-scan adds nothing
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 2 || len(c) != 1 {
		t.Fatalf("counts %v, want one SMS and one email sent", c)
	}
	sms, email := b.sms.messages(), b.email.messages()
	if len(sms) != 1 || len(email) != 1 {
		t.Fatalf("%d SMS and %d email, want one of each", len(sms), len(email))
	}
	for _, want := range []string{"3笔", "¥1,000.00", "优品手机第1期", "悦家家居第1期", "乐学教育第1期", "11月24日", "https://pay.example.com/"} {
		if !strings.Contains(sms[0].Text, want) {
			t.Errorf("SMS lacks %q: %s", want, sms[0].Text)
		}
	}
	for _, want := range []string{"iPhone 17", "布艺沙发", "英语课程", "¥500.00", "¥300.00", "¥200.00", "合计：¥1,000.00", "2026年11月24日"} {
		if !strings.Contains(email[0].Text, want) || !strings.Contains(email[0].HTML, strings.TrimPrefix(want, "合计：")) {
			t.Errorf("email lacks %q:\n%s", want, email[0].Text)
		}
	}
	// Every installment × channel has its notice, covered by its channel's digest.
	ns := b.notices(t)
	if len(ns) != 6 {
		t.Fatalf("%d notices, want one per bill and channel", len(ns))
	}
	for _, n := range ns {
		if n.DigestOf == nil {
			t.Fatalf("notice %d (%s) is in no digest", n.ID, n.Channel)
		}
		leader := *n.DigestOf
		switch {
		case leader == n.ID && (n.Status != repo.StatusSent || n.Template != "due_soon_digest."+n.Channel+".zh-CN"):
			t.Errorf("digest %d: %s, template %s", n.ID, n.Status, n.Template)
		case leader != n.ID && (n.Status != repo.StatusSkipped || n.StatusReason != fmt.Sprintf("in digest #%d", leader)):
			t.Errorf("covered notice %d: %s %q", n.ID, n.Status, n.StatusReason)
		}
	}

	// due_today: the first bill is paid after the scan, before sending.
	b.scanStages(t, sh(11, 24, 8, 0), digestStages())
	pay(t, b, "p1", 50000)
	if c := b.dispatch(t, sh(11, 24, 10, 0)); c["sent"] != 2 {
		t.Fatalf("due today: %v", c)
	}
	sms = b.sms.messages()
	last := sms[len(sms)-1].Text
	if !strings.Contains(last, "2笔") || !strings.Contains(last, "¥500.00") || strings.Contains(last, "优品手机") ||
		!strings.Contains(last, "悦家家居第1期") || !strings.Contains(last, "乐学教育第1期") {
		t.Errorf("due-today SMS after p1 was paid: %s", last)
	}

	// overdue_1: the digest of the two left has one bill once the other is
	// paid: that bill's own notice goes.
	b.scanStages(t, sh(11, 25, 8, 0), digestStages())
	pay(t, b, "p2", 30000)
	if c := b.dispatch(t, sh(11, 25, 10, 0)); c["sent"] != 2 {
		t.Fatalf("overdue: %v", c)
	}
	sms = b.sms.messages()
	last = sms[len(sms)-1].Text
	if !strings.Contains(last, "英语课程") || !strings.Contains(last, "¥200.00") || strings.Contains(last, "笔") {
		t.Errorf("one bill left: want its own notice, got %s", last)
	}
}

// The pre-send re-check suppresses a digest whose bills were all paid.
func TestDigestOfPaidBillsIsSuppressed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	for _, p := range []struct {
		ref    string
		amount int64
	}{{"p1", 50000}, {"p2", 30000}, {"p3", 20000}} {
		pay(t, b, p.ref, p.amount)
	}
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["suppressed"] != 2 || len(b.sms.messages())+len(b.email.messages()) != 0 {
		t.Fatalf("counts %v, want both digests suppressed and nothing sent", c)
	}
	for _, n := range b.notices(t) {
		if n.DigestOf != nil && *n.DigestOf == n.ID && n.StatusReason != "every installment in the digest settled" {
			t.Errorf("digest %d: %s %q", n.ID, n.Status, n.StatusReason)
		}
	}
}

// With digests off (the stage lists no digest channels) each bill gets its
// own notice, as before.
func TestWithoutDigestEachBillHasItsOwnNotice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), scheduler.DefaultStages())
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 6 {
		t.Fatalf("counts %v, want 3 SMS and 3 emails", c)
	}
}

// An overdue digest counts once against the collection limits.
func TestOverdueDigestCountsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.Collection = scheduler.Collection{PerDay: 1, PerWeek: 3} })
	threePlans(t, b)
	stages := []repo.Stage{{Name: "overdue_1", OffsetDays: 1, Kind: "overdue", Channels: []string{"sms"},
		DigestChannels: []string{"sms"}}}
	b.scanStages(t, sh(11, 25, 8, 0), stages)
	if c := b.dispatch(t, sh(11, 25, 10, 0)); c["sent"] != 1 {
		t.Fatalf("counts %v, want the one overdue digest sent", c)
	}
	if msgs := b.sms.messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "3笔") || !strings.Contains(msgs[0].Text, "已逾期1天") {
		t.Fatalf("overdue digest: %+v", msgs)
	}
}

// When a digest SMS cannot go out, the email standing in for it lists every
// bill too.
func TestFallbackEmailOfADigestListsEveryBill(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.Fallbacks = map[string]string{"due_soon": "email"} })
	b.sms.errs = []error{notify.Permanent("isv.MOBILE_NUMBER_ILLEGAL", fmt.Errorf("bad number"))}
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon",
		Channels: []string{"sms"}, DigestChannels: []string{"sms"}}})
	b.dispatch(t, sh(11, 21, 10, 0))
	b.dispatch(t, sh(11, 21, 10, 1))
	em := b.email.messages()
	if len(em) != 1 {
		t.Fatalf("%d emails, want the one fallback", len(em))
	}
	for _, want := range []string{"iPhone 17", "布艺沙发", "英语课程", "¥1,000.00"} {
		if !strings.Contains(em[0].Text, want) {
			t.Errorf("fallback email lacks %q:\n%s", want, em[0].Text)
		}
	}
}

// A digest's bills may fall due on different days. Claimed after one of them
// is past due (the dispatcher ran before the day's scan), the digest leaves
// that bill out, whichever of them leads, and goes out for the other: as its
// own notice, "due in 1 day". The bill past due gets its own later stage.
func TestDigestLeavesOutABillPastItsStage(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.Stages = digestStages() })
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p8", "c1", []repo.Date{repo.NewDate(2026, 11, 8)}) // leads: queued first
	storetest.Plan(t, b.r, "p10", "c1", []repo.Date{repo.NewDate(2026, 11, 10)})
	b.scanStages(t, sh(11, 7, 8, 0), digestStages()) // due_soon for both: one day and three days ahead
	if c := b.dispatch(t, sh(11, 9, 10, 0)); c["sent"] != 2 {
		t.Fatalf("counts %v, want the SMS and the email of the bill still due sent", c)
	}
	sms := b.sms.messages()
	if len(sms) != 1 || !strings.Contains(sms[0].Text, "还有1天") || strings.Contains(sms[0].Text, "11月8日") {
		t.Errorf("SMS %+v, want the bill due on the 10th alone, due in 1 day", sms)
	}
}
