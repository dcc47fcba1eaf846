package twilio

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"duebell/notify"
	"duebell/notify/sms/internal/smstest"
)

func testConfig(endpoint string) Config {
	return Config{
		AccountSID:     "AC0123456789abcdef0123456789abcdef",
		AuthToken:      "auth-token",
		From:           "+15005550006",
		StatusCallback: "https://duebell.example.com/api/v1/receipts/twilio",
		Endpoint:       endpoint,
	}
}

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	return smstest.New(t, NewClient, cfg)
}

func testMessage() notify.Message {
	return notify.Message{
		NotificationID: 99,
		To:             "+14155550123",
		Text:           "Your installment of $120.00 is due on Mar 12. Pay: https://pay.example.com/r/abc?x=1&y=2",
		Kind:           "due_soon",
		Locale:         "en",
	}
}

func TestSendHappyPath(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, created("SM0123456789abcdef0123456789abcdef"))
	res, err := newTestClient(t, testConfig(srv.URL)).Send(context.Background(), testMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.ProviderMsgID != "SM0123456789abcdef0123456789abcdef" || res.Code != "queued" {
		t.Fatalf("result = %+v", res)
	}
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("requests = %d, want 1", len(calls))
	}
	want := url.Values{
		"To":             {"+14155550123"},
		"From":           {"+15005550006"},
		"Body":           {testMessage().Text},
		"StatusCallback": {"https://duebell.example.com/api/v1/receipts/twilio"},
	}
	if !reflect.DeepEqual(calls[0].Form, want) {
		t.Errorf("form = %v\nwant   %v", calls[0].Form, want)
	}
	// Twilio does not honour it on requests; sending it would only suggest
	// a protection that is not there.
	if got := calls[0].Header.Get("I-Twilio-Idempotency-Token"); got != "" {
		t.Errorf("I-Twilio-Idempotency-Token = %q, want none", got)
	}
}

// A 201 is a created message even when its body cannot be read: a retry
// would create a second one (Twilio takes no idempotency key). A 200
// without a sid is not Twilio's answer and is retried.
func TestSendCreatedWithoutASid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		sent   bool
	}{{http.StatusCreated, true}, {http.StatusOK, false}} {
		fake, srv := newFake(t, func(w http.ResponseWriter, _ url.Values) {
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(`{"sid": "SM01`)) // cut short
		})
		res, err := newTestClient(t, testConfig(srv.URL)).Send(context.Background(), testMessage())
		if tc.sent && (err != nil || res.ProviderMsgID != "" || res.Code != "created_without_sid") {
			t.Errorf("HTTP %d: %+v, %v; want sent without a sid", tc.status, res, err)
		}
		if !tc.sent {
			smstest.WantClass(t, err, notify.ClassTransient, "bad_response")
		}
		if n := len(fake.Calls()); n != 1 {
			t.Errorf("HTTP %d: %d requests", tc.status, n)
		}
	}
}

func TestSendMessagingServiceWithoutCallback(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, created("SM2"))
	cfg := testConfig(srv.URL + "/")
	cfg.From, cfg.StatusCallback, cfg.MessagingServiceSID = "", "", "MG0123456789abcdef0123456789abcdef"
	if _, err := newTestClient(t, cfg).Send(context.Background(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	form := fake.Calls()[0].Form
	if form.Get("MessagingServiceSid") != cfg.MessagingServiceSID || form.Has("From") || form.Has("StatusCallback") {
		t.Errorf("form = %v", form)
	}
}

func TestSendProviderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		status   int
		code     int
		wantCode string
		class    notify.Class
	}{
		{"invalid number", 400, 21211, "21211", notify.ClassPermanent},
		{"unsubscribed", 400, 21610, "21610", notify.ClassUnsubscribed},
		{"not mobile", 400, 21614, "21614", notify.ClassPermanent},
		{"from number's queue full", 400, 21611, "21611", notify.ClassTransient},
		{"account not active", 401, 20005, "20005", notify.ClassAccount},
		{"too many requests", 429, 20429, "20429", notify.ClassTransient},
		{"server error", 503, 20500, "20500", notify.ClassTransient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, srv := newFake(t, func(w http.ResponseWriter, form url.Values) {
				writeError(w, tc.status, tc.code, "The 'To' number "+form.Get("To")+" is not a valid phone number.")
			})
			_, err := newTestClient(t, testConfig(srv.URL)).Send(context.Background(), testMessage())
			smstest.WantClass(t, err, tc.class, tc.wantCode)
			smstest.WantNoNumber(t, err, "4155550123")
			smstest.WantOutage(t, err, tc.status >= 500)
		})
	}
}

func TestSendWrongTokenIsRejected(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, created("never"))
	cfg := testConfig(srv.URL)
	cfg.AuthToken = "wrong"
	_, err := newTestClient(t, cfg).Send(context.Background(), testMessage())
	// The fake answers a wrong token as Twilio does (401, code 20003): every
	// message of the account would fail alike.
	smstest.WantClass(t, err, notify.ClassAccount, "20003")
	fake.WantNone(t)
}

func TestSendHTTPFailures(t *testing.T) {
	t.Parallel()
	smstest.TestHTTPFailures(t, func(t *testing.T, reply func(http.ResponseWriter), timeout time.Duration) notify.Sender {
		_, srv := newFake(t, func(w http.ResponseWriter, _ url.Values) { reply(w) })
		cfg := testConfig(srv.URL)
		cfg.Timeout = timeout
		return newTestClient(t, cfg)
	}, testMessage(), "4155550123")
}

func TestSendRejectsBeforeCalling(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, code string
		edit       func(*notify.Message)
	}{
		{"bad number", "invalid_number", func(m *notify.Message) { m.To = "4155550123" }},
		{"empty body", "empty_body", func(m *notify.Message) { m.Text = "  " }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, srv := newFake(t, created("never"))
			msg := testMessage()
			tc.edit(&msg)
			_, err := newTestClient(t, testConfig(srv.URL)).Send(context.Background(), msg)
			smstest.WantError(t, err, smstest.Permanent, tc.code)
			fake.WantNone(t)
		})
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	bad := []Config{
		{},
		{AccountSID: "AC1", AuthToken: "t"},
		{AccountSID: "AC1/../x", AuthToken: "t", From: "+15005550006"},
		{AccountSID: "AC1", AuthToken: "t", From: "+15005550006", StatusCallback: "/relative"},
		{AccountSID: "AC1", AuthToken: "t", From: "+15005550006", Endpoint: "api.twilio.com"},
	}
	for i, cfg := range bad {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	c, err := NewClient(Config{AccountSID: "AC1", AuthToken: "t", From: "+15005550006"})
	if err != nil {
		t.Fatal(err)
	}
	if c.messages != "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json" || c.cfg.Timeout != DefaultTimeout || c.Provider() != "twilio" {
		t.Errorf("defaults: %s %s", c.messages, c.cfg.Timeout)
	}
}
