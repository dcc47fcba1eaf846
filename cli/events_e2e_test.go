package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"duebell/internal/smtptest"
)

const (
	liPhone    = "+8613812345678"
	alicePhone = "+8613900000002"
	bobPhone   = "+8613900000003"
	payLink    = "https://pay.example.com/repay?t="
)

// seedBorrowers pushes li (zh-CN, auto-debit from card 6789), alice (en,
// auto-debit from card 4321) and bob (en, repays by hand), each with a
// three-installment plan <ref>-1 due on the 10th of Dec, Jan and Feb.
func (e *e2e) seedBorrowers() {
	e.t.Helper()
	e.call("PUT", "/api/v1/customers/li", `{"name":"李雷","phone":"13812345678","email":"li@example.net","locale":"zh-CN"}`, http.StatusCreated)
	e.call("PUT", "/api/v1/customers/alice", `{"name":"Alice","phone":"+8613900000002","email":"alice@example.net","locale":"en"}`, http.StatusCreated)
	e.call("PUT", "/api/v1/customers/bob", `{"name":"Bob","phone":"+8613900000003","email":"bob@example.net","locale":"en"}`, http.StatusCreated)
	e.putPlan("li-1", "li", "auto_debit", "6789", 0, http.StatusCreated)
	e.putPlan("alice-1", "alice", "auto_debit", "4321", 0, http.StatusCreated)
	e.putPlan("bob-1", "bob", "manual", "", 0, http.StatusCreated)
}

// putPlan stores a 3 × ¥1,000.00 plan whose first paidFirst fen are paid;
// want is 201 for a new plan, 200 for one replaced.
func (e *e2e) putPlan(ref, customer, method, card string, paidFirst, want int) {
	e.t.Helper()
	e.call("PUT", "/api/v1/plans/"+ref, fmt.Sprintf(`{"customer_ref":%q,"merchant":"优品手机","title":"Phone X","total":300000,
		"periods":3,"repay_method":%q,"card_last4":%q,"installments":[
		{"seq":1,"due_date":"2026-12-10","amount":100000,"paid":%d},
		{"seq":2,"due_date":"2027-01-10","amount":100000},
		{"seq":3,"due_date":"2027-02-10","amount":100000}]}`, customer, method, card, paidFirst), want)
}

// putBill stores plan ref of customer: one bill of ¥1,000.00 due on due,
// repaid by hand; want is 201 for a new plan, 200 for one replaced.
func (e *e2e) putBill(ref, customer, due string, want int) {
	e.t.Helper()
	e.call("PUT", "/api/v1/plans/"+ref, fmt.Sprintf(`{"customer_ref":%q,"merchant":"优品手机","title":"Phone X","total":100000,
		"periods":1,"repay_method":"manual","installments":[{"seq":1,"due_date":%q,"amount":100000}]}`, customer, due), want)
}

// statuses lists the statuses of the notices of kind on channel, oldest
// first.
func (e *e2e) statuses(kind, channel string) []string {
	var out []string
	for _, n := range e.notices() {
		if n.Kind == kind && n.Channel == channel {
			out = append(out, n.Status)
		}
	}
	return out
}

// event posts a channel event at the fake clock's instant at.
func (e *e2e) event(at, body string, want int) map[string]any {
	e.t.Helper()
	e.clock.Set(at)
	return e.call("POST", "/api/v1/channel-events", body, want)
}

// scanAndSend runs `scan --at` and `dispatch --once --at` and returns the scan's output.
func (e *e2e) scanAndSend(at string) string {
	e.t.Helper()
	out := e.run("scan", "--at", at)
	e.run("dispatch", "--once", "--at", at)
	return out
}

func (e *e2e) smsTo(phone string) []string {
	var out []string
	for _, m := range e.sms.messages() {
		if m["to"] == phone {
			out = append(out, m["body"])
		}
	}
	return out
}

type mail struct{ subject, text, html string }

func (e *e2e) mailTo(addr string) []mail {
	e.t.Helper()
	var out []mail
	for _, m := range e.smtp.Messages() {
		if m.To[0] != addr {
			continue
		}
		out = append(out, mailOf(e.t, m))
	}
	return out
}

func mailOf(t *testing.T, m smtptest.Message) mail {
	t.Helper()
	s, err1 := m.Subject()
	text, err2 := m.Text()
	html, err3 := m.HTML()
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("mail to %v: %v %v %v", m.To, err1, err2, err3)
	}
	return mail{s, text, html}
}

func (e *e2e) plan(ref string) string {
	e.t.Helper()
	var s string
	if err := e.repo.DB().Get(&s, `SELECT status || '/' || repay_method || '/' || card_last4 FROM plans WHERE ref = $1`, ref); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// kinds lists customer/kind/channel/status of the notices of the given
// kinds, sorted.
func (e *e2e) kinds(kinds ...string) []string {
	var out []string
	for _, n := range e.notices() {
		if slices.Contains(kinds, n.Kind) {
			out = append(out, n.Customer+"/"+n.Kind+"/"+n.Channel+"/"+n.Status)
		}
	}
	slices.Sort(out)
	return out
}

func wantOne(t *testing.T, what string, got []string, prefix string) string {
	t.Helper()
	if len(got) != 1 || !strings.HasPrefix(got[0], prefix) {
		t.Fatalf("%s = %q, want one starting %q", what, got, prefix)
	}
	return got[0]
}

func TestEventsCardUnboundEndToEnd(t *testing.T) {
	t.Parallel()
	forEachStore(t, testEventsCardUnboundEndToEnd)
}

func testEventsCardUnboundEndToEnd(t *testing.T, store string) {
	e := startE2EOn(t, store)
	e.seedBorrowers()
	body := `{"ref":"unbind-alice-1","kind":"card_unbound","scope":"customer","customer_ref":"alice",
		"occurred_at":"2026-12-05T09:55:00+08:00","payload":{"card_last4":"4321"}}`
	e.event("2026-12-05T09:56:00+08:00", body, http.StatusCreated)

	out := e.scanAndSend("2026-12-05T10:00:00+08:00")
	if !strings.Contains(out, "channel-event scan as of 2026-12-05T10:00:00+08:00: 1 events, queued 2, plans changed 1") {
		t.Fatalf("scan output:\n%s", out)
	}
	wantOne(t, "SMS to alice", e.smsTo(alicePhone), `优品手机: Your bank card ****4321 was unbound and auto-debit for "Phone X" has stopped. `+
		`Your next bill, ¥1,000.00 due Dec 10, 2026, must be paid another way: `+payLink)
	mails := e.mailTo("alice@example.net")
	if len(mails) != 1 || mails[0].subject != "Bank card unbound: auto-debit stopped" ||
		!strings.Contains(mails[0].text, "Next bill: installment 1/3, ¥1,000.00, due Dec 10, 2026.") ||
		!strings.Contains(mails[0].text, "Pay now: "+payLink) || !strings.Contains(mails[0].html, "****4321") {
		t.Fatalf("mail to alice: %+v", mails)
	}
	if got := e.plan("alice-1") + " " + e.plan("li-1"); got != "active/manual/4321 active/auto_debit/6789" {
		t.Errorf("plans after unbinding alice's card: %s", got)
	}

	// The lender's retry changes nothing and sends nothing.
	e.event("2026-12-05T10:01:00+08:00", body, http.StatusOK)
	if out := e.scanAndSend("2026-12-05T10:02:00+08:00"); !strings.Contains(out, ": 0 events, queued 0") {
		t.Fatalf("re-scan output:\n%s", out)
	}
	if n := len(e.sms.messages()) + len(e.smtp.Messages()); n != 2 {
		t.Fatalf("%d messages after the retry, want the 2 first ones", n)
	}

	// Three days before the bill, alice's reminder says she must pay herself;
	// li's still names the card it will be debited from.
	e.scanAndSend("2026-12-07T10:00:00+08:00")
	sms := e.smsTo(alicePhone)
	if len(sms) != 2 || !strings.Contains(sms[1], "It will NOT be debited automatically; please pay here: "+payLink) {
		t.Fatalf("alice's reminder after unbinding: %q", sms)
	}
	if text := e.mailTo("alice@example.net")[1].text; !strings.Contains(text, "It will NOT be debited automatically. Please pay by the due date.") {
		t.Errorf("alice's reminder email:\n%s", text)
	}
	wantOne(t, "SMS to li", e.smsTo(liPhone), "【优品手机】“Phone X”第1/3期¥1,000.00还有3天（12月10日）到期，将自动扣尾号6789卡")
}

// An unbind at night is told at the window's opening; a borrower who paid
// the next bill by hand meanwhile is told of the bill after it, with a
// link to that one, not asked to pay "¥0.00" on the bill just paid.
func TestEventsCardUnboundNamesTheBillNextWhenItGoes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, store string) {
		e := startE2EOn(t, store)
		e.seedBorrowers()
		e.event("2026-12-05T21:56:00+08:00", `{"ref":"unbind-alice-2","kind":"card_unbound","scope":"customer",
			"customer_ref":"alice","occurred_at":"2026-12-05T21:55:00+08:00","payload":{"card_last4":"4321"}}`, http.StatusCreated)
		e.scanAndSend("2026-12-05T22:00:00+08:00") // queued for the bill due Dec 10; the window is closed
		if n := len(e.smsTo(alicePhone)); n != 0 {
			t.Fatalf("%d SMS to alice at 22:00, want none before the window opens", n)
		}
		e.clock.Set("2026-12-05T22:30:00+08:00")
		e.call("POST", "/api/v1/plans/alice-1/installments/1/payments", `{"amount":100000,"ref":"pay-a2"}`, http.StatusCreated)

		e.run("dispatch", "--once", "--at", "2026-12-06T09:00:00+08:00")
		var unbound []string
		for _, m := range e.smsTo(alicePhone) { // and the payment's confirmation
			if strings.Contains(m, "was unbound") {
				unbound = append(unbound, m)
			}
		}
		sms := wantOne(t, "card_unbound SMS to alice", unbound, `优品手机: Your bank card ****4321 was unbound`)
		if !strings.Contains(sms, "Your next bill, ¥1,000.00 due Jan 10, 2027, must be paid another way: "+payLink) {
			t.Fatalf("SMS to alice after she paid the Dec 10 bill: %q, want the Jan 10 bill", sms)
		}
		var mails []mail
		for _, m := range e.mailTo("alice@example.net") {
			if strings.HasPrefix(m.subject, "Bank card unbound") {
				mails = append(mails, m)
			}
		}
		if len(mails) != 1 || !strings.Contains(mails[0].text, "Next bill: installment 2/3, ¥1,000.00, due Jan 10, 2027.") {
			t.Fatalf("card_unbound mail to alice: %+v", mails)
		}
		// The notice and its link name the bill it told of.
		u, err := url.Parse(payLink + strings.SplitN(sms, payLink, 2)[1])
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Set("2026-12-06T09:05:00+08:00")
		got := e.call("GET", "/api/v1/links/verify?t="+url.QueryEscape(u.Query().Get("t")), "", http.StatusOK)
		if got["plan_ref"] != "alice-1" || got["seq"] != float64(2) {
			t.Errorf("the SMS's link opens %v, want alice-1's bill 2", got)
		}
	})
}

func TestEventsCardBoundEndToEnd(t *testing.T) {
	t.Parallel()
	forEachStore(t, testEventsCardBoundEndToEnd)
}

func testEventsCardBoundEndToEnd(t *testing.T, store string) {
	e := startE2EOn(t, store)
	e.seedBorrowers()
	e.event("2026-12-05T10:00:00+08:00", `{"ref":"bind-bob","kind":"card_bound","scope":"plan","plan_ref":"bob-1",
		"occurred_at":"2026-12-05T10:00:00+08:00","payload":{"card_last4":"1234"}}`, http.StatusCreated)
	e.scanAndSend("2026-12-05T10:00:00+08:00")
	sms := wantOne(t, "SMS to bob", e.smsTo(bobPhone), `优品手机: Bank card ****1234 is now linked. From your next bill, "Phone X" will be debited from this card.`)
	if strings.Contains(sms, "://") {
		t.Errorf("card_bound SMS carries a link: %q", sms)
	}
	if m := e.mailTo("bob@example.net"); len(m) != 1 || !strings.Contains(m[0].text, "Your bank card ****1234 has been linked.") {
		t.Fatalf("mail to bob: %+v", m)
	}
	if got := e.plan("bob-1"); got != "active/auto_debit/1234" {
		t.Errorf("bob-1 = %s", got)
	}
	e.scanAndSend("2026-12-07T10:00:00+08:00")
	if sms := e.smsTo(bobPhone); len(sms) != 2 || !strings.Contains(sms[1], "It will be debited from card ****1234; please keep enough balance.") {
		t.Fatalf("bob's reminder after binding: %q", sms)
	}
}

func TestEventsAutodebitFailedUsesSecurityWindow(t *testing.T) {
	t.Parallel()
	forEachStore(t, testEventsAutodebitFailedUsesSecurityWindow)
}

func testEventsAutodebitFailedUsesSecurityWindow(t *testing.T, store string) {
	e := startE2EOn(t, store)
	e.seedBorrowers()
	// 07:30 in Shanghai: before the 09:00 window, inside the 07:00 security window.
	e.event("2026-12-10T07:30:00+08:00", `{"ref":"fail-li","kind":"autodebit_failed","scope":"plan","plan_ref":"li-1",
		"occurred_at":"2026-12-10T07:30:00+08:00","payload":{"seq":1,"reason":"insufficient_funds"}}`, http.StatusCreated)
	e.event("2026-12-10T07:30:00+08:00", `{"ref":"fail-alice","kind":"autodebit_failed","scope":"plan","plan_ref":"alice-1",
		"occurred_at":"2026-12-10T07:30:00+08:00","payload":{"seq":1}}`, http.StatusCreated)
	e.event("2026-12-10T07:30:00+08:00", `{"ref":"bind-bob","kind":"card_bound","scope":"plan","plan_ref":"bob-1",
		"occurred_at":"2026-12-10T07:30:00+08:00","payload":{"card_last4":"1234"}}`, http.StatusCreated)
	e.run("scan", "--at", "2026-12-10T07:30:00+08:00")
	// Alice pays before the notices go out: hers is not sent.
	e.call("POST", "/api/v1/plans/alice-1/installments/1/payments", `{"amount":100000,"ref":"pay-a1"}`, http.StatusCreated)
	e.run("dispatch", "--once", "--at", "2026-12-10T07:31:00+08:00")

	wantOne(t, "SMS to li", e.smsTo(liPhone), "【优品手机】重要：“Phone X”第1/3期¥1,000.00自动扣款失败（银行卡余额不足），请于12月10日前还款："+payLink)
	if m := e.mailTo("li@example.net"); len(m) != 1 || !strings.Contains(m[0].text, "原因：银行卡余额不足") {
		t.Fatalf("mail to li: %+v", m)
	}
	if got := e.smsTo(alicePhone); len(got) != 0 {
		t.Errorf("alice paid but was told the debit failed: %q", got)
	}
	if got := e.smsTo(bobPhone); len(got) != 0 {
		t.Errorf("card_bound went out before the 09:00 window: %q", got)
	}
	want := "[alice/autodebit_failed/email/suppressed alice/autodebit_failed/sms/suppressed bob/card_bound/email/pending " +
		"bob/card_bound/sms/pending li/autodebit_failed/email/sent li/autodebit_failed/sms/sent]"
	if got := fmt.Sprint(e.kinds("autodebit_failed", "card_bound")); got != want {
		t.Fatalf("notices\n got %s\nwant %s", got, want)
	}
	var reason string
	if err := e.repo.DB().Get(&reason, `SELECT status_reason FROM notifications n JOIN customers c ON c.id = n.customer_id
		WHERE c.ref = 'alice' AND kind = 'autodebit_failed' AND channel = 'sms'`); err != nil || reason != "installment paid" {
		t.Errorf("alice's notice suppressed for %q, %v", reason, err)
	}
	// At 09:00 the ordinary notices go out.
	e.run("dispatch", "--once", "--at", "2026-12-10T09:00:00+08:00")
	if sms := e.smsTo(bobPhone); !slices.ContainsFunc(sms, func(b string) bool { return strings.HasPrefix(b, `优品手机: Bank card ****1234 is now linked.`) }) {
		t.Errorf("SMS to bob at 09:00: %q", sms)
	}
}

func TestEventsRepaymentEntryMovedToAll(t *testing.T) {
	t.Parallel()
	forEachStore(t, testEventsRepaymentEntryMovedToAll)
}

func testEventsRepaymentEntryMovedToAll(t *testing.T, store string) {
	e := startE2EOn(t, store)
	e.seedBorrowers()
	e.call("PUT", "/api/v1/customers/dora", `{"name":"Dora","phone":"+8613900000004","email":"dora@example.net","locale":"en"}`, http.StatusCreated)
	body := `{"ref":"moved-2026","kind":"repayment_entry_moved","scope":"all","occurred_at":"2026-12-05T10:00:00+08:00",
		"payload":{"app_name":"Example Finance","url":"https://finance.example.com/repay"}}`
	e.event("2026-12-05T10:00:00+08:00", body, http.StatusCreated)
	if out := e.scanAndSend("2026-12-05T10:00:00+08:00"); !strings.Contains(out, "1 events, queued 6") {
		t.Fatalf("scan output:\n%s", out)
	}
	wantOne(t, "SMS to alice", e.smsTo(alicePhone), "Repayment for your installments has moved to Example Finance. Please pay there from now on: https://finance.example.com/repay")
	wantOne(t, "SMS to li", e.smsTo(liPhone), "您的分期还款入口已迁移至“Example Finance”，后续请在该处还款：https://finance.example.com/repay")
	if m := e.mailTo("bob@example.net"); len(m) != 1 || !strings.Contains(m[0].html, `href="https://finance.example.com/repay"`) ||
		!strings.Contains(m[0].text, "New repayment entry: https://finance.example.com/repay") || strings.Contains(m[0].text, payLink) {
		t.Fatalf("mail to bob: %+v", m)
	}
	if got := e.smsTo("+8613900000004"); len(got) != 0 {
		t.Errorf("dora has no plan but was told: %q", got)
	}
	for _, n := range e.notices() {
		if n.Status != "sent" || n.Link != "" {
			t.Errorf("notice %+v: want sent, no signed link (it points to the new entry)", n)
		}
	}
	// A URL off the official domains is refused at the door.
	e.event("2026-12-05T10:05:00+08:00", `{"ref":"moved-evil","kind":"repayment_entry_moved","scope":"all","occurred_at":"2026-12-05T10:00:00+08:00",
		"payload":{"app_name":"Example Finance","url":"https://example-finance.cn/repay"}}`, http.StatusUnprocessableEntity)
	e.event("2026-12-05T10:05:00+08:00", `{"ref":"who","kind":"card_unbound","scope":"customer","customer_ref":"nobody","occurred_at":"2026-12-05T10:00:00+08:00"}`,
		http.StatusNotFound)
	var n int
	if err := e.repo.DB().Get(&n, `SELECT count(*) FROM channel_events`); err != nil || n != 1 {
		t.Fatalf("%d events stored (%v), want the one accepted", n, err)
	}
}

func TestEventsPlanCancelledEndToEnd(t *testing.T) {
	t.Parallel()
	forEachStore(t, testEventsPlanCancelledEndToEnd)
}

func testEventsPlanCancelledEndToEnd(t *testing.T, store string) {
	e := startE2EOn(t, store)
	e.seedBorrowers()
	// The due_soon reminders are queued before the window opens …
	e.run("scan", "--at", "2026-12-07T08:00:00+08:00")
	// … and li cancels the plan before they go out.
	e.event("2026-12-07T08:30:00+08:00", `{"ref":"cancel-li-1","kind":"plan_cancelled","scope":"plan","plan_ref":"li-1",
		"occurred_at":"2026-12-07T08:30:00+08:00"}`, http.StatusCreated)
	if out := e.run("scan", "--at", "2026-12-07T08:30:00+08:00"); !strings.Contains(out, "1 events, queued 2, plans changed 1, reminders suppressed 2") {
		t.Fatalf("scan output:\n%s", out)
	}
	e.run("dispatch", "--once", "--at", "2026-12-07T09:00:00+08:00")
	sms := wantOne(t, "SMS to li", e.smsTo(liPhone), "【优品手机】您的“Phone X”分期付款已取消，该分期无需再还款。")
	if strings.Contains(sms, "://") {
		t.Errorf("plan_cancelled SMS carries a link: %q", sms)
	}
	if m := e.mailTo("li@example.net"); len(m) != 1 || !strings.Contains(m[0].text, "该分期无需再还款，后续也不会再发起扣款") {
		t.Fatalf("mail to li: %+v", m)
	}
	if got := e.plan("li-1"); got != "cancelled/auto_debit/6789" {
		t.Errorf("li-1 = %s", got)
	}
	want := "[alice/due_soon/email/sent alice/due_soon/sms/sent bob/due_soon/email/sent bob/due_soon/sms/sent " +
		"li/due_soon/email/suppressed li/due_soon/sms/suppressed li/plan_cancelled/email/sent li/plan_cancelled/sms/sent]"
	if got := fmt.Sprint(e.kinds("due_soon", "plan_cancelled")); got != want {
		t.Fatalf("notices\n got %s\nwant %s", got, want)
	}
	var reason string
	if err := e.repo.DB().Get(&reason, `SELECT DISTINCT status_reason FROM notifications WHERE kind = 'due_soon' AND status = 'suppressed'`); err != nil || reason != "plan cancelled" {
		t.Errorf("suppressed reminders' reason %q, %v", reason, err)
	}
	if len(e.smsTo(alicePhone)) != 1 {
		t.Errorf("alice's reminder did not go out")
	}
	// Nothing more for the cancelled plan on its due date.
	e.scanAndSend("2026-12-10T10:00:00+08:00")
	if got := e.smsTo(liPhone); len(got) != 1 {
		t.Errorf("li reminded after cancelling: %q", got)
	}
}

func TestEventsServiceClosedEndToEnd(t *testing.T) {
	t.Parallel()
	forEachStore(t, testEventsServiceClosedEndToEnd)
}

func testEventsServiceClosedEndToEnd(t *testing.T, store string) {
	e := startE2EOn(t, store)
	e.seedBorrowers()
	e.putPlan("alice-1", "alice", "auto_debit", "4321", 100000, http.StatusOK) // alice paid the first bill
	e.call("PUT", "/api/v1/customers/erin", `{"name":"Erin","phone":"+8613900000005","email":"erin@example.net","locale":"en"}`, http.StatusCreated)
	e.call("PUT", "/api/v1/plans/erin-1", `{"customer_ref":"erin","merchant":"优品手机","title":"Case","total":100,"periods":1,
		"status":"closed","installments":[{"seq":1,"due_date":"2026-10-10","amount":100,"paid":100}]}`, http.StatusCreated)
	e.event("2026-12-05T10:00:00+08:00", `{"ref":"closed-all","kind":"service_closed","scope":"all","occurred_at":"2026-12-05T10:00:00+08:00"}`, http.StatusCreated)
	e.event("2026-12-05T10:00:00+08:00", `{"ref":"closed-erin","kind":"service_closed","scope":"customer","customer_ref":"erin","occurred_at":"2026-12-05T10:00:00+08:00"}`, http.StatusCreated)
	e.scanAndSend("2026-12-05T10:00:00+08:00")

	wantOne(t, "SMS to alice", e.smsTo(alicePhone), "优品手机: Your installment service has been closed. Your remaining balance of ¥2,000.00 must still be repaid "+
		"as scheduled; next due date Jan 10, 2027. Pay: "+payLink)
	wantOne(t, "SMS to li", e.smsTo(liPhone), "【优品手机】您的分期服务已关闭。您仍有待还金额¥3,000.00需按期归还，下期还款日为2026年12月10日，还款："+payLink)
	erin := wantOne(t, "SMS to erin", e.smsTo("+8613900000005"), "Your installment service has been closed. You have nothing outstanding. Thank you for using our service.")
	if strings.Contains(erin, "://") {
		t.Errorf("erin owes nothing but got a link: %q", erin)
	}
	if m := e.mailTo("alice@example.net"); len(m) != 1 || !strings.Contains(m[0].text, "Remaining balance: ¥2,000.00") ||
		!strings.Contains(m[0].text, "Next due date: Jan 10, 2027 (¥1,000.00)") {
		t.Fatalf("mail to alice: %+v", m)
	}
	// Reminders for what is still owed continue.
	e.scanAndSend("2027-01-07T10:00:00+08:00")
	if sms := e.smsTo(alicePhone); len(sms) != 2 || !strings.Contains(sms[1], "installment 2/3") {
		t.Fatalf("alice's reminders after the service closed: %q", sms)
	}
}

func TestEventsVerificationChangedHasNoLink(t *testing.T) {
	t.Parallel()
	forEachStore(t, testEventsVerificationChangedHasNoLink)
}

func testEventsVerificationChangedHasNoLink(t *testing.T, store string) {
	e := startE2EOn(t, store)
	e.seedBorrowers()
	// 21:30 in Shanghai: after the 20:00 window, inside the 22:00 security window.
	e.event("2026-12-05T21:30:00+08:00", `{"ref":"verif-li","kind":"verification_changed","scope":"customer","customer_ref":"li",
		"occurred_at":"2026-12-05T21:30:00+08:00","payload":{"setting":"face_verification"}}`, http.StatusCreated)
	e.event("2026-12-05T21:30:00+08:00", `{"ref":"bind-alice","kind":"card_bound","scope":"customer","customer_ref":"alice",
		"occurred_at":"2026-12-05T21:30:00+08:00","payload":{"card_last4":"8888"}}`, http.StatusCreated)
	e.scanAndSend("2026-12-05T21:30:00+08:00")
	sms := wantOne(t, "SMS to li", e.smsTo(liPhone), "【优品手机】安全提醒：您的账户安全验证设置刚刚发生变更。如非本人操作，请立即致电客服")
	m := e.mailTo("li@example.net")
	if len(m) != 1 || !strings.Contains(m[0].text, "本通知不含任何链接") {
		t.Fatalf("mail to li: %+v", m)
	}
	for _, part := range []string{sms, m[0].subject, m[0].text, m[0].html} {
		if strings.Contains(part, "://") || strings.Contains(part, "www.") {
			t.Errorf("security notice carries a link: %q", part)
		}
	}
	if got := e.smsTo(alicePhone); len(got) != 0 {
		t.Errorf("card_bound went out at 21:30: %q", got)
	}
	e.run("dispatch", "--once", "--at", "2026-12-06T09:00:00+08:00")
	wantOne(t, "SMS to alice", e.smsTo(alicePhone), `优品手机: Bank card ****8888 is now linked.`)
}
