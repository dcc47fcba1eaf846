package notify_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"duebell/link"
	"duebell/notify"
	"duebell/repo"
	"duebell/repo/storetest"
	"duebell/scheduler"
	"duebell/templates"
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

// A digest of bills from one merchant is signed with its name, as each
// bill's own SMS is (【优品手机】: mainland gateways refuse an SMS without
// a 签名); the digest SMS carried none (an audit), and named each bill by
// the merchant, twice. Bills of several merchants name each of them in
// the text instead.
func TestDigestOfOneMerchantIsSignedWithIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	storetest.Customer(t, b.r, "c1")
	for ref, title := range map[string]string{"p1": "iPhone 17", "p2": "AirPods Pro"} {
		storetest.Plan(t, b.r, ref, "c1", []repo.Date{repo.NewDate(2026, 11, 24)}, func(pl *repo.Plan) {
			pl.Merchant, pl.Title = "优品手机", title
		})
	}
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 2 {
		t.Fatalf("counts %v, want one SMS and one email sent", c)
	}
	sms := b.sms.messages()
	if len(sms) != 1 || !strings.HasPrefix(sms[0].Text, "【优品手机】您有2笔分期") {
		t.Fatalf("digest SMS %v, want one, signed 【优品手机】", sms)
	}
	// Its bills are told apart by their plans, not by the merchant twice.
	if text := sms[0].Text; !strings.Contains(text, "iPhone 17第1期") || !strings.Contains(text, "AirPods Pro第1期") {
		t.Errorf("digest SMS %q, want each bill by its plan's title", text)
	}

	other := setup(t)
	threePlans(t, other)
	other.scanStages(t, sh(11, 21, 8, 0), digestStages())
	other.dispatch(t, sh(11, 21, 10, 0))
	if sms := other.sms.messages(); len(sms) != 1 || strings.HasPrefix(sms[0].Text, "【") {
		t.Fatalf("digest SMS of three merchants %v, want one, with no one merchant's signature", sms)
	}
}

// With sms.signature set, every SMS is signed with the lender's filed
// signature, the one a lender can register with the carriers: a digest of
// three merchants' bills (unsigned without it), a bill's own SMS (signed
// with its merchant's name without it), and the email keeps the merchant.
func TestLenderSignatureSignsEverySMS(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.SMSSignature = "优品分期" })
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	b.dispatch(t, sh(11, 21, 10, 0))
	sms := b.sms.messages()
	if len(sms) != 1 || !strings.HasPrefix(sms[0].Text, "【优品分期】您有3笔分期") ||
		!strings.Contains(sms[0].Text, "悦家家居第1期") {
		t.Fatalf("digest SMS of three merchants %v, want it signed 【优品分期】, each bill by its merchant", sms)
	}

	one := setup(t, func(c *notify.Config) { c.SMSSignature = "优品分期" })
	storetest.Customer(t, one.r, "c1")
	storetest.Plan(t, one.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)}, func(pl *repo.Plan) {
		pl.Merchant, pl.Title = "优品手机", "iPhone 17"
	})
	one.scanStages(t, sh(11, 21, 8, 0), digestStages())
	one.dispatch(t, sh(11, 21, 10, 0))
	if sms := one.sms.messages(); len(sms) != 1 || !strings.HasPrefix(sms[0].Text, "【优品分期】“iPhone 17”") {
		t.Fatalf("a bill's own SMS %v, want it signed 【优品分期】", sms)
	}
	if mail := one.email.messages(); len(mail) != 1 || !strings.Contains(mail[0].Text, "优品手机") {
		t.Errorf("email %v, want the merchant named as before", mail)
	}
}

// A digest whose shops have long names is cut to fit two parts like a
// bill's own SMS: its bill names are cut as its plan title and merchant
// are (they were not, and ordinary long shop names made 3-part SMS).
func TestDigestWithLongShopNamesFitsTwoParts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	storetest.Customer(t, b.r, "c1")
	for i, m := range []string{"超级无敌优品数码科技旗舰店官方直营", "悦家家居生活馆全国连锁官方旗舰店", "乐学教育在线培训中心官方认证旗舰店"} {
		ref := fmt.Sprint("p", i+1)
		storetest.Plan(t, b.r, ref, "c1", []repo.Date{repo.NewDate(2026, 11, 24)}, func(pl *repo.Plan) {
			pl.Merchant, pl.Title = m, "分期商品"+ref
		})
	}
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	b.dispatch(t, sh(11, 21, 10, 0))
	sms := b.sms.messages()
	if len(sms) != 1 {
		t.Fatalf("%d SMS, want the digest", len(sms))
	}
	if n, enc := templates.SMSSegments(sms[0].Text); n > templates.MaxSMSSegments || !strings.Contains(sms[0].Text, "...") ||
		!strings.Contains(sms[0].Text, "超级无敌优") {
		t.Errorf("digest SMS of %d %s parts: %q; want its shop names cut to fit %d", n, enc, sms[0].Text, templates.MaxSMSSegments)
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

// linkTarget follows the repayment link in text as the repayment page does
// (links/verify): the plan ref and installment seq it verifies to, and the
// notice it names.
func (b *bundle) linkTarget(t *testing.T, text string, at time.Time) (repo.LinkTarget, int64) {
	t.Helper()
	raw := regexp.MustCompile(`https://pay\.example\.com/[\w./?=&%-]+`).FindString(text)
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		t.Fatalf("no repayment link in %q", text)
	}
	tok := u.Query().Get(link.QueryParam)
	claims, err := b.signer.Verify(tok, at)
	if err != nil {
		t.Fatalf("link %s: %v", raw, err)
	}
	if !link.IsCompact(tok) {
		return repo.LinkTarget{PlanRef: claims.PlanRef, Seq: claims.Seq}, claims.NotificationID
	}
	target, err := b.r.GetLinkTarget(context.Background(), claims.NotificationID)
	if err != nil {
		t.Fatal(err)
	}
	return target, claims.NotificationID
}

// planOf is the ref of the plan notice id is about, as the log records it.
func (b *bundle) planOf(t *testing.T, id int64) string {
	t.Helper()
	var ref string
	if err := b.r.DB().Get(&ref, `SELECT p.ref FROM notifications n JOIN plans p ON p.id = n.plan_id WHERE n.id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return ref
}

// A digest whose leading bill is paid before it goes out, with one bill
// left, goes out as that bill's own reminder, through that bill's own
// notice: the Pay link verifies to that bill's plan (not to the paid one,
// which a borrower could otherwise pay again), and the log records the
// reminder as sent for that bill, the paid bill's notice as suppressed.
func TestDigestLeftWithOneBillLinksAndLogsThatBill(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages()) // p1's notices lead
	pay(t, b, "p1", 50000)
	pay(t, b, "p2", 30000)
	at := sh(11, 21, 10, 0)
	if c := b.dispatch(t, at); c["sent"] != 2 {
		t.Fatalf("counts %v, want p3's SMS and email sent", c)
	}
	for _, m := range append(b.sms.messages(), b.email.messages()...) {
		if !strings.Contains(m.Text, "英语课程") || !strings.Contains(m.Text, "¥200.00") || strings.Contains(m.Text, "笔") {
			t.Errorf("%s: want p3's own reminder, got %s", m.To, m.Text)
		}
		target, id := b.linkTarget(t, m.Text, at)
		if target.PlanRef != "p3" || target.Seq != 1 {
			t.Errorf("%s: the Pay link verifies to %+v, want p3's installment 1", m.To, target)
		}
		n, err := b.r.GetNotification(context.Background(), id)
		if err != nil || n.Status != repo.StatusSent || b.planOf(t, id) != "p3" {
			t.Errorf("%s: the notice the link names (%d) is %s for %s, want the sent reminder of p3", m.To, id, n.Status, b.planOf(t, id))
		}
	}
	for _, n := range b.notices(t) {
		if ref := b.planOf(t, n.ID); ref == "p1" && (n.Status != repo.StatusSuppressed || !strings.HasPrefix(n.StatusReason, "installment paid")) {
			t.Errorf("p1's %s notice: %s %q, want suppressed: installment paid", n.Channel, n.Status, n.StatusReason)
		}
	}
}

// A digest whose leading bill is paid before it goes out lists the others,
// and its Pay link verifies to one of the bills it lists.
func TestDigestWithoutItsLeadingBillLinksABillItLists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	pay(t, b, "p1", 50000)
	at := sh(11, 21, 10, 0)
	if c := b.dispatch(t, at); c["sent"] != 2 {
		t.Fatalf("counts %v, want one SMS and one email", c)
	}
	for _, m := range append(b.sms.messages(), b.email.messages()...) {
		if !strings.Contains(m.Text, "2笔") || strings.Contains(m.Text, "iPhone 17") || strings.Contains(m.Text, "优品手机") {
			t.Errorf("%s: want the digest of p2 and p3, got %s", m.To, m.Text)
		}
		if target, id := b.linkTarget(t, m.Text, at); target.PlanRef != "p2" || b.planOf(t, id) != "p2" {
			t.Errorf("%s: the Pay link verifies to %+v (notice of %s), want p2, the first bill it lists", m.To, target, b.planOf(t, id))
		}
	}
}

// The effect report counts as reminded the bills a digest told of: a
// leading bill whose plan was cancelled before the digest went out is not
// one of them.
func TestEffectReportCreditsTheBillsADigestToldOf(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)}, func(p *repo.Plan) {
		p.Merchant, p.Title, p.Total, p.Installments[0].Amount, p.Status = "优品手机", "iPhone 17", 50000, 50000, repo.PlanCancelled
	})
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 2 {
		t.Fatalf("counts %v, want one SMS and one email", c)
	}
	rows, err := b.r.EffectReport(context.Background(), scheduler.ReminderKinds(), sh(11, 21, 0, 0), sh(11, 22, 0, 0), sh(11, 30, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Sent != 2 {
			t.Errorf("%s %s %s: %d reminded, want p2 and p3 (p1's plan was cancelled, and the digest did not list it)",
				row.Stage, row.Channel, row.Template, row.Sent)
		}
	}
	if len(rows) != 2 {
		t.Errorf("%d report rows, want one per channel: %+v", len(rows), rows)
	}
}

// sentDigest is the digest notice sent on channel.
func (b *bundle) sentDigest(t *testing.T, channel string) int64 {
	t.Helper()
	for _, n := range b.notices(t) {
		if n.Channel == channel && n.LeadsDigest() && n.Status == repo.StatusSent {
			return n.ID
		}
	}
	t.Fatalf("no %s digest sent", channel)
	return 0
}

func cancelPlan(t *testing.T, b *bundle, ref string) {
	t.Helper()
	p, err := b.r.GetPlan(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	p.Status = repo.PlanCancelled
	if _, err := b.r.UpsertPlan(context.Background(), p, sh(11, 21, 12, 0)); err != nil {
		t.Fatal(err)
	}
}

// A support resend of a digest whose first bill has been paid since tells
// of the bills still unpaid, as a fresh digest would, and its Pay link
// verifies to one of them.
func TestResendOfADigestTellsOfTheBillsStillUnpaid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	b.dispatch(t, sh(11, 21, 10, 0))
	pay(t, b, "p1", 50000)
	at := sh(11, 21, 15, 0)
	res, err := b.r.Resend(context.Background(), repo.ResendInput{ID: b.sentDigest(t, "sms"), Reason: "客户说没收到",
		Actor: "ops", Now: at})
	if err != nil {
		t.Fatalf("resend of a digest whose first bill is paid: %v; want it queued for the two unpaid", err)
	}
	if c := b.dispatch(t, at); c["sent"] != 1 {
		t.Fatalf("counts %v, want the resend sent", c)
	}
	sms := b.sms.messages()
	text := sms[len(sms)-1].Text
	if !strings.Contains(text, "2笔") || !strings.Contains(text, "¥500.00") || strings.Contains(text, "优品手机") {
		t.Errorf("resend: want the digest of p2 and p3, got %s", text)
	}
	if target, id := b.linkTarget(t, text, at); id != res.Notification.ID || target.PlanRef != "p2" || b.planOf(t, id) != "p2" {
		t.Errorf("the resend's Pay link names notice %d, verifies to %+v; want the resend, told of p2", id, target)
	}
}

// A forced resend of a digest tells of the bills still owed, even on a
// plan since cancelled, and never of a paid one: no bill at ¥0.00.
func TestForcedResendOfADigestNeverListsAPaidBill(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	b.dispatch(t, sh(11, 21, 10, 0))
	pay(t, b, "p1", 50000)
	pay(t, b, "p3", 20000)
	cancelPlan(t, b, "p2")
	at := sh(11, 21, 15, 0)
	in := repo.ResendInput{ID: b.sentDigest(t, "sms"), Reason: "客户要求", Actor: "ops", Now: at}
	if _, err := b.r.Resend(context.Background(), in); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("resend of a digest no bill of which asks for payment: %v, want refused", err)
	}
	in.Force = true
	if _, err := b.r.Resend(context.Background(), in); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if c := b.dispatch(t, at); c["sent"] != 1 {
		t.Fatalf("counts %v, want the forced resend sent", c)
	}
	sms := b.sms.messages()
	text := sms[len(sms)-1].Text
	if strings.Contains(text, "¥0.00") || strings.Contains(text, "优品手机") || strings.Contains(text, "乐学教育") ||
		!strings.Contains(text, "布艺沙发") || !strings.Contains(text, "¥300.00") {
		t.Errorf("forced resend: want p2's own reminder, ¥300.00 still owed, and no paid bill; got %s", text)
	}
	if target, _ := b.linkTarget(t, text, at); target.PlanRef != "p2" {
		t.Errorf("the forced resend's Pay link verifies to %+v, want p2", target)
	}
}

// A plan_cancelled event for the plan whose bill leads a digest does not
// end the digest: the other plans' bills still go out in it, through the
// notice of the first of them, and the cancelled plan is not listed.
func TestPlanCancelledByEventHandsTheDigestOver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	threePlans(t, b)
	b.scanStages(t, sh(11, 21, 8, 0), digestStages())
	ctx := context.Background()
	if _, _, err := b.r.RecordEvent(ctx, repo.EventInput{Ref: "cancel-p1", Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan,
		PlanRef: "p1", OccurredAt: sh(11, 21, 9, 0), Now: sh(11, 21, 9, 0), Payload: repo.JSONObject(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.ProcessChannelEvents(ctx, sh(11, 21, 9, 0), 0, []string{"sms", "email"}); err != nil {
		t.Fatal(err)
	}
	b.dispatch(t, sh(11, 21, 10, 0))
	var reminders []notify.Message
	for _, m := range append(b.sms.messages(), b.email.messages()...) {
		if !strings.Contains(m.Text, "取消") { // the event's own notice says the plan was cancelled
			reminders = append(reminders, m)
		}
	}
	if len(reminders) != 2 {
		t.Fatalf("%d reminders sent, want the digest of p2 and p3 by SMS and by email", len(reminders))
	}
	for _, m := range reminders {
		if !strings.Contains(m.Text, "2笔") || !strings.Contains(m.Text, "悦家家居") ||
			!strings.Contains(m.Text, "乐学教育") || strings.Contains(m.Text, "iPhone 17") {
			t.Errorf("%s: want the digest of p2 and p3, got %s", m.To, m.Text)
		}
	}
}

// A bill of a digest whose due date moves later before the digest goes
// out leaves it: the digest tells of the others, and the moved bill's
// notices wait for its own stage day, then go out on their own. Whether
// the moved bill is a member or the one whose notices lead.
func TestDigestBillMovedLaterWaitsForItsOwnDay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ moved, title string }{{"p2", "布艺沙发"}, {"p1", "iPhone 17"}} {
		t.Run(tc.moved, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			threePlans(t, b)
			b.scanStages(t, sh(11, 21, 8, 0), digestStages()) // p1's notices lead
			p, err := b.r.GetPlan(context.Background(), tc.moved)
			if err != nil {
				t.Fatal(err)
			}
			p.Installments[0].DueDate = repo.NewDate(2026, 12, 4) // due_soon starts on 1 December
			if _, err := b.r.UpsertPlan(context.Background(), p, sh(11, 21, 9, 0)); err != nil {
				t.Fatal(err)
			}
			if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 2 {
				t.Fatalf("counts %v, want the digest of the two other bills by SMS and email", c)
			}
			for _, m := range append(b.sms.messages(), b.email.messages()...) {
				if !strings.Contains(m.Text, "2笔") || strings.Contains(m.Text, tc.title) {
					t.Errorf("%s: want the digest of the two bills still due on the 24th, got %s", m.To, m.Text)
				}
			}
			for _, n := range b.notices(t) {
				if b.planOf(t, n.ID) == tc.moved && (n.Status != repo.StatusPending || n.Attempts != 0 ||
					!strings.HasPrefix(n.StatusReason, "waiting: the bill's due date moved to 2026-12-04")) {
					t.Errorf("%s's %s notice: %s %q, %d attempts; want it waiting for 1 December, untried",
						tc.moved, n.Channel, n.Status, n.StatusReason, n.Attempts)
				}
			}
			if c := b.dispatch(t, sh(12, 1, 10, 0)); c["sent"] != 2 {
				t.Fatalf("counts %v on 1 December, want the moved bill's own SMS and email", c)
			}
			for _, m := range append(b.sms.messages()[1:], b.email.messages()[1:]...) {
				if !strings.Contains(m.Text, tc.title) || strings.Contains(m.Text, "笔") {
					t.Errorf("%s: want %s's own reminder, got %s", m.To, tc.moved, m.Text)
				}
			}
		})
	}
}

// The same on the due date and after it: a due_today or overdue digest's
// bill whose due date moves later is not "out of date" (it has not passed
// its stage, it has not reached it). It leaves the digest and waits for its
// stage's day on the new date, then goes out on its own: the stage's dedup
// key keeps the scan from queueing it again, so skipped it would never go.
func TestDigestBillMovedLaterOnOrAfterItsDueDateWaits(t *testing.T) {
	t.Parallel()
	for _, st := range []struct {
		stage     string
		day, own  time.Time // the digest's stage day; the moved bill's
		ownPrefix string
	}{
		{"due_today", sh(11, 24, 8, 0), sh(12, 4, 10, 0), "waiting: the bill's due date moved to 2026-12-04; due_today starts on 2026-12-04"},
		{"overdue_1", sh(11, 25, 8, 0), sh(12, 5, 10, 0), "waiting: the bill's due date moved to 2026-12-04; overdue_1 starts on 2026-12-05"},
	} {
		for _, tc := range []struct{ moved, title string }{{"p2", "布艺沙发"}, {"p1", "iPhone 17"}} {
			t.Run(st.stage+"/"+tc.moved, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				threePlans(t, b)
				b.scanStages(t, st.day, digestStages()) // p1's notices lead
				p, err := b.r.GetPlan(context.Background(), tc.moved)
				if err != nil {
					t.Fatal(err)
				}
				p.Installments[0].DueDate = repo.NewDate(2026, 12, 4)
				if _, err := b.r.UpsertPlan(context.Background(), p, st.day.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				if c := b.dispatch(t, st.day.Add(2*time.Hour)); c["sent"] != 2 {
					t.Fatalf("counts %v, want the digest of the two other bills by SMS and email", c)
				}
				for _, m := range append(b.sms.messages(), b.email.messages()...) {
					if !strings.Contains(m.Text, "2笔") || strings.Contains(m.Text, tc.title) {
						t.Errorf("%s: want the digest of the two bills still due, got %s", m.To, m.Text)
					}
				}
				for _, n := range b.notices(t) {
					if b.planOf(t, n.ID) == tc.moved && n.Stage == st.stage && (n.Status != repo.StatusPending ||
						n.Attempts != 0 || n.StatusReason != st.ownPrefix) {
						t.Errorf("%s's %s notice: %s %q, %d attempts; want it waiting (%q), untried",
							tc.moved, n.Channel, n.Status, n.StatusReason, n.Attempts, st.ownPrefix)
					}
				}
				if c := b.dispatch(t, st.own); c["sent"] != 2 {
					t.Fatalf("counts %v on its new stage day, want the moved bill's own SMS and email", c)
				}
				for _, m := range append(b.sms.messages()[1:], b.email.messages()[1:]...) {
					if !strings.Contains(m.Text, tc.title) || strings.Contains(m.Text, "笔") {
						t.Errorf("%s: want %s's own reminder, got %s", m.To, tc.moved, m.Text)
					}
				}
			})
		}
	}
}

// A digest email tells how its bills are repaid as they are: it told every
// borrower that the bills on automatic debit would be debited, whether any
// was or not.
func TestDigestEmailSaysHowItsBillsAreRepaid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, want, notWant string
	}{
		{"none by debit", "manual", "请在到期日前完成还款", "自动扣款"},
		{"all by debit", "auto_debit", "以上账单将于到期日从绑定账户自动扣款", "其余"},
	} {
		b := setup(t)
		storetest.Customer(t, b.r, "c1")
		for _, ref := range []string{"p1", "p2"} {
			storetest.Plan(t, b.r, ref, "c1", []repo.Date{repo.NewDate(2026, 11, 24)}, func(pl *repo.Plan) {
				pl.Merchant, pl.RepayMethod = "优品手机"+ref, tc.method
				if tc.method == "auto_debit" {
					pl.CardLast4 = "6789"
				}
			})
		}
		b.scanStages(t, sh(11, 21, 8, 0), digestStages())
		b.dispatch(t, sh(11, 21, 10, 0))
		mail := b.email.messages()
		if len(mail) != 1 || !strings.Contains(mail[0].Text, tc.want) || strings.Contains(mail[0].Text, tc.notWant) {
			t.Errorf("%s: digest email %v, want %q and no %q", tc.name, mail, tc.want, tc.notWant)
		}
	}
}
