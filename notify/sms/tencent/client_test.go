package tencent

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"duebell/notify"
	"duebell/notify/sms/internal/smstest"
)

// 2019-02-26 00:44:25 +08:00: the UTC date (2019-02-25) differs from Beijing's.
var fixedNow = time.Unix(1551113065, 0)

func testConfig(endpoint string) Config {
	return Config{
		SecretID:  "AKIDexample",
		SecretKey: "example-key",
		SdkAppID:  "1400006666",
		Templates: map[string]Template{
			"due_soon/zh-CN": {ID: "449739", SignName: "分期宝", Vars: []string{"name", "amount", "date"}},
			"closed/zh-CN":   {ID: "449740", SignName: "分期宝"},
		},
		Endpoint: endpoint,
		Now:      func() time.Time { return fixedNow },
	}
}

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	return smstest.New(t, NewClient, cfg)
}

func testMessage() notify.Message {
	return notify.Message{
		NotificationID: 7,
		To:             "+8613812345678",
		Kind:           "due_soon",
		Locale:         "zh-CN",
		Vars:           map[string]string{"date": "3月12日", "amount": "1200.00", "name": "张三", "link": "https://x.cn/?a=1&b=2"},
	}
}

func TestSendHappyPath(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, statusReply("Ok", "2433:284795934619231510731234567"))
	res, err := newTestClient(t, testConfig(srv.URL)).Send(context.Background(), testMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.ProviderMsgID != "2433:284795934619231510731234567" || res.Code != "Ok" {
		t.Fatalf("result = %+v", res)
	}
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("requests = %d, want 1", len(calls))
	}
	want := sendSmsRequest{
		PhoneNumberSet:   []string{"+8613812345678"},
		SmsSdkAppId:      "1400006666",
		SignName:         "分期宝",
		TemplateId:       "449739",
		TemplateParamSet: []string{"张三", "1200.00", "3月12日"},
		SessionContext:   "7",
	}
	if !reflect.DeepEqual(calls[0].Body, want) {
		t.Errorf("body = %+v\nwant   %+v", calls[0].Body, want)
	}
	if got := calls[0].Header.Get("X-TC-Timestamp"); got != "1551113065" {
		t.Errorf("X-TC-Timestamp = %q", got)
	}
	if got := calls[0].Header.Get("Authorization"); !strings.Contains(got, "/2019-02-25/sms/tc3_request") {
		t.Errorf("credential scope does not use the UTC date: %s", got)
	}
}

func TestSendRegionAndNoParams(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, statusReply("Ok", "S2"))
	fake.region = "ap-beijing"
	cfg := testConfig(srv.URL)
	cfg.Region = "ap-beijing"
	msg := testMessage()
	msg.Kind, msg.Vars = "closed", nil
	if _, err := newTestClient(t, cfg).Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := fake.Calls()[0].Body.TemplateParamSet; got != nil {
		t.Errorf("TemplateParamSet = %v, want omitted", got)
	}
}

// Each class of codeClasses and the families, against the fake SendSms
// (which checks the TC3 signature) answering in the API 3.0 envelope.
func TestSendProviderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		code    string
		request bool // Response.Error rather than a SendStatus
		class   notify.Class
	}{
		{"auth", "AuthFailure.SecretIdNotFound", true, notify.ClassAccount},
		{"unauthorized", "UnauthorizedOperation.SmsSdkAppIdVerifyFail", true, notify.ClassAccount},
		{"ip not allowed", "UnauthorizedOperation.RequestIpNotInWhitelist", true, notify.ClassAccount},
		{"old arrears spelling", "UnauthorizedOperation.SerivceSuspendDueToArrears", true, notify.ClassAccount},
		{"marketing not allowed", "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny", true, notify.ClassPermanent},
		{"app daily limit", "LimitExceeded.AppDailyLimit", false, notify.ClassDailyLimit},
		{"mainland daily limit", "LimitExceeded.AppMainlandChinaDailyLimit", false, notify.ClassDailyLimit},
		{"global daily limit", "LimitExceeded.DailyLimit", false, notify.ClassDailyLimit},
		{"param", "InvalidParameterValue.TemplateParameterFormatError", true, notify.ClassPermanent},
		{"internal", "InternalError.Timeout", true, notify.ClassTransient},
		{"plain internal", "InternalError", true, notify.ClassTransient},
		{"rate", "RequestLimitExceeded", true, notify.ClassTransient},
		{"expired signature", "AuthFailure.SignatureExpire", true, notify.ClassTransient},
		{"bad number", "InvalidParameterValue.IncorrectPhoneNumber", false, notify.ClassPermanent},
		{"template", "FailedOperation.TemplateIncorrectOrUnapproved", false, notify.ClassPermanent},
		{"signature", "FailedOperation.SignatureIncorrectOrUnapproved", false, notify.ClassPermanent},
		{"blacklist", "FailedOperation.PhoneNumberInBlacklist", false, notify.ClassUnsubscribed},
		{"per number limit", "LimitExceeded.PhoneNumberDailyLimit", false, notify.ClassDailyLimit},
		{"same content limit", "LimitExceeded.PhoneNumberSameContentDailyLimit", false, notify.ClassDailyLimit},
		{"balance", "FailedOperation.InsufficientBalanceInSmsPackage", true, notify.ClassAccount},
		{"no such app", "InvalidParameterValue.SdkAppIdNotExist", true, notify.ClassAccount},
		{"host not on the IP whitelist", "IpNotInWhitelist", true, notify.ClassAccount},
		{"arrears", "UnauthorizedOperation.ServiceSuspendDueToArrears", true, notify.ClassAccount},
		{"30s limit", "LimitExceeded.PhoneNumberThirtySecondLimit", false, notify.ClassTransient},
		{"country", "LimitExceeded.AppCountryOrRegionInBlacklist", false, notify.ClassPermanent},
		{"unknown", "SomethingNew.Entirely", false, notify.ClassTransient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reply := statusReply(tc.code, "")
			if tc.request {
				reply = func(w http.ResponseWriter, req sendSmsRequest) {
					replyError(w, tc.code, "rejected "+req.PhoneNumberSet[0])
				}
			}
			_, srv := newFake(t, reply)
			_, err := newTestClient(t, testConfig(srv.URL)).Send(context.Background(), testMessage())
			smstest.WantClass(t, err, tc.class, tc.code)
			smstest.WantNoNumber(t, err, "13812345678")
			smstest.WantOutage(t, err, strings.HasPrefix(tc.code, "InternalError")) // not the rate or number limits
		})
	}
}

func TestSendWrongKeyIsRejected(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, statusReply("Ok", "never"))
	cfg := testConfig(srv.URL)
	cfg.SecretKey = "not-the-key"
	_, err := newTestClient(t, cfg).Send(context.Background(), testMessage())
	// Every message of the account would fail alike: the circuit opens.
	smstest.WantClass(t, err, notify.ClassAccount, "AuthFailure.SignatureFailure")
	fake.WantNone(t)
}

func TestSendHTTPFailures(t *testing.T) {
	t.Parallel()
	smstest.TestHTTPFailures(t, func(t *testing.T, reply func(http.ResponseWriter), timeout time.Duration) notify.Sender {
		_, srv := newFake(t, func(w http.ResponseWriter, _ sendSmsRequest) { reply(w) })
		cfg := testConfig(srv.URL)
		cfg.Timeout = timeout
		return newTestClient(t, cfg)
	}, testMessage(), "13812345678")
}

func TestSendRejectsBeforeCalling(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, code, mention string
		edit                func(*notify.Message)
	}{
		{"no template", "no_template", "due_soon/en", func(m *notify.Message) { m.Locale = "en" }},
		{"missing var", "missing_var", `"date"`, func(m *notify.Message) { delete(m.Vars, "date") }},
		{"bad number", "invalid_number", "", func(m *notify.Message) { m.To = "013812345678" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, srv := newFake(t, statusReply("Ok", "never"))
			msg := testMessage()
			tc.edit(&msg)
			_, err := newTestClient(t, testConfig(srv.URL)).Send(context.Background(), msg)
			smstest.WantError(t, err, smstest.Permanent, tc.code)
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %s", err, tc.mention)
			}
			fake.WantNone(t)
		})
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	bad := []Config{
		{},
		{SecretID: "i", SecretKey: "k"},
		{SecretID: "i", SecretKey: "k", SdkAppID: "a", Endpoint: "://"},
		{SecretID: "i", SecretKey: "k", SdkAppID: "a", Templates: map[string]Template{"x/y": {ID: "1"}}},
	}
	for i, cfg := range bad {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	c, err := NewClient(Config{SecretID: "i", SecretKey: "k", SdkAppID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if c.endpoint.String() != DefaultEndpoint || c.cfg.Region != DefaultRegion || c.cfg.Timeout != DefaultTimeout || c.Provider() != "tencent" {
		t.Errorf("defaults: %s %s %s", c.endpoint, c.cfg.Region, c.cfg.Timeout)
	}
}

// The daily limits roll over at midnight Beijing time.
func TestDailyLimitLiftsAtBeijingMidnight(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, testConfig("https://example.com"))
	refused := time.Date(2026, 11, 21, 11, 30, 0, 0, time.UTC) // 19:30 in Beijing
	if got := c.DailyLimitLifts("LimitExceeded.PhoneNumberDailyLimit", refused); !got.Equal(time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("the limit lifts at %v, want Beijing midnight (16:00 UTC)", got)
	}
}
