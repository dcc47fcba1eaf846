package twilio

import (
	"net/url"
	"testing"
)

// The worked example of Twilio's webhook security guide ("Validating
// requests"): auth token 12345, this URL and these parameters sign to
// 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
func TestSignatureDocumentedExample(t *testing.T) {
	t.Parallel()
	const (
		token = "12345"
		full  = "https://mycompany.com/myapp.php?foo=1&bar=2"
		want  = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	)
	form := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+12349013030"},
		"Digits":  {"1234"},
		"From":    {"+12349013030"},
		"To":      {"+18005551212"},
	}
	if got := Signature(token, full, form); got != want {
		t.Fatalf("Signature = %s, want %s", got, want)
	}
	if !ValidateSignature(token, full, form, want) {
		t.Fatal("ValidateSignature rejects the documented example")
	}
}

// The vector in twilio-go's request_validator_test.go (same URL and token,
// callers +14158675309), including its port handling.
func TestValidateSignatureSDKVectors(t *testing.T) {
	t.Parallel()
	form := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"},
	}
	cases := []struct {
		url, sig string
	}{
		{"https://mycompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		// Signed without the port, validated with one.
		{"https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		// Signed with the default port, validated without it.
		{"https://mycompany.com/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w="},
		{"http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="},
		{"http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
	}
	for _, tc := range cases {
		if !ValidateSignature("12345", tc.url, form, tc.sig) {
			t.Errorf("ValidateSignature(%s, %s) = false", tc.url, tc.sig)
		}
	}
}

func TestValidateSignatureRejects(t *testing.T) {
	t.Parallel()
	full := "https://duebell.example.com/api/v1/receipts/twilio"
	form := url.Values{"MessageSid": {"SM123"}, "MessageStatus": {"delivered"}}
	sig := Signature("token", full, form)
	tampered := url.Values{"MessageSid": {"SM123"}, "MessageStatus": {"undelivered"}}
	cases := map[string]bool{
		"valid":         ValidateSignature("token", full, form, sig),
		"other token":   !ValidateSignature("other", full, form, sig),
		"tampered form": !ValidateSignature("token", full, tampered, sig),
		"other url":     !ValidateSignature("token", full+"?x=1", form, sig),
		"empty sig":     !ValidateSignature("token", full, form, ""),
		"empty token":   !ValidateSignature("", full, form, Signature("", full, form)),
	}
	for name, ok := range cases {
		if !ok {
			t.Errorf("%s: wrong verdict", name)
		}
	}
}
