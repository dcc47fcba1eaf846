package cli

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"duebell/notify/sms/aliyun"
	"duebell/notify/sms/tencent"
	"duebell/notify/sms/webhook"
)

// Fake SMS providers for the end-to-end tests. Each authenticates a request
// the way its provider documents it — recomputing the signature from the
// raw request with the secret it shares with duebell — records what it
// accepted, and answers with the codes a test scripts (success when none).

type fakeProvider struct {
	*httptest.Server
	t       *testing.T
	mu      sync.Mutex
	script  []string          // reply codes, in order; "" or exhausted: success
	byTo    map[string]string // reply codes by recipient, ahead of script
	calls   []map[string]string
	headers []http.Header
}

func (f *fakeProvider) next(fields map[string]string, h http.Header, to string) (code string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fields)
	f.headers = append(f.headers, h.Clone())
	if c, ok := f.byTo[to]; ok {
		return c, len(f.calls)
	}
	if len(f.script) > 0 {
		code, f.script = f.script[0], f.script[1:]
	}
	return code, len(f.calls)
}

func (f *fakeProvider) requests() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]string(nil), f.calls...)
}

func (f *fakeProvider) reject(w http.ResponseWriter, status int, body any) {
	f.t.Errorf("fake provider refused a request: %v", body)
	writeFakeJSON(w, status, body)
}

func writeFakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

const (
	fakeAliyunKeyID    = "LTAI5tE2EExample"
	fakeAliyunSecret   = "aliyun-e2e-secret"
	fakeTencentID      = "AKIDe2eExample"
	fakeTencentKey     = "tencent-e2e-key"
	fakeTwilioSID      = "AC0123456789abcdef0123456789abcdef"
	fakeTwilioToken    = "twilio-e2e-token"
	fakeGatewaySecret  = "gateway-e2e-secret"
	fakeTencentAppID   = "1400000001"
	fakeTwilioCallback = "https://duebell.example.com/hooks/sms/twilio"
)

// newFakeAliyun verifies ACS3-HMAC-SHA256 over the canonical request rebuilt
// from the request it got, and answers SendSms.
func newFakeAliyun(t *testing.T, script ...string) *fakeProvider {
	f := &fakeProvider{t: t, script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		parts := map[string]string{}
		for _, kv := range strings.Split(strings.TrimPrefix(auth, aliyun.Algorithm+" "), ",") {
			k, v, _ := strings.Cut(kv, "=")
			parts[k] = v
		}
		headers := map[string]string{}
		for _, name := range strings.Split(parts["SignedHeaders"], ";") {
			headers[name] = r.Header.Get(name)
		}
		headers["host"] = r.Host
		want := aliyun.Sign(fakeAliyunKeyID, fakeAliyunSecret, aliyun.SignInput{Method: r.Method, Path: r.URL.EscapedPath(),
			Query: r.URL.Query(), Headers: headers})
		if auth != want || r.Header.Get("x-acs-content-sha256") != aliyun.HashPayload(body) ||
			r.Header.Get("x-acs-action") != "SendSms" || !strings.Contains(parts["SignedHeaders"], "x-acs-signature-nonce") {
			f.reject(w, http.StatusBadRequest, map[string]string{"Code": "SignatureDoesNotMatch", "RequestId": "r"})
			return
		}
		q := r.URL.Query()
		fields := map[string]string{}
		for k := range q {
			fields[k] = q.Get(k)
		}
		code, n := f.next(fields, r.Header, q.Get("PhoneNumbers"))
		if code == "" {
			code = "OK"
		}
		msg := code
		if code == "isv.BUSINESS_LIMIT_CONTROL" { // Aliyun names the limit it tripped
			msg = "触发分钟级流控Permits:1"
		}
		writeFakeJSON(w, http.StatusOK, map[string]string{"Code": code, "Message": msg, "BizId": fmt.Sprintf("biz-%d^0", n),
			"RequestId": fmt.Sprintf("req-%d", n)})
	}))
	t.Cleanup(f.Close)
	return f
}

// newFakeTencent verifies TC3-HMAC-SHA256 and answers SendSms with one
// SendStatus; a scripted code other than "Ok" is that status's Code.
func newFakeTencent(t *testing.T, script ...string) *fakeProvider {
	f := &fakeProvider{t: t, script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
		want := tencent.Authorization(fakeTencentID, fakeTencentKey, tencent.SignInput{Method: r.Method,
			CanonicalURI: r.URL.EscapedPath(), CanonicalQuery: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"),
			Host: r.Host, Payload: body, Service: "sms", Timestamp: ts})
		if r.Header.Get("Authorization") != want || r.Header.Get("X-TC-Action") != "SendSms" || r.Header.Get("X-TC-Version") != "2021-01-11" {
			f.reject(w, http.StatusOK, map[string]any{"Response": map[string]any{
				"Error": map[string]string{"Code": "AuthFailure.SignatureFailure", "Message": "bad signature"}}})
			return
		}
		var req struct {
			PhoneNumberSet   []string
			SmsSdkAppId      string
			SignName         string
			TemplateId       string
			TemplateParamSet []string
			SessionContext   string
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || len(req.PhoneNumberSet) != 1 || req.SmsSdkAppId != fakeTencentAppID {
			f.reject(w, http.StatusOK, map[string]any{"Response": map[string]any{
				"Error": map[string]string{"Code": "InvalidParameter", "Message": fmt.Sprint(err)}}})
			return
		}
		code, n := f.next(map[string]string{"PhoneNumber": req.PhoneNumberSet[0], "SignName": req.SignName,
			"TemplateId": req.TemplateId, "TemplateParamSet": strings.Join(req.TemplateParamSet, "|"),
			"SessionContext": req.SessionContext}, r.Header, req.PhoneNumberSet[0])
		if code == "" {
			code = "Ok"
		}
		writeFakeJSON(w, http.StatusOK, map[string]any{"Response": map[string]any{
			"SendStatusSet": []map[string]any{{"SerialNo": fmt.Sprintf("2028:serial-%d", n), "PhoneNumber": req.PhoneNumberSet[0],
				"SessionContext": req.SessionContext, "Code": code, "Message": code, "IsoCode": "CN"}},
			"RequestId": fmt.Sprintf("req-%d", n)}})
	}))
	t.Cleanup(f.Close)
	return f
}

// newFakeTwilio authenticates with HTTP Basic (AccountSid:AuthToken) and
// answers the Messages resource; a scripted "429" or "21211" is that error.
func newFakeTwilio(t *testing.T, script ...string) *fakeProvider {
	f := &fakeProvider{t: t, script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user+":"+pass), []byte(fakeTwilioSID+":"+fakeTwilioToken)) != 1 ||
			r.URL.Path != "/2010-04-01/Accounts/"+fakeTwilioSID+"/Messages.json" {
			f.reject(w, http.StatusUnauthorized, map[string]any{"code": 20003, "message": "Authenticate", "status": 401})
			return
		}
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil {
			f.reject(w, http.StatusBadRequest, map[string]any{"code": 20001, "message": "bad form", "status": 400})
			return
		}
		fields := map[string]string{}
		for k := range form {
			fields[k] = form.Get(k)
		}
		switch code, n := f.next(fields, r.Header, form.Get("To")); code {
		case "":
			writeFakeJSON(w, http.StatusCreated, map[string]any{"sid": fmt.Sprintf("SM%032d", n), "status": "queued"})
		case "429":
			writeFakeJSON(w, http.StatusTooManyRequests, map[string]any{"code": 20429, "message": "Too Many Requests", "status": 429})
		default:
			c, _ := strconv.Atoi(code)
			writeFakeJSON(w, http.StatusBadRequest, map[string]any{"code": c, "message": "rejected", "status": 400})
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// newFakeGateway is a webhook SMS gateway checking X-Duebell-Signature; a
// scripted HTTP status (e.g. "400") is answered instead of accepting.
func newFakeGateway(t *testing.T, script ...string) *fakeProvider {
	f := &fakeProvider{t: t, script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !webhook.Verify([]byte(fakeGatewaySecret), body, r.Header.Get(webhook.SignatureHeader)) {
			f.reject(w, http.StatusUnauthorized, map[string]string{"error": "bad signature"})
			return
		}
		var m map[string]string
		_ = json.Unmarshal(body, &m)
		code, n := f.next(m, r.Header, m["to"])
		if status, _ := strconv.Atoi(code); status >= 400 {
			writeFakeJSON(w, status, map[string]string{"error": "invalid number"})
			return
		}
		writeFakeJSON(w, http.StatusOK, map[string]string{"id": fmt.Sprintf("gw-%d", n)})
	}))
	t.Cleanup(f.Close)
	return f
}
