package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const wakeOperatorToken = "wake-operator-token-0123456789"

// What a request queues goes out at once: serve's dispatcher, idle until
// its next poll a day away (the e2e config), is woken by the confirmation a
// payment queued and by a support resend, and sends each without anyone
// running dispatch.
func TestServeSendsWhatARequestQueuedAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		e := startE2E(t, store, fmt.Sprintf(`
[[admin.tokens]]
name = "support"
token = %q
role = "operator"`, wakeOperatorToken), false)
		e.call("PUT", "/api/v1/customers/li", `{"name":"李雷","phone":"13812345678","locale":"zh-CN"}`, http.StatusCreated)
		e.putPlan("li-1", "li", "manual", "", 0, http.StatusCreated)

		e.clock.Set("2026-12-09T15:00:05+08:00")
		e.call("POST", "/api/v1/plans/li-1/installments/1/payments",
			`{"amount":100000,"paid_at":"2026-12-09T15:00:00+08:00","ref":"pay-1"}`, http.StatusCreated)
		sms := waitForSMS(t, e, 1)
		if !strings.Contains(sms[0], "¥1,000.00") {
			t.Fatalf("the confirmation: %q", sms[0])
		}

		var id int64
		for _, n := range e.notices() {
			if n.Kind == "payment_received" {
				id = n.ID
			}
		}
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/notifications/%d/resend", e.base, id),
			strings.NewReader(`{"reason":"borrower deleted the SMS"}`))
		req.Header.Set("Authorization", "Bearer "+wakeOperatorToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("resend: %d %s", res.StatusCode, body)
		}
		if sms := waitForSMS(t, e, 2); sms[1] != sms[0] {
			t.Errorf("the resend: %q, want the confirmation again %q", sms[1], sms[0])
		}
	})
}

// waitForSMS waits until n notices are sent and the gateway holds n SMS to
// Li, at most 10 s (the daemon's own poll is a day away), and returns them.
func waitForSMS(t *testing.T, e *e2e, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sent := 0
		for _, x := range e.notices() {
			if x.Status == "sent" {
				sent++
			}
		}
		got := e.smsTo("+8613812345678")
		if sent == n && len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notices sent, SMS to Li: %q; want %d without a dispatch run", sent, got, n)
		}
	}
}
