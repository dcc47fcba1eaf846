package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"duebell/repo"
)

// An open provider circuit shows on every page until it closes.
func TestOpenCircuitBanner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)
	w.login(viewerToken)
	if _, body, _ := w.get("/console/notifications"); strings.Contains(body, `class="error circuit"`) {
		t.Fatalf("banner without an open circuit:\n%s", body)
	}
	if err := b.r.OpenCircuit(context.Background(), repo.Circuit{Provider: "aliyun", Channel: "sms", OpenedAt: t0,
		ProbeAt: t0.Add(10 * time.Minute), Code: "isv.AMOUNT_NOT_ENOUGH", Error: "账户余额不足", UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	_, body, _ := w.get("/console/audit")
	for _, want := range []string{`id="circuit-aliyun">Provider aliyun (sms) refused our account isv.AMOUNT_NOT_ENOUGH at 2026-11-10 10:00:00`,
		"Next probe 2026-11-10 10:10:00."} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	// A relay that could not be reached says so, not that it refused the account.
	if err := b.r.OpenCircuit(context.Background(), repo.Circuit{Provider: "smtp", Channel: "email", OpenedAt: t0,
		ProbeAt: t0.Add(30 * time.Second), Code: repo.CircuitUnreachable, Error: "dial tcp: connection refused", UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := w.get("/console/audit"); !strings.Contains(body, `id="circuit-smtp">Provider smtp (email) could not be reached since 2026-11-10 10:00:00`) {
		t.Errorf("page lacks the unreachable relay's banner:\n%s", body)
	}
	if err := b.r.CloseCircuit(context.Background(), "aliyun", t0.Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := w.get("/console/notifications"); strings.Contains(body, "circuit-aliyun") {
		t.Errorf("banner after the circuit closed")
	}
}

// A customer's SMS opt-out set because the provider reported the number
// unsubscribed, and an email opt-out set because the mail server said the
// address has no mailbox, show their reasons on the customer page.
func TestCustomerPageShowsWhyDuebellOptedOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.r.GetCustomer(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.OptOut(context.Background(), repo.OptOutInput{Channel: "sms", CustomerID: c.ID, NotificationID: b.orig,
		Provider: "twilio", Code: "21610", Reason: "unsubscribed at twilio (21610)", Now: t0}); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.r.OptOut(context.Background(), repo.OptOutInput{Channel: "email", CustomerID: c.ID, NotificationID: b.orig,
		Address: c.Email, Provider: "smtp", Code: "550", Reason: "no mailbox at this address (smtp 550)", Now: t0}); err != nil || !ok {
		t.Fatalf("email opt-out: %v, %v", ok, err)
	}
	w := b.browser(t)
	w.login(viewerToken)
	_, body, _ := w.get("/console/customers/c1")
	if !strings.Contains(body, `id="c-sms-opt-reason">unsubscribed at twilio (21610)</span>`) {
		t.Errorf("customer page lacks the opt-out reason:\n%s", body)
	}
	if !strings.Contains(body, `id="c-email-opt-reason">no mailbox at this address (smtp 550)</span>`) {
		t.Errorf("customer page lacks the email opt-out reason:\n%s", body)
	}
}
