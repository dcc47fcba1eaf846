package cli

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A bill rescheduled after its due_soon and due_today went out is reminded
// again before and on its new date, once each; a push that keeps the date
// changes nothing.
func TestEndToEndRescheduledBillIsRemindedOnItsNewDate(t *testing.T) {
	forEachStore(t, testEndToEndRescheduledBillIsRemindedOnItsNewDate)
}

func testEndToEndRescheduledBillIsRemindedOnItsNewDate(t *testing.T, store string) {
	e := startE2E(t, store, "", true)
	e.call("PUT", "/api/v1/customers/qian", `{"name":"钱七","phone":"13812345678","locale":"zh-CN"}`, http.StatusCreated)
	e.putBill("qian-1", "qian", "2026-12-10", http.StatusCreated)
	sent := func() (kinds []string) {
		for _, n := range e.notices() {
			if n.Channel == "sms" && n.Status == "sent" {
				kinds = append(kinds, n.Kind)
			}
		}
		return kinds
	}
	e.scanAndSend("2026-12-07T10:00:00+08:00")
	e.scanAndSend("2026-12-10T10:00:00+08:00")
	if got := fmt.Sprint(sent()); got != "[due_soon due_today]" {
		t.Fatalf("SMS sent for the first date: %s", got)
	}

	// The lender reschedules the bill a month later on the 10th, and pushes
	// the plan again the next morning unchanged.
	e.putBill("qian-1", "qian", "2027-01-10", http.StatusOK)
	e.putBill("qian-1", "qian", "2027-01-10", http.StatusOK)
	e.scanAndSend("2026-12-11T10:00:00+08:00") // no longer overdue: nothing
	e.scanAndSend("2027-01-07T10:00:00+08:00")
	e.scanAndSend("2027-01-07T10:05:00+08:00") // a re-scan queues nothing twice
	e.scanAndSend("2027-01-10T10:00:00+08:00")
	if got := fmt.Sprint(sent()); got != "[due_soon due_today due_soon due_today]" {
		t.Fatalf("SMS sent: %s, want due_soon and due_today for each date", got)
	}
	if n := len(e.sms.messages()); n != 4 {
		t.Fatalf("the gateway took %d SMS, want 4", n)
	}
}

// Corrections of a due date that leave the borrower where they were send
// nothing twice: a date moved earlier (the due_soon already sent is not
// repeated three hours later), an overdue bill moved a day later (its
// overdue_7, the firm notice, is not repeated the next day), and a move
// undone before the new date came (the due_soon stays sent).
func TestEndToEndDueDateCorrectionsSendNothingTwice(t *testing.T) {
	forEachStore(t, testEndToEndDueDateCorrectionsSendNothingTwice)
}

func testEndToEndDueDateCorrectionsSendNothingTwice(t *testing.T, store string) {
	e := startE2E(t, store, "", true)
	e.call("PUT", "/api/v1/customers/sun", `{"name":"孙八","phone":"13812345678","locale":"zh-CN"}`, http.StatusCreated)

	// Each case is one bill of customer sun, driven by steps: "put DATE"
	// pushes its plan due on DATE, "send T" scans and dispatches at T (on
	// the local clock), "scan T" only scans.
	for _, tc := range []struct {
		name, bill string
		steps      []string
		want       string // the stages sent by SMS, in order
	}{
		{"moved earlier, the same day its due_soon went out", "early",
			[]string{"put 2027-08-20", "send 2027-08-17T10:00", "put 2027-08-18", "send 2027-08-17T13:00", "send 2027-08-18T10:00"},
			"due_soon due_today"},
		{"overdue a week, then moved a day later", "late",
			[]string{"put 2027-09-01", "send 2027-08-29T10:00", "send 2027-09-01T10:00", "send 2027-09-02T10:00",
				"send 2027-09-08T10:00", "put 2027-09-02", "send 2027-09-09T10:00", "send 2027-09-10T10:00"},
			"due_soon due_today overdue overdue"},
		{"moved a month later and back, before the new date's due_soon", "back",
			[]string{"put 2030-03-10", "send 2030-03-07T10:00", "put 2030-04-10", "put 2030-03-10", "send 2030-03-08T10:00",
				"send 2030-03-10T10:00"},
			"due_soon due_today"},
		{"an overdue reminder that went late (no scan for two days), then a move of two days", "delayed",
			[]string{"put 2031-03-10", "send 2031-03-13T10:00", "put 2031-03-12", "send 2031-03-13T11:00", "send 2031-03-14T10:00"},
			"overdue"},
		{"moved a day later, the new date's due_soon queued for the window, then moved back", "undo",
			[]string{"put 2033-03-10", "send 2033-03-07T10:00", "put 2033-03-11", "scan 2033-03-08T08:00", "put 2033-03-10",
				"send 2033-03-08T10:00", "send 2033-03-10T10:00"},
			"due_soon due_today"},
	} {
		created := http.StatusCreated
		for _, step := range tc.steps {
			verb, arg, _ := strings.Cut(step, " ")
			switch verb {
			case "put":
				e.putBill(tc.bill, "sun", arg, created)
				created = http.StatusOK
			case "send":
				e.scanAndSend(arg + ":00+08:00")
			case "scan":
				e.run("scan", "--at", arg+":00+08:00")
			}
		}
		if got := e.smsSent(tc.bill); got != tc.want {
			t.Errorf("%s: sent %q, want %q", tc.name, got, tc.want)
		}
	}

	// A bill moved out of a digest that has not gone yet: it goes on its
	// own, once, on its stage's day of the new date.
	e.call("PUT", "/api/v1/customers/wu", `{"name":"吴十","phone":"13812345679","locale":"zh-CN"}`, http.StatusCreated)
	e.putBill("wu-a", "wu", "2032-06-20", http.StatusCreated)
	e.putBill("wu-b", "wu", "2032-06-20", http.StatusCreated)
	e.run("scan", "--at", "2032-06-17T08:00:00+08:00") // the digest waits for the window
	e.putBill("wu-b", "wu", "2032-06-23", http.StatusOK)
	e.scanAndSend("2032-06-17T10:00:00+08:00")
	e.scanAndSend("2032-06-20T10:00:00+08:00")
	if a, b := e.smsSent("wu-a"), e.smsSent("wu-b"); a != "due_soon due_today" || b != "due_soon" {
		t.Errorf("a bill moved out of a pending digest: sent %q for the other bill and %q for it, want due_soon and due_today, and one due_soon", a, b)
	}

	// A bill told of in a digest that went, moved a day later, its new
	// due_soon queued, then moved back: nothing more goes.
	e.call("PUT", "/api/v1/customers/zhu", `{"name":"朱二","phone":"13812345670","locale":"zh-CN"}`, http.StatusCreated)
	e.putBill("zhu-a", "zhu", "2034-03-10", http.StatusCreated)
	e.putBill("zhu-b", "zhu", "2034-03-10", http.StatusCreated)
	e.scanAndSend("2034-03-07T10:00:00+08:00")
	e.putBill("zhu-b", "zhu", "2034-03-11", http.StatusOK)
	e.run("scan", "--at", "2034-03-08T08:00:00+08:00")
	e.putBill("zhu-b", "zhu", "2034-03-10", http.StatusOK)
	e.scanAndSend("2034-03-08T10:00:00+08:00")
	if a, b := e.smsSent("zhu-a"), e.smsSent("zhu-b"); a != "due_soon" || b != "" {
		t.Errorf("a digest's bill moved and back: sent %q for the digest and %q on its own, want the digest's due_soon only", a, b)
	}

	// Both bills of a digest that went moved a day later, the new date's
	// digest queued for the window, then both moved back: the new digest
	// tells of bills whose due_soon went for that date, and does not go.
	e.call("PUT", "/api/v1/customers/qin", `{"name":"秦三","phone":"13812345673","locale":"zh-CN"}`, http.StatusCreated)
	e.putBill("qin-a", "qin", "2037-03-10", http.StatusCreated)
	e.putBill("qin-b", "qin", "2037-03-10", http.StatusCreated)
	e.scanAndSend("2037-03-07T10:00:00+08:00")
	e.putBill("qin-a", "qin", "2037-03-11", http.StatusOK)
	e.putBill("qin-b", "qin", "2037-03-11", http.StatusOK)
	e.run("scan", "--at", "2037-03-08T08:00:00+08:00")
	e.putBill("qin-a", "qin", "2037-03-10", http.StatusOK)
	e.putBill("qin-b", "qin", "2037-03-10", http.StatusOK)
	e.scanAndSend("2037-03-08T10:00:00+08:00")
	e.scanAndSend("2037-03-10T10:00:00+08:00")
	if got := len(e.smsTo("+8613812345673")); got != 2 {
		t.Errorf("a digest's bills moved and back while the new date's digest waited: %d SMS, want 2 (due_soon and due_today)", got)
	}

	// A bill moved a week later after its due_today went, then due on the
	// day of another bill of the customer: the new date's due_soon digest
	// tells of both. The moved bill's old due_today (for the old date) does
	// not count as a later stage reached: it went for another date.
	e.call("PUT", "/api/v1/customers/he", `{"name":"何四","phone":"13812345674","locale":"zh-CN"}`, http.StatusCreated)
	e.putBill("he-x", "he", "2038-09-10", http.StatusCreated)
	e.putBill("he-y", "he", "2038-09-17", http.StatusCreated)
	e.scanAndSend("2038-09-07T10:00:00+08:00")
	e.scanAndSend("2038-09-10T10:00:00+08:00")
	e.putBill("he-x", "he", "2038-09-17", http.StatusOK)
	e.scanAndSend("2038-09-14T10:00:00+08:00")
	sms := e.smsTo("+8613812345674")
	if last := sms[len(sms)-1]; len(sms) != 3 || !strings.HasPrefix(last, "【优品手机】您有2笔分期") {
		t.Errorf("the new date's due_soon: %d SMS, the last %q; want the third to tell of both bills", len(sms), last)
	}
}

// A push that moves a bill later while its due_soon is in the gateway's
// hands: when it went, the new date's due_soon still comes (the key the
// old date's took is given up as for a reminder already finished); when
// the gateway turned it away for now, it is not tried again for the old
// date, and the new date's stages come once each.
func TestEndToEndBillMovedWhileItsReminderIsBeingSent(t *testing.T) {
	forEachStore(t, testEndToEndBillMovedWhileItsReminderIsBeingSent)
}

func testEndToEndBillMovedWhileItsReminderIsBeingSent(t *testing.T, store string) {
	e := startE2E(t, store, "", true)
	// moveWhileSending gives customer (phone) a bill of the same ref due
	// on due, and has a push that moves it to moved land while the gateway
	// holds the customer's next SMS, which it then answers with fail 503s
	// first.
	moveWhileSending := func(customer, phone, due, moved string, fail int) {
		e.call("PUT", "/api/v1/customers/"+customer, `{"name":"郑九","phone":"`+phone+`","locale":"zh-CN"}`, http.StatusCreated)
		e.putBill(customer, customer, due, http.StatusCreated)
		e.sms.mu.Lock()
		defer e.sms.mu.Unlock()
		e.sms.onSend = func(to string) {
			if to != "+86"+phone {
				return
			}
			e.sms.mu.Lock()
			e.sms.onSend = nil
			e.sms.failNext[to] = fail
			e.sms.mu.Unlock()
			e.putBill(customer, customer, moved, http.StatusOK)
		}
	}

	moveWhileSending("zheng", "13812345671", "2035-03-10", "2035-04-10", 0)
	e.scanAndSend("2035-03-07T10:00:00+08:00")
	e.scanAndSend("2035-04-07T10:00:00+08:00")
	e.scanAndSend("2035-04-10T10:00:00+08:00")
	if got := e.smsSent("zheng"); got != "due_soon due_soon due_today" {
		t.Errorf("a bill moved while its due_soon went: sent %q, want due_soon for each date and due_today", got)
	}

	moveWhileSending("feng", "13812345672", "2036-05-10", "2036-06-10", 1)
	e.scanAndSend("2036-05-07T10:00:00+08:00")
	e.scanAndSend("2036-05-07T11:00:00+08:00") // the retry is due
	e.scanAndSend("2036-06-07T10:00:00+08:00")
	e.scanAndSend("2036-06-10T10:00:00+08:00")
	if got, st := e.smsSent("feng"), e.statuses("due_soon", "sms"); got != "due_soon due_today" {
		t.Errorf("a bill moved while its due_soon was turned away: sent %q (due_soon SMS %v), want one due_soon and due_today", got, st)
	}
}

// smsSent lists the kinds of plan's SMS notices that went, oldest first.
func (e *e2e) smsSent(plan string) string {
	var kinds []string
	for _, n := range e.notices() {
		if n.Channel == "sms" && n.Status == "sent" && n.Plan == plan {
			kinds = append(kinds, n.Kind)
		}
	}
	return strings.Join(kinds, " ")
}
