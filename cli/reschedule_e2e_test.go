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
	sent := func(plan string) string {
		var kinds []string
		for _, n := range e.notices() {
			if n.Channel == "sms" && n.Status == "sent" && n.Plan == plan {
				kinds = append(kinds, n.Kind)
			}
		}
		return strings.Join(kinds, " ")
	}

	// Moved earlier, the same day its due_soon went out.
	e.putBill("early", "sun", "2027-08-20", http.StatusCreated)
	e.scanAndSend("2027-08-17T10:00:00+08:00")
	e.putBill("early", "sun", "2027-08-18", http.StatusOK)
	e.scanAndSend("2027-08-17T13:00:00+08:00")
	e.scanAndSend("2027-08-18T10:00:00+08:00")
	if got := sent("early"); got != "due_soon due_today" {
		t.Errorf("moved earlier: sent %q, want due_soon and due_today once", got)
	}

	// Overdue a week, then moved a day later.
	e.putBill("late", "sun", "2027-09-01", http.StatusCreated)
	for _, day := range []string{"2027-08-29", "2027-09-01", "2027-09-02", "2027-09-08"} {
		e.scanAndSend(day + "T10:00:00+08:00")
	}
	e.putBill("late", "sun", "2027-09-02", http.StatusOK)
	e.scanAndSend("2027-09-09T10:00:00+08:00")
	e.scanAndSend("2027-09-10T10:00:00+08:00")
	if got := sent("late"); got != "due_soon due_today overdue overdue" {
		t.Errorf("overdue moved a day later: sent %q, want each stage once", got)
	}

	// Moved a month later and back, before the new date's due_soon.
	e.putBill("back", "sun", "2030-03-10", http.StatusCreated)
	e.scanAndSend("2030-03-07T10:00:00+08:00")
	e.putBill("back", "sun", "2030-04-10", http.StatusOK)
	e.putBill("back", "sun", "2030-03-10", http.StatusOK)
	e.scanAndSend("2030-03-08T10:00:00+08:00")
	e.scanAndSend("2030-03-10T10:00:00+08:00")
	if got := sent("back"); got != "due_soon due_today" {
		t.Errorf("moved away and back: sent %q, want due_soon and due_today once", got)
	}

	// An overdue reminder that went late (no scan for two days, as after
	// downtime), then a move of two days: it is not repeated.
	e.putBill("delayed", "sun", "2031-03-10", http.StatusCreated)
	e.scanAndSend("2031-03-13T10:00:00+08:00")
	e.putBill("delayed", "sun", "2031-03-12", http.StatusOK)
	e.scanAndSend("2031-03-13T11:00:00+08:00")
	e.scanAndSend("2031-03-14T10:00:00+08:00")
	if got := sent("delayed"); got != "overdue" {
		t.Errorf("a late overdue reminder, then a move shorter than its delay: sent %q, want one overdue", got)
	}

	// Moved a day later, the new date's due_soon queued (waiting for the
	// window), then moved back: the due_soon that went for the date it
	// returns to stands, and the one queued meanwhile is not sent.
	e.putBill("undo", "sun", "2033-03-10", http.StatusCreated)
	e.scanAndSend("2033-03-07T10:00:00+08:00")
	e.putBill("undo", "sun", "2033-03-11", http.StatusOK)
	e.run("scan", "--at", "2033-03-08T08:00:00+08:00")
	e.putBill("undo", "sun", "2033-03-10", http.StatusOK)
	e.scanAndSend("2033-03-08T10:00:00+08:00")
	e.scanAndSend("2033-03-10T10:00:00+08:00")
	if got := sent("undo"); got != "due_soon due_today" {
		t.Errorf("moved and back with the new date's reminder queued: sent %q, want due_soon and due_today once", got)
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
	if a, b := sent("wu-a"), sent("wu-b"); a != "due_soon due_today" || b != "due_soon" {
		t.Errorf("a bill moved out of a pending digest: sent %q for the other bill and %q for it, want due_soon and due_today, and one due_soon", a, b)
	}
}
