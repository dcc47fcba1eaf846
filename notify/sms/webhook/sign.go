package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureHeader carries Sign(secret, body) on every request.
const SignatureHeader = "X-Duebell-Signature"

const signaturePrefix = "sha256="

// Sign returns the X-Duebell-Signature value for body: "sha256=" followed by
// the lower-case hex HMAC-SHA256 of the raw request body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is a valid signature of body under secret.
// A gateway should run it on the raw body before parsing it. The comparison
// is constant-time.
func Verify(secret, body []byte, header string) bool {
	got, ok := strings.CutPrefix(strings.TrimSpace(header), signaturePrefix)
	if !ok {
		return false
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(gotMAC, mac.Sum(nil))
}
