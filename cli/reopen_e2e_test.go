package cli

import (
	"net/http"
	"testing"
)

// A chargeback that reopens a bill whose reminder was suppressed as paid
// brings the reminder of the stage that is due back: the next scan queues
// it and it goes out, once.
func TestEndToEndReversalBringsTheStageBack(t *testing.T) {
	forEachStore(t, testEndToEndReversalBringsTheStageBack)
}

func testEndToEndReversalBringsTheStageBack(t *testing.T, store string) {
	e := startE2E(t, store, "\n[policy]\npayment_received = []\n", true)
	e.call("PUT", "/api/v1/customers/zhao", `{"name":"赵六","phone":"13812345678","locale":"zh-CN"}`, http.StatusCreated)
	e.putBill("zhao-1", "zhao", "2026-12-10", http.StatusCreated)
	e.run("scan", "--at", "2026-12-10T08:30:00+08:00")
	e.clock.Set("2026-12-10T08:40:00+08:00")
	e.call("POST", "/api/v1/plans/zhao-1/installments/1/payments", `{"amount":100000,"paid_at":"2026-12-10T08:40:00+08:00","ref":"pay-1"}`, http.StatusCreated)
	e.run("dispatch", "--once", "--at", "2026-12-10T09:00:00+08:00")
	if got := e.statuses("due_today", "sms"); len(got) != 1 || got[0] != "suppressed" {
		t.Fatalf("due_today after the payment: %v, want one suppressed", got)
	}

	e.clock.Set("2026-12-10T11:00:00+08:00")
	res := e.call("POST", "/api/v1/plans/zhao-1/installments/1/payments", `{"amount":-100000,"reason":"chargeback","ref":"rv-1"}`, http.StatusCreated)
	if res["reopened"] != true {
		t.Fatalf("reversal: %v, want the bill reopened", res)
	}
	e.run("scan", "--at", "2026-12-10T11:00:00+08:00")
	e.scanAndSend("2026-12-10T11:05:00+08:00") // a re-scan adds nothing
	if got := e.statuses("due_today", "sms"); len(got) != 2 || got[0] != "suppressed" || got[1] != "sent" {
		t.Fatalf("due_today after the reversal: %v, want the suppressed one and one sent", got)
	}
	if n := len(e.sms.messages()); n != 1 {
		t.Fatalf("%d SMS sent, want the one due_today reminder", n)
	}
}
