package aliyun

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// Algorithm is the only V3 signature algorithm Aliyun accepts.
const Algorithm = "ACS3-HMAC-SHA256"

// SignInput is what ACS3-HMAC-SHA256 covers, as described in "V3 request
// syntax and signature method", step 1.
type SignInput struct {
	Method string // upper case
	// Path is the resource path; "/" for RPC-style APIs such as SendSms.
	Path  string
	Query url.Values
	// Headers are the request headers. Those named host, content-type or
	// x-acs-* are signed; x-acs-content-sha256 must already hold HashPayload(body).
	Headers map[string]string
}

// HashPayload is HashedRequestPayload: lower-case hex SHA-256 of the body
// (of the empty string when there is no body).
func HashPayload(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// PercentEncode encodes s per RFC 3986 as the V3 document requires:
// A–Z a–z 0–9 - _ . ~ stay, everything else becomes %XY (space is %20).
func PercentEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// CanonicalQuery sorts parameters by name, encodes names and values with
// PercentEncode and joins them as k=v&k=v. The same string is what Client
// sends as the URL's query, so the bytes signed are the bytes sent.
func CanonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, PercentEncode(k)+"="+PercentEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

// canonicalPath encodes each path segment; RPC APIs use "/".
func canonicalPath(p string) string {
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = PercentEncode(s)
	}
	return strings.Join(segs, "/")
}

// CanonicalRequest returns the canonical request and the SignedHeaders list:
//
//	HTTPRequestMethod \n CanonicalURI \n CanonicalQueryString \n
//	CanonicalHeaders \n SignedHeaders \n HashedRequestPayload
func CanonicalRequest(in SignInput) (canonical, signedHeaders string) {
	hdr := map[string]string{}
	for k, v := range in.Headers {
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "host" || k == "content-type" || strings.HasPrefix(k, "x-acs-") {
			hdr[k] = strings.TrimSpace(v)
		}
	}
	names := make([]string, 0, len(hdr))
	for k := range hdr {
		names = append(names, k)
	}
	sort.Strings(names)
	var ch strings.Builder
	for _, k := range names {
		ch.WriteString(k + ":" + hdr[k] + "\n")
	}
	signedHeaders = strings.Join(names, ";")
	canonical = strings.Join([]string{
		strings.ToUpper(in.Method),
		canonicalPath(in.Path),
		CanonicalQuery(in.Query),
		ch.String(),
		signedHeaders,
		hdr["x-acs-content-sha256"],
	}, "\n")
	return canonical, signedHeaders
}

// StringToSign is "ACS3-HMAC-SHA256\n" + HexEncode(SHA256(CanonicalRequest)).
func StringToSign(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return Algorithm + "\n" + hex.EncodeToString(sum[:])
}

// Signature is HexEncode(HMAC-SHA256(AccessKeySecret, StringToSign)).
func Signature(secret, stringToSign string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// Sign returns the Authorization header value:
//
//	ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<...>,Signature=<...>
func Sign(accessKeyID, accessKeySecret string, in SignInput) string {
	canonical, signed := CanonicalRequest(in)
	sig := Signature(accessKeySecret, StringToSign(canonical))
	return Algorithm + " Credential=" + accessKeyID + ",SignedHeaders=" + signed + ",Signature=" + sig
}
