package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duebell/kinds"
	"duebell/notify/sms/twilio"
	"duebell/repo"
)

const e2eReceiptToken = "e2e-receipt-token-0123456789"

// seedLi pushes borrower li (zh-CN) with one installment of ¥1,000.00 due
// 2026-12-10 and queues the due_soon reminder three days before.
func (e *e2e) seedLi() {
	e.call("PUT", "/api/v1/customers/li", `{"name":"李雷","phone":"13812345678","email":"li@example.net","locale":"zh-CN"}`, http.StatusCreated)
	e.call("PUT", "/api/v1/plans/li-1", `{"customer_ref":"li","merchant":"优品手机","title":"Phone X","total":100000,"periods":1,
		"repay_method":"manual","installments":[{"seq":1,"due_date":"2026-12-10","amount":100000}]}`, http.StatusCreated)
	e.run("scan", "--at", "2026-12-07T10:00:00+08:00")
}

func (e *e2e) notice(channel string) e2eNotice {
	e.t.Helper()
	for _, n := range e.notices() {
		if n.Channel == channel {
			return n
		}
	}
	e.t.Fatalf("no %s notice", channel)
	return e2eNotice{}
}

func (e *e2e) attempts(id int64) []repo.Attempt {
	e.t.Helper()
	as, err := e.repo.ListAttempts(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return as
}

// hook posts a delivery receipt as the provider would, without a bearer token.
func (e *e2e) hook(path, contentType, body string, header map[string]string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(raw))
}

func aliyunConfig(endpoint string) string {
	return fmt.Sprintf(`
[sms]
provider = "aliyun"
receipt_token = %q
[sms.aliyun]
endpoint = %q
access_key_id = %q
access_key_secret = %q
sign_name = "优品分期"
[[sms.aliyun.templates]]
kind = "due_soon"
locale = "zh-CN"
code = "SMS_465890001"
vars = ["name", "plan", "amount", "due_date", "days", "link_token"]
`, e2eReceiptToken, endpoint, fakeAliyunKeyID, fakeAliyunSecret)
}

func TestAliyunEndToEndWithRetryAndReceipts(t *testing.T) {
	gw := newFakeAliyun(t, "isv.BUSINESS_LIMIT_CONTROL") // the 09:00 rush trips limit control once
	e := startDaemon(t, "", aliyunConfig(gw.URL))
	e.seedLi()

	e.run("dispatch", "--once", "--at", "2026-12-07T10:00:00+08:00")
	sms := e.notice("sms")
	if sms.Status != "pending" || sms.Attempts != 1 {
		t.Fatalf("after limit control: %+v", sms)
	}
	if as := e.attempts(sms.ID); len(as) != 1 || as[0].Outcome != "transient" || as[0].Code != "isv.BUSINESS_LIMIT_CONTROL" {
		t.Fatalf("attempts %+v", as)
	}
	e.run("dispatch", "--once", "--at", "2026-12-07T10:05:00+08:00")
	sms = e.notice("sms")
	if sms.Status != "sent" || sms.Provider != "aliyun" || sms.ProviderMsgID != "biz-2^0" {
		t.Fatalf("after retry: %+v", sms)
	}
	calls := gw.requests()
	if len(calls) != 2 {
		t.Fatalf("%d SendSms calls", len(calls))
	}
	got := calls[1]
	var param map[string]string
	if err := json.Unmarshal([]byte(got["TemplateParam"]), &param); err != nil {
		t.Fatalf("TemplateParam %q: %v", got["TemplateParam"], err)
	}
	want := map[string]string{"name": "李雷", "plan": "Phone X", "amount": "1,000.00", "due_date": "2026年12月10日",
		"days": "3", "link_token": strings.TrimPrefix(sms.Link, "https://pay.example.com/repay?t=")}
	// The log keeps what Aliyun sent (support reads it), not duebell's own text.
	if body := "【优品分期】SMS_465890001 name=李雷, plan=Phone X, amount=1,000.00, due_date=2026年12月10日, days=3, link_token=" +
		want["link_token"]; sms.Body != body {
		t.Errorf("the log's SMS body %q, want %q", sms.Body, body)
	}
	if fmt.Sprint(param) != fmt.Sprint(want) || got["TemplateCode"] != "SMS_465890001" || got["SignName"] != "优品分期" ||
		got["PhoneNumbers"] != "13812345678" || got["OutId"] != fmt.Sprint(sms.ID) || !strings.HasPrefix(sms.Link, "https://pay.example.com/repay?t=") {
		t.Fatalf("SendSms %v, TemplateParam %v, want %v", got, param, want)
	}

	// The delivery report: unsigned, so guarded by the receipt token.
	report := fmt.Sprintf(`[{"phone_number":"13812345678","send_time":"2026-12-07 10:05:00","report_time":"2026-12-07 10:05:03",
		"success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"biz-2^0","out_id":"%d"}]`, sms.ID)
	if status, _ := e.hook("/hooks/sms/aliyun", "application/json", report, nil); status != http.StatusForbidden {
		t.Fatalf("receipt without token: %d", status)
	}
	for range 2 { // providers retry; a duplicate changes nothing
		if status, body := e.hook("/hooks/sms/aliyun?token="+e2eReceiptToken, "application/json", report, nil); status != 200 ||
			body != `{"code":0,"msg":"成功"}` {
			t.Fatalf("receipt: %d %s", status, body)
		}
	}
	if sms = e.notice("sms"); sms.Status != "delivered" {
		t.Fatalf("after the report: %s", sms.Status)
	}
	out := e.run("notifications", "show", fmt.Sprint(sms.ID))
	if !strings.Contains(out, "delivered per aliyun receipt (code DELIVERED)") {
		t.Errorf("delivery log:\n%s", out)
	}
}

func TestTencentEndToEndFixedLinkModeAndPermanentError(t *testing.T) {
	const landing = "https://m.example.com/repay"
	gw := newFakeTencent(t)
	gw.byTo = map[string]string{"+8613900000003": "FailedOperation.PhoneNumberInBlacklist"}
	e := startDaemon(t, fmt.Sprintf("sms_landing_url = %q", landing), fmt.Sprintf(`
[sms]
provider = "tencent"
link_mode = "fixed"
receipt_token = %q
[sms.tencent]
endpoint = %q
secret_id = %q
secret_key = %q
sdk_app_id = %q
sign_name = "优品分期"
[[sms.tencent.templates]]
kind = "due_soon"
locale = "zh-CN"
code = "1987654"
vars = ["name", "amount", "due_date"]
`, e2eReceiptToken, gw.URL, fakeTencentID, fakeTencentKey, fakeTencentAppID))
	e.seedLi()
	e.call("PUT", "/api/v1/customers/wang", `{"name":"王五","phone":"13900000003","email":"wang@example.net","locale":"zh-CN"}`, http.StatusCreated)
	e.call("PUT", "/api/v1/plans/wang-1", `{"customer_ref":"wang","title":"Phone Y","total":50000,"periods":1,
		"installments":[{"seq":1,"due_date":"2026-12-10","amount":50000}]}`, http.StatusCreated)
	e.run("scan", "--at", "2026-12-07T10:00:00+08:00")
	e.run("dispatch", "--once", "--at", "2026-12-07T10:00:00+08:00")

	byCustomer := map[string]e2eNotice{}
	for _, n := range e.notices() {
		byCustomer[n.Customer+"/"+n.Channel] = n
	}
	li, wang := byCustomer["li/sms"], byCustomer["wang/sms"]
	// The log keeps what Tencent sent: the filed template, its variables.
	if li.Status != "sent" || !strings.HasPrefix(li.ProviderMsgID, "2028:serial-") || li.Link != landing ||
		li.Body != "【优品分期】1987654 name=李雷, amount=1,000.00, due_date=2026年12月10日" {
		t.Fatalf("li's SMS %+v", li)
	}
	calls := gw.requests()
	if len(calls) == 2 && calls[0]["PhoneNumber"] != "+8613812345678" {
		calls[0], calls[1] = calls[1], calls[0]
	}
	if len(calls) != 2 || calls[0]["TemplateParamSet"] != "李雷|1,000.00|2026年12月10日" ||
		calls[0]["SessionContext"] != fmt.Sprint(li.ID) || calls[0]["PhoneNumber"] != "+8613812345678" || calls[0]["TemplateId"] != "1987654" {
		t.Fatalf("SendSms requests %v", calls)
	}
	// The email keeps the signed per-user link.
	if em := byCustomer["li/email"]; em.Status != "sent" || !strings.Contains(em.Link, "https://pay.example.com/repay?t=") ||
		!strings.Contains(mustText(t, e.smtp.Messages(), "li@example.net"), em.Link) {
		t.Fatalf("li's email %+v", em)
	}
	// A number the provider refuses is failed at once, never retried.
	if as := e.attempts(wang.ID); wang.Status != "failed" || len(as) != 1 || as[0].Outcome != "permanent" ||
		as[0].Code != "FailedOperation.PhoneNumberInBlacklist" {
		t.Fatalf("wang's SMS %+v attempts %+v", wang, as)
	}
	// Blacklisted usually means unsubscribed: wang's SMS opt-out is set, with
	// the reason, and a push of wang that says nothing of it keeps it.
	wantOptOut := func() {
		t.Helper()
		c := e.call("GET", "/api/v1/customers/wang", "", http.StatusOK)
		if c["sms_opt_out"] != true || c["sms_opt_out_reason"] != "unsubscribed at tencent (FailedOperation.PhoneNumberInBlacklist)" {
			t.Fatalf("wang after the blacklist answer: %v", c)
		}
	}
	wantOptOut()
	e.call("PUT", "/api/v1/customers/wang", `{"name":"王五","phone":"13900000003","email":"wang@example.net","locale":"zh-CN"}`, http.StatusOK)
	wantOptOut()

	cb := `[{"user_receive_time":"2026-12-07 10:00:06","nationcode":"86","mobile":"13812345678","report_status":"SUCCESS",
		"errmsg":"DELIVRD","description":"用户短信送达成功","sid":"` + li.ProviderMsgID + `"}]`
	if status, body := e.hook("/hooks/sms/tencent?token="+e2eReceiptToken, "application/json", cb, nil); status != 200 ||
		body != `{"errmsg":"OK","result":0}` {
		t.Fatalf("status callback: %d %s", status, body)
	}
	for _, n := range e.notices() {
		if n.ID == li.ID && n.Status != "delivered" {
			t.Fatalf("li's SMS after the callback: %s", n.Status)
		}
	}
}

func TestTwilioEndToEndStatusCallback(t *testing.T) {
	gw := newFakeTwilio(t, "429")
	e := startDaemon(t, "", fmt.Sprintf(`
[sms]
provider = "twilio"
[sms.twilio]
endpoint = %q
account_sid = %q
auth_token = %q
from = "+15005550006"
status_callback = %q
`, gw.URL, fakeTwilioSID, fakeTwilioToken, fakeTwilioCallback))
	e.seedLi()
	e.run("dispatch", "--once", "--at", "2026-12-07T10:00:00+08:00")
	e.run("dispatch", "--once", "--at", "2026-12-07T10:05:00+08:00")
	sms := e.notice("sms")
	if as := e.attempts(sms.ID); sms.Status != "sent" || len(as) != 2 || as[0].Outcome != "transient" || as[0].Code != "20429" {
		t.Fatalf("SMS %+v attempts %+v", sms, as)
	}
	calls := gw.requests()
	if len(calls) != 2 || calls[1]["StatusCallback"] != fakeTwilioCallback || calls[1]["Body"] != sms.Body ||
		calls[1]["To"] != "+8613812345678" {
		t.Fatalf("Messages requests %v", calls)
	}

	form := url.Values{"MessageSid": {sms.ProviderMsgID}, "SmsSid": {sms.ProviderMsgID}, "AccountSid": {fakeTwilioSID},
		"MessageStatus": {"delivered"}, "SmsStatus": {"delivered"}, "To": {"+8613812345678"}, "From": {"+15005550006"},
		"ApiVersion": {"2010-04-01"}}
	sig := twilio.Signature(fakeTwilioToken, fakeTwilioCallback, form)
	forged := twilio.Signature("not-the-token", fakeTwilioCallback, form)
	if status, _ := e.hook("/hooks/sms/twilio", "application/x-www-form-urlencoded", form.Encode(),
		map[string]string{"X-Twilio-Signature": forged}); status != http.StatusForbidden {
		t.Fatalf("forged callback: %d", status)
	}
	if n := e.notice("sms"); n.Status != "sent" {
		t.Fatalf("a forged callback moved the notice to %s", n.Status)
	}
	if status, _ := e.hook("/hooks/sms/twilio", "application/x-www-form-urlencoded", form.Encode(),
		map[string]string{"X-Twilio-Signature": sig}); status != 200 {
		t.Fatalf("callback: %d", status)
	}
	if n := e.notice("sms"); n.Status != "delivered" {
		t.Fatalf("after the callback: %s", n.Status)
	}
}

func TestFallbackToEmailWhenTheGatewayRefusesTheSMS(t *testing.T) {
	gw := newFakeGateway(t, "400")
	e := startDaemon(t, "", fmt.Sprintf(`
[sms]
provider = "webhook"
[sms.webhook]
url = %q
secret = %q
[[policy.stage]]
name = "due_soon"
offset_days = -3
kind = "due_soon"
channels = ["sms"]
fallback = "email"
`, gw.URL, fakeGatewaySecret))
	e.seedLi()
	out := e.run("dispatch", "--once", "--at", "2026-12-07T10:00:00+08:00")
	if !strings.Contains(out, "failed     1") || !strings.Contains(out, "sent       1") {
		t.Fatalf("dispatch output:\n%s", out)
	}
	sms, em := e.notice("sms"), e.notice("email")
	mails := e.smtp.Messages()
	if sms.Status != "failed" || em.Status != "sent" || len(mails) != 1 || mails[0].To[0] != "li@example.net" {
		t.Fatalf("sms %+v email %+v, %d mails", sms, em, len(mails))
	}
	if text := mustText(t, mails, "li@example.net"); !strings.Contains(text, "¥1,000.00") || !strings.Contains(text, em.Link) {
		t.Errorf("fallback email text:\n%s", text)
	}
	// The delivery log shows the SMS's permanent failure and its fallback.
	out = e.run("notifications", "show", fmt.Sprint(sms.ID))
	for _, want := range []string{"failed", fmt.Sprintf("fallback: email notice %d", em.ID), "permanent via webhook"} {
		if !strings.Contains(out, want) {
			t.Errorf("notifications show %d lacks %q:\n%s", sms.ID, want, out)
		}
	}
	var detail struct {
		FallbackOf int64 `json:"fallback_of"`
	}
	if err := json.Unmarshal([]byte(e.run("notifications", "show", fmt.Sprint(em.ID), "--json")), &detail); err != nil || detail.FallbackOf != sms.ID {
		t.Errorf("email notice fallback_of %d, %v; want %d", detail.FallbackOf, err, sms.ID)
	}
	// Once: another pass sends nothing more.
	e.run("dispatch", "--once", "--at", "2026-12-07T11:00:00+08:00")
	if n := len(e.smtp.Messages()); n != 1 || len(e.notices()) != 2 {
		t.Errorf("%d mails, %d notices after another pass", n, len(e.notices()))
	}
}

// An English-speaking borrower of a lender that filed only Chinese
// templates with Aliyun gets the Chinese one (defaults.locale), not no
// reminder at all: every such SMS used to fail, no_template (an audit).
func TestAliyunSMSToALocaleWithoutTemplatesGoesOutInTheDefaultLocale(t *testing.T) {
	gw := newFakeAliyun(t)
	e := startDaemon(t, "", aliyunConfig(gw.URL))
	e.call("PUT", "/api/v1/customers/jim", `{"name":"Jim Green","phone":"13912345678","locale":"en"}`, http.StatusCreated)
	e.call("PUT", "/api/v1/plans/jim-1", `{"customer_ref":"jim","merchant":"优品手机","title":"Phone X","total":100000,"periods":1,
		"repay_method":"manual","installments":[{"seq":1,"due_date":"2026-12-10","amount":100000}]}`, http.StatusCreated)
	e.run("scan", "--at", "2026-12-07T10:00:00+08:00")
	e.run("dispatch", "--once", "--at", "2026-12-07T10:00:00+08:00")
	if sms := e.notice("sms"); sms.Status != "sent" {
		t.Fatalf("SMS to an en customer: %s, want sent", sms.Status)
	}
	if calls := gw.requests(); len(calls) != 1 || calls[0]["TemplateCode"] != "SMS_465890001" {
		t.Fatalf("SendSms calls %v, want one with the zh-CN template", calls)
	}
}

func TestTemplatesCheckCoversTheProviderMapping(t *testing.T) {
	gw := newFakeAliyun(t)
	dir := t.TempDir()
	write := func(extra string) string {
		path := filepath.Join(dir, fmt.Sprintf("c%d.toml", len(extra)))
		body := `
[links]
base_url = "https://pay.example.com/repay"
allowed_domains = ["example.com"]
signing_key = "e2e-signing-key-0123456789abcdefghij"
[email]
host = "smtp.example.com"
from = "billing@example.com"
` + aliyunConfig(gw.URL) + extra
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"templates", "check", "--config", write("")}, &out, &errOut); code != 1 {
		t.Fatalf("templates check with one kind mapped: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	flat := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"sms.aliyun template mapping", "due_soon zh-CN SMS_465890001 ok",
		"due_today zh-CN ERROR: no template mapped in sms.aliyun.templates",
		"verification_changed zh-CN ERROR"} {
		if !strings.Contains(flat, want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// Every kind the policy can send by SMS, mapped: the check passes.
	var full strings.Builder
	for _, kind := range kinds.Names() {
		if kind == kinds.DueSoon {
			continue // aliyunConfig maps it
		}
		fmt.Fprintf(&full, "[[sms.aliyun.templates]]\nkind = %q\nlocale = \"zh-CN\"\ncode = \"SMS_%s\"\nvars = [\"name\"]\n", kind, kind)
	}
	out.Reset()
	errOut.Reset()
	if code := Main(context.Background(), []string{"templates", "check", "--config", write(full.String())}, &out, &errOut); code != 0 {
		t.Fatalf("templates check with every kind mapped: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	// ... in zh-CN alone: an English-speaking customer's SMS goes out in it.
	flat = strings.Join(strings.Fields(out.String()), " ")
	if want := "due_soon en SMS_465890001 ok: none filed in en, goes out in zh-CN's"; !strings.Contains(flat, want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}
