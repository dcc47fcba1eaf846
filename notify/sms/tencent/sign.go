package tencent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the signature method of API 3.0.
const Algorithm = "TC3-HMAC-SHA256"

// SignInput is what TC3-HMAC-SHA256 covers. Only content-type and host are
// signed, as in the documentation's examples.
type SignInput struct {
	Method         string // POST or GET
	CanonicalURI   string // "/" for API 3.0
	CanonicalQuery string // "" for POST
	ContentType    string // the Content-Type header exactly as sent
	Host           string
	Payload        []byte
	Service        string // product, e.g. "sms"
	Timestamp      int64  // X-TC-Timestamp
}

// SignedHeaders lists the headers CanonicalRequest signs.
const SignedHeaders = "content-type;host"

// HashPayload is Lowercase(HexEncode(SHA256(payload))).
func HashPayload(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

// CanonicalRequest is
//
//	HTTPRequestMethod \n CanonicalURI \n CanonicalQueryString \n
//	CanonicalHeaders \n SignedHeaders \n HashedRequestPayload
//
// where header keys and values are lower-cased and trimmed.
func CanonicalRequest(in SignInput) string {
	headers := "content-type:" + strings.ToLower(strings.TrimSpace(in.ContentType)) + "\n" +
		"host:" + strings.ToLower(strings.TrimSpace(in.Host)) + "\n"
	return strings.Join([]string{
		strings.ToUpper(in.Method),
		in.CanonicalURI,
		in.CanonicalQuery,
		headers,
		SignedHeaders,
		HashPayload(in.Payload),
	}, "\n")
}

// Date is the UTC date of the timestamp, as the credential scope needs it
// (never the local date: 1551113065 is 2019-02-25, not 2019-02-26).
func Date(timestamp int64) string {
	return time.Unix(timestamp, 0).UTC().Format("2006-01-02")
}

// CredentialScope is Date/service/tc3_request.
func CredentialScope(in SignInput) string {
	return Date(in.Timestamp) + "/" + in.Service + "/tc3_request"
}

// StringToSign is Algorithm \n RequestTimestamp \n CredentialScope \n
// HashedCanonicalRequest.
func StringToSign(in SignInput) string {
	sum := sha256.Sum256([]byte(CanonicalRequest(in)))
	return Algorithm + "\n" + strconv.FormatInt(in.Timestamp, 10) + "\n" +
		CredentialScope(in) + "\n" + hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Signature derives the signing key and signs:
//
//	SecretDate    = HMAC_SHA256("TC3" + SecretKey, Date)
//	SecretService = HMAC_SHA256(SecretDate, Service)
//	SecretSigning = HMAC_SHA256(SecretService, "tc3_request")
//	Signature     = HexEncode(HMAC_SHA256(SecretSigning, StringToSign))
func Signature(secretKey string, in SignInput) string {
	secretDate := hmacSHA256([]byte("TC3"+secretKey), Date(in.Timestamp))
	secretService := hmacSHA256(secretDate, in.Service)
	secretSigning := hmacSHA256(secretService, "tc3_request")
	return hex.EncodeToString(hmacSHA256(secretSigning, StringToSign(in)))
}

// Authorization is the header value:
//
//	TC3-HMAC-SHA256 Credential=<SecretId>/<CredentialScope>, SignedHeaders=content-type;host, Signature=<sig>
func Authorization(secretID, secretKey string, in SignInput) string {
	return Algorithm + " Credential=" + secretID + "/" + CredentialScope(in) +
		", SignedHeaders=" + SignedHeaders + ", Signature=" + Signature(secretKey, in)
}
