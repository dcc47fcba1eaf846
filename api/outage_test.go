package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"duebell/api"
	"duebell/link"
	"duebell/notify/sms/twilio"
	"duebell/notify/sms/webhook"
	"duebell/repo/repotest"
)

// outageRequests are a receipt from each provider, shaped as each documents
// it, for the notice id sent with message id msgID, a bulk import, and a check of a
// compact repayment link to it (which reads the notice) by the repayment
// page and by its short path.
func outageRequests(t *testing.T, id int64, msgID string) map[string]*http.Request {
	t.Helper()
	signer, err := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k2", Secret: []byte("a-very-secret-signing-key")},
		nil, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	short, err := signer.WithShortBase("https://pay.example.com/r/")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(short.URL(link.Claims{NotificationID: id}, t0.Add(-time.Hour)), "https://pay.example.com/r/")
	req := func(method, path, contentType, body string, header map[string]string) *http.Request {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		for k, v := range header {
			r.Header.Set(k, v)
		}
		return r
	}
	form := url.Values{"MessageSid": {msgID}, "MessageStatus": {"delivered"}, "AccountSid": {"AC1"},
		"To": {"+8613812345678"}, "From": {"+15005550006"}, "ApiVersion": {"2010-04-01"}}
	gateway := fmt.Sprintf(`{"id":%q,"out_id":"%d","status":"delivered","code":"DELIVRD"}`, msgID, id)
	return map[string]*http.Request{
		"aliyun": req("POST", "/hooks/sms/aliyun/"+receiptToken, "application/json", fmt.Sprintf(`[
			{"phone_number":"13812345678","send_time":"2026-11-21 10:00:00","report_time":"2026-11-21 10:00:07",
			 "success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":%q,"out_id":"%d"}]`,
			msgID, id), nil),
		"tencent": req("POST", "/hooks/sms/tencent?token="+receiptToken, "application/json", fmt.Sprintf(`[
			{"user_receive_time":"2026-11-21 10:00:04","nationcode":"86","mobile":"13812345678",
			 "report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":%q}]`, msgID), nil),
		"twilio": req("POST", "/hooks/sms/twilio", "application/x-www-form-urlencoded", form.Encode(),
			map[string]string{"X-Twilio-Signature": twilio.Signature(twilioAuth, twilioCallback, form)}),
		"webhook": req("POST", "/hooks/sms/webhook", "application/json", gateway,
			map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(gateway))}),
		// A nightly sync's bulk import: its report says where it stopped,
		// and the lender's job is told to try again later, not of a failure.
		"import": req("POST", "/api/v1/import", "application/x-ndjson",
			`{"type":"customer","ref":"c9","name":"李雷","email":"li@example.com"}`+"\n",
			map[string]string{"Authorization": "Bearer " + ingestToken}),
		"link verify": req("GET", "/api/v1/links/verify?t="+tok, "", "", nil),
		"short link":  req("GET", "/r/"+tok, "", "", nil),
	}
}

func outageConfig(c *api.Config) {
	c.Receipts = &api.ReceiptConfig{Token: receiptToken, WebhookSecret: gatewaySecret,
		TwilioAuthToken: twilioAuth, TwilioCallbackURL: twilioCallback}
	signer, _ := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k2", Secret: []byte("a-very-secret-signing-key")},
		nil, 72*time.Hour)
	c.Links = signer
}

// wantRetryLater checks that each request is answered 503 with
// Retry-After, so the provider posts its receipts again later instead of
// taking a 500 as a failure, and that the outage is logged without the
// borrower's phone number: one line a request, the first at WARN and the
// rest at DEBUG (outage.EveryInterval), and the access log records the 503 below
// WARN, not as an error besides the warning.
func wantRetryLater(t *testing.T, b bundle, reqs map[string]*http.Request) {
	t.Helper()
	before := len(b.logs.String())
	for name, req := range reqs {
		rec := newRecorder(b, req)
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		raw, _ := io.ReadAll(rec.Body)
		_ = json.Unmarshal(raw, &body)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "30" || body.Error.Code != "unavailable" {
			t.Errorf("%s while the database is down: %d, Retry-After %q, %s; want 503, Retry-After 30, unavailable",
				name, rec.Code, rec.Header().Get("Retry-After"), raw)
		}
	}
	logs := b.logs.String()
	if n := strings.Count(logs, `"msg":"database unavailable"`); n != len(reqs) {
		t.Errorf("%d outage lines logged for %d requests:\n%s", n, len(reqs), logs)
	}
	if strings.Contains(logs, "13812345678") {
		t.Errorf("a phone number reached the log:\n%s", logs)
	}
	levels, requests := map[string]int{}, 0
	for line := range strings.SplitSeq(strings.TrimSpace(logs[before:]), "\n") {
		var rec struct {
			Level  string `json:"level"`
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		levels[rec.Level]++
		if rec.Msg == "http request" && rec.Status == http.StatusServiceUnavailable {
			requests++
		}
	}
	if levels["ERROR"] != 0 || levels["WARN"] != 1 || requests != len(reqs) {
		t.Errorf("the outage logged %v with %d access lines for %d requests; want one WARN for them all and no ERROR:\n%s",
			levels, requests, len(reqs), logs[before:])
	}
}

// A database that is down answers 503 whether its address refuses the
// connection or a proxy in front of it takes the connection and closes it
// at once (the driver then fails with a reset or an EOF, not a dial error).
func TestDatabaseDownAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	for _, proxied := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused", true: "proxy closes"}[proxied], func(t *testing.T) {
			t.Parallel()
			databaseDownAnswers503(t, proxied)
		})
	}
}

func databaseDownAnswers503(t *testing.T, proxied bool) {
	r, direct, cut := repotest.NewCuttable(t, proxied)
	b := setupWith(t, r, outageConfig)
	id := sentSMS(t, r, "c1", "aliyun", "900619746936498440^0")
	cut()
	wantRetryLater(t, b, outageRequests(t, id, "900619746936498440^0"))
	// Nothing was stored: the provider's retry is the receipt's only copy.
	bd := bundle{r: direct}
	if n := bd.count(t, "sms_receipts"); n != 0 {
		t.Errorf("%d receipts stored during the outage", n)
	}
	if n := bd.noticeByID(t, id); n.Status != "sent" {
		t.Errorf("notice %s after the outage, want sent", n.Status)
	}
}

// The embedded store closed under a request (a daemon stopping while a
// receipt comes in) is an outage too.
func TestClosedSQLiteStoreAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	b := setupOn(t, "sqlite", outageConfig)
	id := sentSMS(t, b.r, "c1", "aliyun", "900619746936498440^0")
	if err := b.r.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	wantRetryLater(t, b, outageRequests(t, id, "900619746936498440^0"))
}

// A database that stops answering with its connections open (a hung
// server, a proxy whose backend went away) ends a request at its deadline:
// it used to hold the request, and its connection, for as long as the
// socket stayed open. The request is answered 503 timeout with
// Retry-After, a write changes nothing, and the next request works.
func TestSilentDatabaseEndsARequestAtItsDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, method, body string }{
		{"read", "GET", ""},
		{"write", "PUT", `{"name":"韩梅梅","phone":"+8613912345678"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, direct, link := repotest.NewLinked(t)
			b := setupWith(t, r, func(c *api.Config) { c.RequestTimeout = time.Second })
			b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c1", ingestToken, customerJSON)
			link.Hang()
			token := map[string]string{"GET": viewerToken, "PUT": ingestToken}[tc.method]
			start := time.Now()
			answered := make(chan response, 1)
			go func() { answered <- b.do(t, tc.method, "/api/v1/customers/c1", token, tc.body) }()
			var res response
			select {
			case res = <-answered:
			case <-time.After(20 * time.Second):
				t.Fatalf("%s on a silent database: no answer in 20 s", tc.method)
			}
			took := time.Since(start)
			if code, _ := res.errorOf(); res.status != http.StatusServiceUnavailable || code != "timeout" ||
				res.header.Get("Retry-After") == "" {
				t.Fatalf("%s on a silent database: %d %s (Retry-After %q), want 503 timeout with Retry-After",
					tc.method, res.status, res.raw, res.header.Get("Retry-After"))
			}
			// The deadline, then the repo's 5 s grace for a silent socket.
			if took > 10*time.Second {
				t.Errorf("answered after %v, want within the 1 s deadline and the 5 s grace", took)
			}
			logs := b.logs.String()
			if !strings.Contains(logs, `"msg":"database unavailable"`) || !strings.Contains(logs, `"request_timeout":1000000000`) {
				t.Errorf("the log does not say the request ran out of time:\n%s", logs)
			}
			if strings.Contains(logs, "韩梅梅") || strings.Contains(logs, "13912345678") {
				t.Errorf("the log holds the customer's data:\n%s", logs)
			}
			var name string
			if err := direct.DB().Get(&name, `SELECT name FROM customers WHERE ref = 'c1'`); err != nil || name != "李雷" {
				t.Errorf("customer's name %q (%v) after a refused write, want 李雷", name, err)
			}
			b.mustDo(t, http.StatusOK, "GET", "/api/v1/customers/c1", viewerToken, "")
		})
	}
}

// A bulk import keeps its own hour, not the request bound: a nightly sync
// over a slow link still applies. Every other route is bounded.
func TestImportIsNotBoundedByTheRequestTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) { c.RequestTimeout = time.Nanosecond })
	if res := b.importReq(t, "", `{"type":"customer","ref":"c9","name":"李雷","phone":"13812345678"}`+"\n"); res.status != http.StatusOK {
		t.Fatalf("import under a 1 ns request bound: %d %s, want 200", res.status, res.raw)
	}
	res := b.do(t, "GET", "/api/v1/customers/c9", viewerToken, "")
	if code, _ := res.errorOf(); res.status != http.StatusServiceUnavailable || code != "timeout" {
		t.Fatalf("GET under a 1 ns request bound: %d %s, want 503 timeout", res.status, res.raw)
	}
}
