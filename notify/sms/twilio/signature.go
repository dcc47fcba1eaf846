package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"net/url"
	"sort"
	"strings"
)

// Signature computes X-Twilio-Signature as the webhook security guide
// describes: take the full URL of the request (with its query string), append
// each POST parameter's name and value with no delimiters, sorted by name,
// HMAC-SHA1 the result keyed with the auth token and Base64-encode it. A
// parameter sent more than once contributes each value, in sorted order.
func Signature(authToken, fullURL string, form url.Values) string {
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		vals := append([]string(nil), form[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ValidateSignature reports whether signature (the X-Twilio-Signature header)
// signs fullURL and form with authToken, comparing in constant time. Like
// Twilio's request validators (twilio-go, twilio-python), it also accepts the
// signature computed over the URL without its port, or with the scheme's
// default port when it has none, since proxies rewrite ports. It returns false
// for an empty token or signature.
func ValidateSignature(authToken, fullURL string, form url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	for _, u := range urlVariants(fullURL) {
		if hmac.Equal([]byte(Signature(authToken, u, form)), []byte(signature)) {
			return true
		}
	}
	return false
}

// urlVariants is fullURL as given, then without its port, or with the
// default port added when it has none.
func urlVariants(fullURL string) []string {
	out := []string{fullURL}
	u, err := url.Parse(fullURL)
	if err != nil || u.Host == "" {
		return out
	}
	alt := *u
	if u.Port() != "" {
		alt.Host = u.Hostname()
		if strings.Contains(alt.Host, ":") { // IPv6 literal
			alt.Host = "[" + alt.Host + "]"
		}
	} else if def := map[string]string{"https": "443", "http": "80"}[u.Scheme]; def != "" {
		alt.Host = net.JoinHostPort(u.Hostname(), def)
	} else {
		return out
	}
	return append(out, alt.String())
}
