package aliyun

import (
	"crypto/hmac"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"duebell/notify/sms/internal/smstest"
)

// fakeDysms is an httptest stand-in for dysmsapi.aliyuncs.com. It verifies
// each request the way the V3 signature document describes: it rebuilds the
// canonical request from the raw request (method, path, query, the headers
// named in SignedHeaders, the payload hash), recomputes the signature with the
// secret it knows and rejects a mismatch as the gateway does.
type fakeDysms struct {
	t      *testing.T
	keyID  string
	secret string
	reply  func(w http.ResponseWriter, q url.Values)
	smstest.Recorder[seen]
}

type seen struct {
	Query  url.Values
	Header http.Header
}

func (f *fakeDysms) reject(w http.ResponseWriter, status int, code, msg string) {
	f.t.Logf("fake dysmsapi rejects: %s: %s", code, msg)
	smstest.WriteJSON(w, status, map[string]string{"Code": code, "Message": msg, "RequestId": "REJECTED"})
}

func (f *fakeDysms) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method != http.MethodPost:
		f.reject(w, 400, "UnsupportedHTTPMethod", r.Method)
		return
	case r.URL.Path != "/":
		f.reject(w, 404, "InvalidAction.NotFound", r.URL.Path)
		return
	case r.Header.Get("x-acs-action") != Action || r.Header.Get("x-acs-version") != Version:
		f.reject(w, 400, "InvalidAction.NotFound", r.Header.Get("x-acs-action")+" "+r.Header.Get("x-acs-version"))
		return
	case r.Header.Get("x-acs-content-sha256") != HashPayload(body):
		f.reject(w, 400, "SignatureDoesNotMatch", "x-acs-content-sha256 does not hash the body")
		return
	case r.Header.Get("x-acs-date") == "" || r.Header.Get("x-acs-signature-nonce") == "":
		f.reject(w, 400, "MissingParameter", "x-acs-date or x-acs-signature-nonce")
		return
	}

	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, Algorithm+" ")
	if !ok {
		f.reject(w, 400, "IncompleteSignature", "algorithm")
		return
	}
	parts := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(kv, "=")
		parts[k] = v
	}
	if parts["Credential"] != f.keyID {
		f.reject(w, 404, "InvalidAccessKeyId.NotFound", parts["Credential"])
		return
	}
	// Every common header except Authorization must be signed.
	signed := strings.Split(parts["SignedHeaders"], ";")
	for _, must := range []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"} {
		if !contains(signed, must) {
			f.reject(w, 400, "IncompleteSignature", must+" is not signed")
			return
		}
	}
	headers := map[string]string{}
	for _, name := range signed {
		if name == "host" {
			headers[name] = r.Host
		} else {
			headers[name] = r.Header.Get(name)
		}
	}
	want := Sign(f.keyID, f.secret, SignInput{
		Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Headers: headers,
	})
	if !hmac.Equal([]byte(want), []byte(auth)) {
		f.reject(w, 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
		return
	}

	f.Record(seen{Query: r.URL.Query(), Header: r.Header.Clone()})
	f.reply(w, r.URL.Query())
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func newFake(t *testing.T, reply func(w http.ResponseWriter, q url.Values)) (*fakeDysms, *httptest.Server) {
	f := &fakeDysms{t: t, keyID: "LTAIexampleid", secret: "example-secret", reply: reply}
	return f, smstest.Serve(t, f)
}
