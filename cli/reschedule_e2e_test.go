package cli

import (
	"fmt"
	"net/http"
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
