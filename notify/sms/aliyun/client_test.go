package aliyun

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"duebell/notify"
	"duebell/notify/sms/internal/smstest"
)

var fixedNow = time.Date(2026, 3, 9, 1, 2, 3, 0, time.UTC)

// seqReader yields 0,1,2,… so nonces are predictable.
type seqReader struct{ n byte }

func (s *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = s.n
		s.n++
	}
	return len(p), nil
}

func testConfig(endpoint string) Config {
	return Config{
		AccessKeyID:     "LTAIexampleid",
		AccessKeySecret: "example-secret",
		Templates: map[string]Template{
			"due_soon/zh-CN": {Code: "SMS_123456789", SignName: "分期宝", Vars: []string{"name", "amount"}},
			"closed/zh-CN":   {Code: "SMS_000000001", SignName: "分期宝"},
		},
		Endpoint: endpoint,
		Now:      func() time.Time { return fixedNow },
		Rand:     &seqReader{},
	}
}

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	return smstest.New(t, NewClient, cfg)
}

func testMessage() notify.Message {
	return notify.Message{
		NotificationID: 42,
		To:             "+8613812345678",
		Text:           "ignored by template providers",
		Kind:           "due_soon",
		Locale:         "zh-CN",
		Vars:           map[string]string{"name": "张三", "amount": "¥1,200.00", "link": "https://pay.example.cn/r?a=1&b=2"},
	}
}

func ok(bizID string) func(http.ResponseWriter, url.Values) {
	return func(w http.ResponseWriter, _ url.Values) {
		smstest.WriteJSON(w, 200, map[string]string{"Code": "OK", "Message": "OK", "BizId": bizID, "RequestId": "R1"})
	}
}

func TestSendHappyPath(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, ok("900619746936498440^0"))
	c := newTestClient(t, testConfig(srv.URL))

	res, err := c.Send(context.Background(), testMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.ProviderMsgID != "900619746936498440^0" || res.Code != "OK" {
		t.Fatalf("result = %+v", res)
	}
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("requests = %d, want 1", len(calls))
	}
	q, h := calls[0].Query, calls[0].Header
	want := map[string]string{
		"PhoneNumbers": "13812345678",
		"SignName":     "分期宝",
		"TemplateCode": "SMS_123456789",
		"OutId":        "42",
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	var param map[string]string
	if err := json.Unmarshal([]byte(q.Get("TemplateParam")), &param); err != nil {
		t.Fatalf("TemplateParam %q: %v", q.Get("TemplateParam"), err)
	}
	if len(param) != 2 || param["name"] != "张三" || param["amount"] != "¥1,200.00" {
		t.Errorf("TemplateParam = %v, want only the template's vars", param)
	}
	if len(q) != 5 {
		t.Errorf("query has %d parameters, want 5: %v", len(q), q)
	}
	if got := h.Get("x-acs-date"); got != "2026-03-09T01:02:03Z" {
		t.Errorf("x-acs-date = %q", got)
	}
	if got := h.Get("x-acs-signature-nonce"); got != "000102030405060708090a0b0c0d0e0f" {
		t.Errorf("x-acs-signature-nonce = %q", got)
	}
}

func TestSendConcurrently(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, ok("B"))
	c := newTestClient(t, testConfig(srv.URL))
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Send(context.Background(), testMessage())
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	nonces := map[string]bool{}
	for _, call := range fake.Calls() {
		nonces[call.Header.Get("x-acs-signature-nonce")] = true
	}
	if len(nonces) != n {
		t.Fatalf("%d distinct nonces over %d requests", len(nonces), n)
	}
}

func TestSendNumberFormats(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, ok("B1"))
	c := newTestClient(t, testConfig(srv.URL))
	msg := testMessage()
	msg.To = "+85291234567"
	if _, err := c.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := fake.Calls()[0].Query.Get("PhoneNumbers"); got != "85291234567" {
		t.Fatalf("PhoneNumbers = %q, want country code + number without +", got)
	}
}

func TestSendTemplateWithoutVars(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, ok("B2"))
	c := newTestClient(t, testConfig(srv.URL))
	msg := testMessage()
	msg.Kind, msg.Vars = "closed", nil
	if _, err := c.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if q := fake.Calls()[0].Query; q.Has("TemplateParam") {
		t.Fatalf("TemplateParam sent for a template without variables: %q", q.Get("TemplateParam"))
	}
}

// Each class of codeClasses, and the rules after it, against the fake
// SendSms (which checks the signature) answering in Aliyun's JSON.
func TestSendProviderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code    string
		message string
		status  int
		class   notify.Class
	}{
		{"isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", 200, notify.ClassPermanent},
		{"isv.SMS_TEMPLATE_ILLEGAL", "模板不合法", 200, notify.ClassPermanent},
		{"isv.SMS_SIGNATURE_ILLEGAL", "签名不合法", 200, notify.ClassPermanent},
		{"isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量", 200, notify.ClassPermanent},
		{"isv.BLACK_KEY_CONTROL_LIMIT", "黑名单管控", 200, notify.ClassPermanent},
		{"isp.RAM_PERMISSION_DENY", "RAM权限DENY", 200, notify.ClassAccount},
		{"isv.ACCOUNT_NOT_EXISTS", "账户不存在", 200, notify.ClassAccount},
		{"isv.PRODUCT_UN_SUBSCRIPT", "未开通云通信产品的阿里云客户", 200, notify.ClassAccount},
		{"InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404, notify.ClassAccount},
		{"isv.AMOUNT_NOT_ENOUGH", "账户余额不足", 200, notify.ClassAccount},
		{"isv.OUT_OF_SERVICE", "业务停机", 200, notify.ClassAccount},
		{"isv.DENY_IP_RANGE", "IP地址所在的地区被禁用", 200, notify.ClassAccount},
		{"isv.DAY_LIMIT_CONTROL", "触发日发送限额", 200, notify.ClassDailyLimit},
		{"isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10", 200, notify.ClassDailyLimit},
		{"isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5", 200, notify.ClassTransient},
		{"isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", 200, notify.ClassTransient},
		{"isv.MONTH_LIMIT_CONTROL", "触发月发送限额", 200, notify.ClassAccount},
		{"isp.SYSTEM_ERROR", "系统错误", 200, notify.ClassTransient},
		{"Throttling.User", "Request was denied due to user flow control.", 400, notify.ClassTransient},
		{"ServiceUnavailable", "The request has failed due to a temporary failure of the server.", 503, notify.ClassTransient},
		{"InvalidParameter", "bad", 400, notify.ClassPermanent},
		{"SomethingNew", "new", 200, notify.ClassTransient},
	}
	for _, tc := range cases {
		t.Run(tc.code+"/"+tc.message, func(t *testing.T) {
			t.Parallel()
			_, srv := newFake(t, func(w http.ResponseWriter, _ url.Values) {
				smstest.WriteJSON(w, tc.status, map[string]string{
					"Code": tc.code, "Message": tc.message + ": rejected +8613812345678 and 13812345678", "RequestId": "R2",
				})
			})
			c := newTestClient(t, testConfig(srv.URL))
			_, err := c.Send(context.Background(), testMessage())
			smstest.WantClass(t, err, tc.class, tc.code)
			smstest.WantNoNumber(t, err, "13812345678")
			// The platform failing counts towards its unreachable circuit; its
			// flow control and a number's limits do not.
			smstest.WantOutage(t, err, tc.code == "isp.SYSTEM_ERROR" || tc.code == "ServiceUnavailable")
		})
	}
}

func TestSendWrongSecretIsRejected(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, ok("never"))
	cfg := testConfig(srv.URL)
	cfg.AccessKeySecret = "not-the-secret"
	_, err := newTestClient(t, cfg).Send(context.Background(), testMessage())
	// Every message of the account would fail alike: the circuit opens.
	smstest.WantClass(t, err, notify.ClassAccount, "SignatureDoesNotMatch")
	fake.WantNone(t)
}

func TestSendHTTPFailures(t *testing.T) {
	t.Parallel()
	smstest.TestHTTPFailures(t, func(t *testing.T, reply func(http.ResponseWriter), timeout time.Duration) notify.Sender {
		_, srv := newFake(t, func(w http.ResponseWriter, _ url.Values) { reply(w) })
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
		{"missing var", "missing_var", `"amount"`, func(m *notify.Message) { delete(m.Vars, "amount") }},
		{"bad number", "invalid_number", "", func(m *notify.Message) { m.To = "13812345678" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, srv := newFake(t, ok("never"))
			msg := testMessage()
			tc.edit(&msg)
			_, err := newTestClient(t, testConfig(srv.URL)).Send(context.Background(), msg)
			smstest.WantError(t, err, smstest.Permanent, tc.code)
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %s", err, tc.mention)
			}
			smstest.WantNoNumber(t, err, "13812345678")
			fake.WantNone(t)
		})
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	bad := []Config{
		{},
		{AccessKeyID: "id", AccessKeySecret: "s", Endpoint: "dysmsapi.aliyuncs.com"},
		{AccessKeyID: "id", AccessKeySecret: "s", Templates: map[string]Template{"due_soon": {Code: "c", SignName: "s"}}},
		{AccessKeyID: "id", AccessKeySecret: "s", Templates: map[string]Template{"due_soon/zh-CN": {Code: "c"}}},
	}
	for i, cfg := range bad {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	c, err := NewClient(Config{AccessKeyID: "id", AccessKeySecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.endpoint.String() != DefaultEndpoint || c.cfg.Timeout != DefaultTimeout || c.Provider() != "aliyun" {
		t.Errorf("defaults: endpoint %s timeout %s", c.endpoint, c.cfg.Timeout)
	}
}

// The per-number limit (天级流控) counts the last 24 hours and lifts a day
// after the refusal; the console's daily volume lifts at midnight Beijing
// time.
func TestDailyLimitLifts(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, testConfig("https://example.com"))
	refused := time.Date(2026, 11, 21, 11, 30, 0, 0, time.UTC) // 19:30 in Beijing
	if got := c.DailyLimitLifts("isv.BUSINESS_LIMIT_CONTROL", refused); !got.Equal(refused.Add(24 * time.Hour)) {
		t.Errorf("per-number limit lifts at %v, want a day after the refusal", got)
	}
	if got := c.DailyLimitLifts("isv.DAY_LIMIT_CONTROL", refused); !got.Equal(time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("daily volume lifts at %v UTC, want Beijing midnight (16:00 UTC)", got)
	}
}

// A customer whose locale has no template filed gets the SMS in the
// fallback locale's (defaults.locale) rather than none: an English-speaking
// borrower of a lender that filed only Chinese templates used to get no
// reminder at all (no_template). A template in the customer's own locale,
// the kind's or its level's, comes first.
func TestSendFallsBackToTheDefaultLocale(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, kind, level, fallback, want string
	}{
		{"kind in the fallback locale", "due_soon", "", "zh-CN", "SMS_123456789"},
		{"own locale's kind before the fallback's level", "overdue", "overdue_firm", "zh-CN", "SMS_OVERDUE_EN"},
		{"no fallback", "due_soon", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, srv := newFake(t, ok("900619746936498440^0"))
			cfg := testConfig(srv.URL)
			cfg.Templates["overdue_firm/zh-CN"] = Template{Code: "SMS_FIRM_ZH", SignName: "分期宝"}
			cfg.Templates["overdue/en"] = Template{Code: "SMS_OVERDUE_EN", SignName: "分期宝"}
			cfg.FallbackLocale = tc.fallback
			msg := testMessage()
			msg.Locale, msg.Kind, msg.Template = "en", tc.kind, tc.level
			_, err := newTestClient(t, cfg).Send(context.Background(), msg)
			if tc.want == "" {
				smstest.WantError(t, err, smstest.Permanent, "no_template")
				fake.WantNone(t)
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			calls := fake.Calls()
			if len(calls) != 1 {
				t.Fatalf("sent %d requests, want 1", len(calls))
			}
			if got := calls[0].Query.Get("TemplateCode"); got != tc.want {
				t.Errorf("template %q, want %s", got, tc.want)
			}
		})
	}
}
