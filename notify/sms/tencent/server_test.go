package tencent

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"duebell/notify/sms/internal/smstest"
)

// fakeSMS is an httptest stand-in for sms.tencentcloudapi.com. It rebuilds
// the TC3 canonical request from the raw request (method, path, query,
// Content-Type, Host, body, X-TC-Timestamp), recomputes the Authorization with
// the key it knows and answers a mismatch the way API 3.0 does: HTTP 200 with
// Response.Error AuthFailure.SignatureFailure.
type fakeSMS struct {
	t         *testing.T
	secretID  string
	secretKey string
	region    string
	reply     func(w http.ResponseWriter, req sendSmsRequest)
	smstest.Recorder[received]
}

type received struct {
	Body   sendSmsRequest
	Header http.Header
}

func replyError(w http.ResponseWriter, code, msg string) {
	smstest.WriteJSON(w, http.StatusOK, map[string]any{"Response": map[string]any{
		"Error": map[string]string{"Code": code, "Message": msg}, "RequestId": "req-err",
	}})
}

func (f *fakeSMS) reject(w http.ResponseWriter, code, msg string) {
	f.t.Logf("fake sms rejects: %s: %s", code, msg)
	replyError(w, code, msg)
}

func (f *fakeSMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		f.reject(w, "UnsupportedProtocol", r.Method+" "+r.URL.Path)
		return
	case r.Header.Get("X-TC-Action") != Action:
		f.reject(w, "InvalidAction", r.Header.Get("X-TC-Action"))
		return
	case r.Header.Get("X-TC-Version") != Version:
		f.reject(w, "NoSuchVersion", r.Header.Get("X-TC-Version"))
		return
	case r.Header.Get("X-TC-Region") != f.region:
		f.reject(w, "UnsupportedRegion", r.Header.Get("X-TC-Region"))
		return
	case r.Header.Get("Content-Type") != ContentType:
		f.reject(w, "InvalidParameter", "Content-Type "+r.Header.Get("Content-Type"))
		return
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		f.reject(w, "MissingParameter", "X-TC-Timestamp")
		return
	}
	auth := r.Header.Get("Authorization")
	wantPrefix := Algorithm + " Credential=" + f.secretID + "/" + Date(ts) + "/" + Service + "/tc3_request, SignedHeaders=content-type;host, Signature="
	if !strings.HasPrefix(auth, wantPrefix) {
		f.reject(w, "AuthFailure.InvalidAuthorization", auth)
		return
	}
	want := Authorization(f.secretID, f.secretKey, SignInput{
		Method:         r.Method,
		CanonicalURI:   r.URL.EscapedPath(),
		CanonicalQuery: r.URL.RawQuery,
		ContentType:    r.Header.Get("Content-Type"),
		Host:           r.Host,
		Payload:        body,
		Service:        Service,
		Timestamp:      ts,
	})
	if !hmac.Equal([]byte(want), []byte(auth)) {
		f.reject(w, "AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
		return
	}
	var req sendSmsRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		f.reject(w, "FailedOperation.JsonParseFail", err.Error())
		return
	}
	f.Record(received{Body: req, Header: r.Header.Clone()})
	f.reply(w, req)
}

func newFake(t *testing.T, reply func(w http.ResponseWriter, req sendSmsRequest)) (*fakeSMS, *httptest.Server) {
	f := &fakeSMS{t: t, secretID: "AKIDexample", secretKey: "example-key", region: "ap-guangzhou", reply: reply}
	return f, smstest.Serve(t, f)
}

// statusReply answers with one SendStatus of the given code.
func statusReply(code, serial string) func(http.ResponseWriter, sendSmsRequest) {
	return func(w http.ResponseWriter, req sendSmsRequest) {
		smstest.WriteJSON(w, http.StatusOK, map[string]any{"Response": map[string]any{
			"SendStatusSet": []map[string]any{{
				"SerialNo": serial, "PhoneNumber": req.PhoneNumberSet[0], "Fee": 1,
				"SessionContext": req.SessionContext, "Code": code,
				"Message": "send " + code + " for " + req.PhoneNumberSet[0], "IsoCode": "CN",
			}},
			"RequestId": "req-1",
		}})
	}
}
