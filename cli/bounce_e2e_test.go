package cli

import (
	"net/http"
	"strings"
	"testing"
)

// A mail server that says a borrower's address has no mailbox (550 5.1.1)
// fails that email for good and opts the address out: the next stage's
// email is not tried against it (the SMS still goes), a push of the same
// address does not clear it, and a push of a new address ends it, so the
// stage after that is mailed there.
func TestEndToEndNoMailboxOptsTheAddressOut(t *testing.T) {
	forEachStore(t, testEndToEndNoMailboxOptsTheAddressOut)
}

func testEndToEndNoMailboxOptsTheAddressOut(t *testing.T, store string) {
	e := startE2EOn(t, store)
	e.call("PUT", "/api/v1/customers/wang", `{"name":"王五","phone":"13812345678","email":"gone@example.net","locale":"zh-CN"}`, http.StatusCreated)
	e.putBill("wang-1", "wang", "2026-12-10", http.StatusCreated)
	e.smtp.RejectRecipient("gone@example.net", 550, "5.1.1 The email account that you tried to reach does not exist")

	status := func(kind, channel string) string { return strings.Join(e.statuses(kind, channel), ",") }
	e.scanAndSend("2026-12-07T10:00:00+08:00")
	if s := status("due_soon", "email"); s != "failed" {
		t.Fatalf("due_soon email to an address without a mailbox: %s, want failed", s)
	}
	c := e.call("GET", "/api/v1/customers/wang", "", http.StatusOK)
	if c["email_opt_out"] != true || !strings.HasPrefix(c["email_opt_out_reason"].(string), "no mailbox at this address (smtp 550)") {
		t.Fatalf("customer after the bounce: %v", c)
	}

	// The lender's nightly push says the same address, opted in.
	e.call("PUT", "/api/v1/customers/wang", `{"name":"王五","phone":"13812345678","email":"gone@example.net","locale":"zh-CN","email_opt_out":false}`, http.StatusOK)
	e.scanAndSend("2026-12-10T10:00:00+08:00")
	if s, sms := status("due_today", "email"), status("due_today", "sms"); s != "suppressed" || sms != "sent" {
		t.Fatalf("due_today: email %s, sms %s; want the email suppressed and the SMS sent", s, sms)
	}
	if n := len(e.smtp.Messages()); n != 0 {
		t.Fatalf("the relay took %d messages, want none", n)
	}

	// The borrower gives a new address.
	e.call("PUT", "/api/v1/customers/wang", `{"name":"王五","phone":"13812345678","email":"wang@example.net","locale":"zh-CN"}`, http.StatusOK)
	if c := e.call("GET", "/api/v1/customers/wang", "", http.StatusOK); c["email_opt_out"] != false || c["email_opt_out_reason"] != nil {
		t.Fatalf("customer with a new address: %v", c)
	}
	// Overdue: one collection notice a day, so the SMS and the email go
	// on two days, in either order.
	e.scanAndSend("2026-12-11T10:00:00+08:00")
	e.run("dispatch", "--once", "--at", "2026-12-12T10:00:00+08:00")
	if mails := e.smtp.Messages(); len(mails) != 1 || mails[0].To[0] != "wang@example.net" || status("overdue", "email") != "sent" {
		t.Fatalf("overdue email: %d messages, notice %s; want one to the new address", len(mails), status("overdue", "email"))
	}
}
