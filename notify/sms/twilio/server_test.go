package twilio

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"duebell/notify/sms/internal/smstest"
)

// fakeTwilio is an httptest stand-in for api.twilio.com's Messages
// endpoint. It authenticates the request the way the REST API does (HTTP
// Basic, AccountSid:AuthToken), checks the path and the form encoding, and
// answers a failure with Twilio's error body.
type fakeTwilio struct {
	t          *testing.T
	accountSID string
	authToken  string
	reply      func(w http.ResponseWriter, form url.Values)
	smstest.Recorder[posted]
}

type posted struct {
	Form   url.Values
	Header http.Header
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	smstest.WriteJSON(w, status, map[string]any{
		"code": code, "message": msg, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + itoa(code),
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wantPath := "/2010-04-01/Accounts/" + f.accountSID + "/Messages.json"
	if r.Method != http.MethodPost || r.URL.Path != wantPath {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(f.accountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(f.authToken)) != 1 {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		writeError(w, http.StatusBadRequest, 20001, "unexpected Content-Type "+r.Header.Get("Content-Type"))
		return
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, 20001, "bad form: "+err.Error())
		return
	}
	f.Record(posted{Form: form, Header: r.Header.Clone()})
	f.reply(w, form)
}

func newFake(t *testing.T, reply func(w http.ResponseWriter, form url.Values)) (*fakeTwilio, *httptest.Server) {
	f := &fakeTwilio{t: t, accountSID: "AC0123456789abcdef0123456789abcdef", authToken: "auth-token", reply: reply}
	return f, smstest.Serve(t, f)
}

func created(sid string) func(http.ResponseWriter, url.Values) {
	return func(w http.ResponseWriter, form url.Values) {
		smstest.WriteJSON(w, http.StatusCreated, map[string]any{
			"sid": sid, "status": "queued", "to": form.Get("To"), "body": form.Get("Body"),
			"error_code": nil, "error_message": nil,
		})
	}
}
