package notify_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"duebell/notify"
	"duebell/notify/sms/webhook"
	"duebell/repo"
)

// A gateway that takes an SMS and does not answer before the client's
// timeout may have sent it: the try is logged with the outcome unknown
// (support staff see that a duplicate may have gone out, and the contact
// limits count it), the notice is retried after its backoff as after any
// transient failure, and the log says so without the number.
func TestUnansweredSendIsLoggedUnknownAndRetried(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	release := make(chan struct{})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			<-release // the first request: taken, not answered before the client gives up
			return
		}
		fmt.Fprint(w, `{"id":"gw-2"}`)
	}))
	t.Cleanup(func() {
		close(release)
		gw.Close()
	})
	sms, err := webhook.NewClient(webhook.Config{URL: gw.URL, Secret: "s", Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuf{}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sms
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	b.seedDueSoon(t, func(c *repo.Customer) { c.Email = "" })
	at := sh(11, 21, 10, 0)
	if c := b.dispatch(t, at); c["pending"] != 1 {
		t.Fatalf("counts %v, want the SMS pending for a retry", c)
	}
	n := b.notice(t, "sms")
	if n.Status != "pending" || !n.NextAttemptAt.Equal(at.Add(time.Minute)) || !strings.Contains(n.StatusReason, "may have taken it") {
		t.Fatalf("after the unanswered try: %s next %v reason %q", n.Status, n.NextAttemptAt, n.StatusReason)
	}
	if as := b.attempts(t, n.ID); len(as) != 1 || as[0].Outcome != repo.OutcomeUnknown || as[0].Code != "timeout" {
		t.Fatalf("attempts %+v, want one with the outcome unknown", as)
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"WARN","msg":"send unanswered, outcome unknown"`) || strings.Contains(out, "12345678") {
		t.Errorf("log:\n%s", out)
	}
	if c := b.dispatch(t, at.Add(time.Minute)); c["sent"] != 1 {
		t.Fatalf("the retry: %v", c)
	}
	as := b.attempts(t, n.ID)
	if len(as) != 2 || as[0].Outcome != repo.OutcomeUnknown || as[1].Outcome != repo.OutcomeSent || requests.Load() != 2 {
		t.Fatalf("attempts %+v after %d requests, want unknown then sent", as, requests.Load())
	}
}
