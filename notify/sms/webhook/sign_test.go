package webhook_test

import (
	"testing"

	"duebell/notify/sms/webhook"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("key")
	body := []byte("The quick brown fox jumps over the lazy dog")
	// The well-known HMAC-SHA256 test value for this key and message.
	const want = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	if got := webhook.Sign(secret, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !webhook.Verify(secret, body, want) {
		t.Error("Verify rejects a good signature")
	}
	for _, bad := range []string{
		"",
		want[len("sha256="):],                   // no prefix
		"sha1=" + want[len("sha256="):],         // wrong scheme
		want[:len(want)-1] + "9",                // wrong MAC
		"sha256=zz",                             // not hex
		webhook.Sign([]byte("other key"), body), // wrong key
	} {
		if webhook.Verify(secret, body, bad) {
			t.Errorf("Verify accepted %q", bad)
		}
	}
	if webhook.Verify(secret, append(body, '.'), want) {
		t.Error("Verify accepted a changed body")
	}
}
