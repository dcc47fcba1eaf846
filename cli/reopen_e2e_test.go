package cli

import (
	"net/http"
	"slices"
	"strings"
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
	// Support resending the day's suppressed reminders does not send the
	// stage a third time: it went out again.
	out := e.run("resend", "--status", "suppressed", "--kind", "due_today", "--since", "2026-12-10T00:00:00+08:00",
		"--until", "2026-12-11T00:00:00+08:00", "--channel", "sms", "--reason", "check", "--dry-run")
	if !strings.Contains(out, "would queue 0 resends of 1 matching notices; skipped 1 already resent") {
		t.Errorf("bulk resend of the suppressed reminder:\n%s", out)
	}
}

// The same for a bill of a digest (digests are on by default): paid before
// the digest went, whether its notice led the digest or was one of the
// others, its reminder does not go out, and a reversal brings it back.
func TestEndToEndReversalBringsADigestsBillBack(t *testing.T) {
	forEachStore(t, testEndToEndReversalBringsADigestsBillBack)
}

func testEndToEndReversalBringsADigestsBillBack(t *testing.T, store string) {
	e := startE2E(t, store, "\n[policy]\npayment_received = []\n", true)
	for _, paid := range []string{"a", "b"} { // the leader's bill, then the other's
		customer := "zhou-" + paid
		e.call("PUT", "/api/v1/customers/"+customer, `{"name":"周九","phone":"13812345678","locale":"zh-CN"}`, http.StatusCreated)
		e.putBill(customer+"-a", customer, "2028-06-10", http.StatusCreated)
		e.putBill(customer+"-b", customer, "2028-06-10", http.StatusCreated)
		e.run("scan", "--at", "2028-06-07T09:30:00+08:00")
		e.clock.Set("2028-06-07T09:40:00+08:00")
		e.call("POST", "/api/v1/plans/"+customer+"-"+paid+"/installments/1/payments", `{"amount":100000,"ref":"pay"}`, http.StatusCreated)
		e.scanAndSend("2028-06-07T10:00:00+08:00")
		e.clock.Set("2028-06-07T11:00:00+08:00")
		if res := e.call("POST", "/api/v1/plans/"+customer+"-"+paid+"/installments/1/payments",
			`{"amount":-100000,"reason":"chargeback","ref":"rv"}`, http.StatusCreated); res["reopened"] != true {
			t.Fatalf("reversal: %v", res)
		}
		e.scanAndSend("2028-06-07T11:00:00+08:00")
		e.scanAndSend("2028-06-07T11:05:00+08:00")
		var sent []string
		for _, n := range e.notices() {
			if n.Customer == customer && n.Channel == "sms" && n.Status == "sent" {
				sent = append(sent, n.Plan)
			}
		}
		if want := []string{customer + "-a", customer + "-b"}; len(sent) != 2 || !slices.Contains(sent, want[0]) || !slices.Contains(sent, want[1]) {
			t.Errorf("bill %s paid before the digest and reversed: SMS sent for %v, want one for each bill", paid, sent)
		}
	}
}

// A bulk resend of the day's skipped notices does not resend the bills a
// digest that went out told of: each would get its reminder twice.
func TestEndToEndBulkResendSkipsBillsTheirDigestTold(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		e := startE2E(t, store, "", true)
		e.call("PUT", "/api/v1/customers/zheng", `{"name":"郑一","phone":"13812345678","locale":"zh-CN"}`, http.StatusCreated)
		e.putBill("zheng-a", "zheng", "2026-12-10", http.StatusCreated)
		e.putBill("zheng-b", "zheng", "2026-12-10", http.StatusCreated)
		e.scanAndSend("2026-12-07T10:00:00+08:00")
		if got := e.statuses("due_soon", "sms"); len(got) != 2 || got[0] != "sent" || got[1] != "skipped" {
			t.Fatalf("due_soon SMS %v, want the digest sent and the other bill in it", got)
		}
		out := e.run("resend", "--status", "skipped", "--since", "2026-12-07T00:00:00+08:00",
			"--until", "2026-12-08T00:00:00+08:00", "--reason", "check", "--dry-run")
		if !strings.Contains(out, "would queue 0 resends of 1 matching notices; skipped 1 already resent") {
			t.Errorf("bulk resend of the skipped notices:\n%s", out)
		}
	})
}

// A bill reopened the day its reminder was suppressed as paid, whose stage
// then went inside a digest: a bulk resend of the day's suppressed
// reminders does not offer it again.
func TestEndToEndBulkResendSkipsAStageThatCameBackInADigest(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		e := startE2E(t, store, "\n[policy]\npayment_received = []\n", true)
		e.call("PUT", "/api/v1/customers/wang2", `{"name":"王二","phone":"13812345678","locale":"zh-CN"}`, http.StatusCreated)
		e.putBill("wang2-x", "wang2", "2026-12-10", http.StatusCreated)
		e.run("scan", "--at", "2026-12-10T08:00:00+08:00")
		e.clock.Set("2026-12-10T08:30:00+08:00")
		e.call("POST", "/api/v1/plans/wang2-x/installments/1/payments", `{"amount":100000,"ref":"pay"}`, http.StatusCreated)
		e.run("dispatch", "--once", "--at", "2026-12-10T09:00:00+08:00")
		e.putBill("wang2-y", "wang2", "2026-12-10", http.StatusCreated)
		e.run("scan", "--at", "2026-12-10T09:45:00+08:00")
		e.clock.Set("2026-12-10T09:50:00+08:00")
		e.call("POST", "/api/v1/plans/wang2-x/installments/1/payments", `{"amount":-100000,"reason":"chargeback","ref":"rv"}`, http.StatusCreated)
		e.scanAndSend("2026-12-10T10:00:00+08:00")
		if got := e.statuses("due_today", "sms"); len(got) != 3 || got[0] != "suppressed" || !slices.Contains(got, "sent") {
			t.Fatalf("due_today SMS %v, want the suppressed one and a digest of both bills sent", got)
		}
		out := e.run("resend", "--status", "suppressed", "--kind", "due_today", "--since", "2026-12-10T00:00:00+08:00",
			"--until", "2026-12-11T00:00:00+08:00", "--channel", "sms", "--reason", "check", "--dry-run")
		if !strings.Contains(out, "would queue 0 resends of 1 matching notices; skipped 1 already resent") {
			t.Errorf("bulk resend of the suppressed reminder:\n%s", out)
		}
	})
}
