package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"duebell/api"
	"duebell/notify/sms/twilio"
	"duebell/notify/sms/webhook"
	"duebell/repo"
	"duebell/repo/storetest"
)

const (
	receiptToken   = "receipt-token-0123456789"
	twilioAuth     = "twilio-auth-token"
	twilioCallback = "https://duebell.example.com/hooks/sms/twilio"
	gatewaySecret  = "gateway-secret"
)

func receiptsSetup(t *testing.T) bundle {
	return setup(t, func(c *api.Config) {
		c.Receipts = &api.ReceiptConfig{Token: receiptToken, WebhookSecret: gatewaySecret,
			TwilioAuthToken: twilioAuth, TwilioCallbackURL: twilioCallback}
	})
}

// sentSMS queues one SMS reminder and records it as sent by provider with
// msgID; it returns the notice's id.
func sentSMS(t testing.TB, r testStore, ref, provider, msgID string) int64 {
	t.Helper()
	ctx := context.Background()
	sh := time.FixedZone("CST", 8*3600)
	storetest.Customer(t, r, ref)
	storetest.Plan(t, r, "p-"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 24)})
	scanAt, sendAt := time.Date(2026, 11, 21, 8, 0, 0, 0, sh), time.Date(2026, 11, 21, 10, 0, 0, 0, sh)
	if _, err := r.QueueDueReminders(ctx, scanAt, []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon",
		Channels: []string{"sms"}}}); err != nil {
		t.Fatal(err)
	}
	claims, err := r.ClaimNotifications(ctx, "w", sendAt, sendAt, time.Minute, 10, 0)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %d, %v", len(claims), err)
	}
	if err := r.FinishNotifications(ctx, "w", sendAt, []repo.Outcome{{ID: claims[0].ID, Status: repo.StatusSent,
		Provider: provider, ProviderMsgID: msgID, SentAt: &sendAt}}); err != nil {
		t.Fatal(err)
	}
	return claims[0].ID
}

func (b bundle) noticeByID(t *testing.T, id int64) repo.Notification {
	t.Helper()
	n, err := b.r.GetNotification(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func post(b bundle, path, contentType, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return newRecorder(b, req)
}

func wantJSON(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d %s, want %d", rec.Code, rec.Body, status)
	}
	if body == "" {
		return
	}
	var got, want any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q is not JSON", rec.Body)
	}
	_ = json.Unmarshal([]byte(body), &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("body %s, want %s", rec.Body, body)
	}
}

func TestAliyunSmsReport(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	id := sentSMS(t, b.r, "c1", "aliyun", "900619746936498440^0")
	report := fmt.Sprintf(`[
	  {"phone_number":"13812345678","send_time":"2026-11-21 10:00:00","report_time":"2026-11-21 10:00:07",
	   "success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1",
	   "biz_id":"900619746936498440^0","out_id":"%d"},
	  {"phone_number":"13900000000","send_time":"2026-11-21 10:00:00","report_time":"2026-11-21 10:00:09",
	   "success":false,"err_code":"MK:0001","err_msg":"","sms_size":"1","biz_id":"someone-elses","out_id":""}]`, id)

	wantJSON(t, post(b, "/hooks/sms/aliyun", "application/json", report, nil), http.StatusForbidden, "")
	wantJSON(t, post(b, "/hooks/sms/aliyun?token=wrong-token-0123456789", "application/json", report, nil), http.StatusForbidden, "")
	if n := b.count(t, "sms_receipts"); n != 0 {
		t.Fatalf("refused receipts stored: %d", n)
	}

	wantJSON(t, post(b, "/hooks/sms/aliyun?token="+receiptToken, "application/json", report, nil),
		http.StatusOK, `{"code":0,"msg":"成功"}`)
	n := b.noticeByID(t, id)
	reported := time.Date(2026, 11, 21, 2, 0, 7, 0, time.UTC)
	if n.Status != "delivered" || n.DeliveryCode != "DELIVERED" || n.DeliveredAt == nil || !n.DeliveredAt.Equal(reported) {
		t.Fatalf("notice after SmsReport: %s %q at %v", n.Status, n.DeliveryCode, n.DeliveredAt)
	}
	rcs, _ := b.r.ListReceipts(context.Background(), id)
	if len(rcs) != 1 || !strings.Contains(rcs[0].Raw, `"biz_id":"900619746936498440^0"`) || rcs[0].Description != "用户接收成功" {
		t.Fatalf("receipts %+v", rcs)
	}
	if n := b.count(t, "sms_receipts"); n != 2 {
		t.Errorf("stored %d receipts, want 2 (one unmatched)", n)
	}
	if strings.Contains(b.logs.String(), "13812345678") {
		t.Error("a phone number reached the log")
	}
}

func TestTencentStatusCallback(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	id := sentSMS(t, b.r, "c1", "tencent", "2028:f825e6b16e23f73f4123")
	body := `[{"user_receive_time":"2026-11-21 10:00:04","nationcode":"86","mobile":"13812345678",
	  "report_status":"FAIL","errmsg":"MN:0001","description":"空号","sid":"2028:f825e6b16e23f73f4123"}]`
	wantJSON(t, post(b, "/hooks/sms/tencent?token="+receiptToken, "application/json", body, nil),
		http.StatusOK, `{"result":0,"errmsg":"OK"}`)
	if n := b.noticeByID(t, id); n.Status != "undelivered" || n.DeliveryCode != "MN:0001" ||
		n.StatusReason != "undelivered per tencent receipt (code MN:0001)" {
		t.Fatalf("notice %s %q %q", n.Status, n.DeliveryCode, n.StatusReason)
	}
}

func TestTwilioStatusCallbackIsVerified(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	id := sentSMS(t, b.r, "c1", "twilio", "SM0123456789abcdef0123456789abcdef")
	form := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "SmsSid": {"SM0123456789abcdef0123456789abcdef"},
		"MessageStatus": {"delivered"}, "SmsStatus": {"delivered"}, "AccountSid": {"AC1"}, "To": {"+8613812345678"},
		"From": {"+15005550006"}, "ApiVersion": {"2010-04-01"}}
	sig := twilio.Signature(twilioAuth, twilioCallback, form)

	bad := twilio.Signature("another-token", twilioCallback, form)
	for _, h := range []map[string]string{nil, {"X-Twilio-Signature": bad}} {
		wantJSON(t, post(b, "/hooks/sms/twilio", "application/x-www-form-urlencoded", form.Encode(), h), http.StatusForbidden, "")
	}
	// A signed callback that gives a field twice is refused: which would count?
	twice := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef", "SMother"}, "MessageStatus": {"undelivered"}}
	wantJSON(t, post(b, "/hooks/sms/twilio", "application/x-www-form-urlencoded", twice.Encode(),
		map[string]string{"X-Twilio-Signature": twilio.Signature(twilioAuth, twilioCallback, twice)}), http.StatusBadRequest, "")
	// A signature over other values does not cover these.
	tampered := url.Values{"MessageSid": form["MessageSid"], "MessageStatus": {"undelivered"}}
	wantJSON(t, post(b, "/hooks/sms/twilio", "application/x-www-form-urlencoded", tampered.Encode(),
		map[string]string{"X-Twilio-Signature": sig}), http.StatusForbidden, "")
	if n := b.count(t, "sms_receipts"); n != 0 || b.noticeByID(t, id).Status != "sent" {
		t.Fatalf("a forged callback changed something: %d receipts", n)
	}

	wantJSON(t, post(b, "/hooks/sms/twilio", "application/x-www-form-urlencoded", form.Encode(),
		map[string]string{"X-Twilio-Signature": sig}), http.StatusOK, `{"status":"ok"}`)
	if n := b.noticeByID(t, id); n.Status != "delivered" {
		t.Fatalf("notice %s", n.Status)
	}
}

func TestTwilioCallbackWithoutConfigIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) { c.Receipts = &api.ReceiptConfig{} })
	form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}
	wantJSON(t, post(b, "/hooks/sms/twilio", "application/x-www-form-urlencoded", form.Encode(),
		map[string]string{"X-Twilio-Signature": twilio.Signature("", twilioCallback, form)}), http.StatusForbidden, "")
}

func TestWebhookGatewayReceipts(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	id := sentSMS(t, b.r, "c1", "webhook", "")
	body := fmt.Sprintf(`{"out_id":"%d","status":"delivered","code":"DELIVRD"}`, id)
	wantJSON(t, post(b, "/hooks/sms/webhook", "application/json", body,
		map[string]string{webhook.SignatureHeader: webhook.Sign([]byte("wrong"), []byte(body))}), http.StatusForbidden, "")
	wantJSON(t, post(b, "/hooks/sms/webhook", "application/json", body,
		map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(body))}), http.StatusOK, `{"status":"ok"}`)
	if n := b.noticeByID(t, id); n.Status != "delivered" || n.DeliveryCode != "DELIVRD" {
		t.Fatalf("notice %s %q", n.Status, n.DeliveryCode)
	}
	// An array, numeric ids, and an id that matches nothing: stored, answered 200.
	body = `[{"id":12345,"status":"undelivered"},{"out_id":999999,"status":"undelivered"}]`
	wantJSON(t, post(b, "/hooks/sms/webhook", "application/json", body,
		map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(body))}), http.StatusOK, `{"status":"ok"}`)
	if n := b.count(t, "sms_receipts"); n != 3 {
		t.Errorf("%d receipts stored, want 3", n)
	}
	// Two objects side by side are no JSON document (read as a batch of
	// two once brackets went around them).
	body = `{"a":1},{"id":"gw-2","status":"delivered"}`
	if rec := post(b, "/hooks/sms/webhook", "application/json", body,
		map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(body))}); rec.Code != http.StatusBadRequest {
		t.Errorf("two objects: %d %s, want 400", rec.Code, rec.Body)
	}
	if n := b.count(t, "sms_receipts"); n != 3 {
		t.Errorf("%d receipts stored after a body that is no JSON, want 3", n)
	}
}

// TestReceiptWordsEchoingTheNumberAreMasked: a gateway's code or
// description that repeats the recipient reaches the notice's status
// reason, which the API, CLI and console show, masked as a log line is;
// the receipt still applies.
func TestReceiptWordsEchoingTheNumberAreMasked(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	id := sentSMS(t, b.r, "c1", "webhook", "")
	body := fmt.Sprintf(`{"out_id":"%d","status":"undelivered","code":"user 13812345678 / bob@example.com unreachable",`+
		`"description":"number +86 138 1234 5678 is off"}`, id)
	wantJSON(t, post(b, "/hooks/sms/webhook", "application/json", body,
		map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(body))}), http.StatusOK, `{"status":"ok"}`)
	n := b.noticeByID(t, id)
	if n.Status != "undelivered" || !strings.Contains(n.StatusReason, "*******5678 / ***@example.com unreachable") {
		t.Fatalf("notice %s %q, want undelivered with the code masked", n.Status, n.StatusReason)
	}
	var stored []string
	if err := b.r.DB().Select(&stored, `SELECT code || ' ' || description FROM sms_receipts`); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(stored, n.StatusReason, n.DeliveryCode) {
		if strings.Contains(s, "12345678") || strings.Contains(s, "1234 5678") || strings.Contains(s, "bob@") {
			t.Errorf("%q holds the recipient unmasked", s)
		}
	}
}

func TestReceiptsBadInput(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	signed := func(body string) map[string]string {
		return map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(body))}
	}
	for _, tc := range []struct {
		name, path, body string
		header           map[string]string
		status           int
	}{
		{"not JSON", "/hooks/sms/aliyun?token=" + receiptToken, `[{"success":tru`, nil, 400},
		{"object, not array", "/hooks/sms/aliyun?token=" + receiptToken, `{"success":true}`, nil, 400},
		{"no success", "/hooks/sms/aliyun?token=" + receiptToken, `[{"biz_id":"1"}]`, nil, 400},
		{"tencent without sid", "/hooks/sms/tencent?token=" + receiptToken, `[{"report_status":"SUCCESS"}]`, nil, 400},
		{"webhook unknown status", "/hooks/sms/webhook", `{"id":"1","status":"lost"}`, signed(`{"id":"1","status":"lost"}`), 400},
		{"webhook no id", "/hooks/sms/webhook", `{"status":"delivered"}`, signed(`{"status":"delivered"}`), 400},
		{"webhook status twice", "/hooks/sms/webhook", `{"id":"1","status":"delivered","status":"undelivered"}`,
			signed(`{"id":"1","status":"delivered","status":"undelivered"}`), 400},
		{"webhook status twice, once with a long s", "/hooks/sms/webhook", `{"id":"1","status":"delivered","\u017ftatus":"undelivered"}`,
			signed(`{"id":"1","status":"delivered","\u017ftatus":"undelivered"}`), 400},
		{"webhook unpaired surrogate in the code", "/hooks/sms/webhook", `{"out_id":"1","status":"delivered","code":"\ud800"}`,
			signed(`{"out_id":"1","status":"delivered","code":"\ud800"}`), 400},
		{"webhook out_id not an id", "/hooks/sms/webhook", `{"out_id":1.5e300,"status":"delivered"}`,
			signed(`{"out_id":1.5e300,"status":"delivered"}`), 400},
		{"webhook description of a book", "/hooks/sms/webhook", `{"out_id":"1","status":"delivered","description":"` + strings.Repeat("x", 1001) + `"}`,
			signed(`{"out_id":"1","status":"delivered","description":"` + strings.Repeat("x", 1001) + `"}`), 400},
		{"aliyun success twice", "/hooks/sms/aliyun?token=" + receiptToken,
			`[{"biz_id":"1","success":true,"success":false,"report_time":"2025-03-10 10:00:00"}]`, nil, 400},
		{"unknown provider", "/hooks/sms/carrier-pigeon", `[]`, nil, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(b, tc.path, "application/json", tc.body, tc.header)
			if rec.Code != tc.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("status %d (%s) %s, want %d", rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.status)
			}
		})
	}
	if n := b.count(t, "sms_receipts"); n != 0 {
		t.Errorf("bad input stored %d receipts", n)
	}
}

func TestReceiptRouteAbsentWithoutConfig(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rec := post(b, "/hooks/sms/aliyun", "application/json", `[]`, nil)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
}

// A body that carries no receipt — JSON null, an empty array from a
// provider that posts one receipt at a time, an empty object, a null or
// empty report — is refused with a 400 that says so, logged without the
// body, and changes nothing, on either store. Aliyun and Tencent post
// batches: an empty array from them is an empty batch, answered with
// success and storing nothing.
func TestEmptyReceiptBodiesAreRefused(t *testing.T) {
	t.Parallel()
	signedGateway := func(body string) map[string]string {
		return map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(body))}
	}
	signedTwilio := func(body string) map[string]string {
		form, _ := url.ParseQuery(body)
		return map[string]string{"X-Twilio-Signature": twilio.Signature(twilioAuth, twilioCallback, form)}
	}
	type tc struct {
		provider, path, contentType, body string
		header                            func(string) map[string]string
		want                              int
	}
	var cases []tc
	for _, p := range []struct{ provider, path string }{
		{"aliyun", "/hooks/sms/aliyun/" + receiptToken}, {"tencent", "/hooks/sms/tencent?token=" + receiptToken},
	} {
		for _, body := range []string{"null", " null\n", "{}", "[null]", "[{}]", `""`, ""} {
			cases = append(cases, tc{p.provider, p.path, "application/json", body, nil, http.StatusBadRequest})
		}
		cases = append(cases, tc{p.provider, p.path, "application/json", "[]", nil, http.StatusOK})
	}
	for _, body := range []string{"null", "[]", " [ ] ", "{}", "[{}]", "[null]", ""} {
		cases = append(cases, tc{"webhook", "/hooks/sms/webhook", "application/json", body, signedGateway, http.StatusBadRequest})
	}
	for _, body := range []string{"", "null", "[]", "MessageSid=&MessageStatus="} {
		cases = append(cases, tc{"twilio", "/hooks/sms/twilio", "application/x-www-form-urlencoded", body, signedTwilio,
			http.StatusBadRequest})
	}
	for _, store := range []string{"postgres", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, store, func(c *api.Config) {
				c.Receipts = &api.ReceiptConfig{Token: receiptToken, WebhookSecret: gatewaySecret,
					TwilioAuthToken: twilioAuth, TwilioCallbackURL: twilioCallback}
			})
			id := sentSMS(t, b.r, "c1", "aliyun", "900619746936498440^0")
			for _, c := range cases {
				var header map[string]string
				if c.header != nil {
					header = c.header(c.body)
				}
				rec := post(b, c.path, c.contentType, c.body, header)
				var res struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &res)
				switch {
				case rec.Code != c.want:
					t.Errorf("%s %q: %d %s, want %d", c.provider, c.body, rec.Code, rec.Body, c.want)
				case c.want == http.StatusBadRequest && (res.Error.Code != "bad_json" || !strings.HasPrefix(res.Error.Message, c.provider+" receipt")):
					t.Errorf("%s %q: %s, want bad_json naming the provider", c.provider, c.body, rec.Body)
				}
			}
			if n := b.count(t, "sms_receipts"); n != 0 {
				t.Errorf("%d receipts stored from empty bodies", n)
			}
			if n := b.noticeByID(t, id); n.Status != "sent" {
				t.Errorf("notice %s after empty bodies, want sent", n.Status)
			}
			if logs := b.logs.String(); !strings.Contains(logs, `"msg":"sms receipts refused","provider":"webhook"`) ||
				!strings.Contains(logs, `"msg":"sms receipts refused","provider":"aliyun"`) {
				t.Errorf("refused bodies not logged:\n%s", logs)
			}
		})
	}
}

// An Aliyun SmsReport push of a thousand reports (more than one of the
// store's transactions) is answered with Aliyun's success, and each report
// does what it would alone: an undelivered report followed by a delivered
// one for the same message, on either side of a transaction's end, leaves
// the notice delivered; reports for messages nobody sent are stored
// unmatched; every report is counted once, and stored and counted once
// when Aliyun posts the batch again.
func TestAliyunLargeBatch(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"postgres", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			outcomes := map[string]int{}
			b := setupOn(t, store, func(c *api.Config) {
				c.Receipts = &api.ReceiptConfig{Token: receiptToken,
					OnReceipt: func(_, outcome string) { outcomes[outcome]++ }}
				c.MaxBodyBytes = 1 << 20 // the daemon's default
			})
			first := sentSMS(t, b.r, "c1", "aliyun", "900619746936498440^0")
			last := sentSMS(t, b.r, "c2", "aliyun", "900619746936498441^0")
			report := func(bizID string, outID int64, success bool) string {
				code := "DELIVERED"
				if !success {
					code = "MK:0001"
				}
				return fmt.Sprintf(`{"phone_number":"13812345678","send_time":"2026-11-21 10:00:00",`+
					`"report_time":"2026-11-21 10:00:07","success":%t,"err_code":%q,"err_msg":"","sms_size":"1",`+
					`"biz_id":%q,"out_id":"%d"}`, success, code, bizID, outID)
			}
			reports := make([]string, 1000)
			for i := range reports {
				reports[i] = report(fmt.Sprintf("someone-elses-%d^0", i), 0, i%2 == 0)
			}
			reports[499] = report("900619746936498440^0", first, false)
			reports[500] = report("900619746936498440^0", first, true)
			reports[999] = report("900619746936498441^0", last, false)
			rec := post(b, "/hooks/sms/aliyun/"+receiptToken, "application/json", "["+strings.Join(reports, ",")+"]", nil)
			wantJSON(t, rec, http.StatusOK, `{"code":0,"msg":"成功"}`)
			if n := b.noticeByID(t, first); n.Status != "delivered" || n.DeliveryCode != "DELIVERED" {
				t.Errorf("first notice %s %q, want delivered", n.Status, n.DeliveryCode)
			}
			if n := b.noticeByID(t, last); n.Status != "undelivered" || n.DeliveryCode != "MK:0001" {
				t.Errorf("last notice %s %q, want undelivered", n.Status, n.DeliveryCode)
			}
			if n := b.count(t, "sms_receipts"); n != 1000 {
				t.Errorf("%d receipts stored, want 1000", n)
			}
			if fmt.Sprint(outcomes) != "map[delivered:1 undelivered:2 unmatched:997]" {
				t.Errorf("receipt outcomes %v", outcomes)
			}
			if logs := b.logs.String(); !strings.Contains(logs, `"receipts":1000,"matched":3,"applied":3,"duplicates":0`) {
				t.Errorf("the batch was not logged with its counts:\n%s", logs)
			}

			// Aliyun did not get the answer in time and posts the batch
			// again: answered alike, nothing stored or counted twice.
			rec = post(b, "/hooks/sms/aliyun/"+receiptToken, "application/json", "["+strings.Join(reports, ",")+"]", nil)
			wantJSON(t, rec, http.StatusOK, `{"code":0,"msg":"成功"}`)
			if n := b.count(t, "sms_receipts"); n != 1000 {
				t.Errorf("%d receipts stored after the batch came again, want 1000", n)
			}
			if fmt.Sprint(outcomes) != "map[delivered:1 undelivered:2 unmatched:997]" {
				t.Errorf("receipt outcomes after the batch came again %v", outcomes)
			}
			if n := b.noticeByID(t, first); n.Status != "delivered" {
				t.Errorf("first notice %s after the batch came again, want delivered", n.Status)
			}
			if logs := b.logs.String(); !strings.Contains(logs, `"receipts":1000,"matched":3,"applied":0,"duplicates":1000`) {
				t.Errorf("the batch posted again was not logged with its counts:\n%s", logs)
			}
		})
	}
}
