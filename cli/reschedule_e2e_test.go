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
	plan := func(due string) string {
		return fmt.Sprintf(`{"customer_ref":"qian","merchant":"优品手机","title":"Phone X","total":100000,"periods":1,
			"repay_method":"manual","installments":[{"seq":1,"due_date":%q,"amount":100000}]}`, due)
	}
	e.call("PUT", "/api/v1/plans/qian-1", plan("2026-12-10"), http.StatusCreated)
	day := func(at string) {
		e.run("scan", "--at", at)
		e.run("dispatch", "--once", "--at", at)
	}
	sent := func() (kinds []string) {
		for _, n := range e.notices() {
			if n.Channel == "sms" && n.Status == "sent" {
				kinds = append(kinds, n.Kind)
			}
		}
		return kinds
	}
	day("2026-12-07T10:00:00+08:00")
	day("2026-12-10T10:00:00+08:00")
	if got := fmt.Sprint(sent()); got != "[due_soon due_today]" {
		t.Fatalf("SMS sent for the first date: %s", got)
	}

	// The lender reschedules the bill a month later on the 10th, and pushes
	// the plan again the next morning unchanged.
	e.call("PUT", "/api/v1/plans/qian-1", plan("2027-01-10"), http.StatusOK)
	e.call("PUT", "/api/v1/plans/qian-1", plan("2027-01-10"), http.StatusOK)
	day("2026-12-11T10:00:00+08:00") // no longer overdue: nothing
	day("2027-01-07T10:00:00+08:00")
	day("2027-01-07T10:05:00+08:00") // a re-scan queues nothing twice
	day("2027-01-10T10:00:00+08:00")
	if got := fmt.Sprint(sent()); got != "[due_soon due_today due_soon due_today]" {
		t.Fatalf("SMS sent: %s, want due_soon and due_today for each date", got)
	}
	if n := len(e.sms.messages()); n != 4 {
		t.Fatalf("the gateway took %d SMS, want 4", n)
	}
}
