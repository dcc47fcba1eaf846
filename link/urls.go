package link

import (
	"fmt"
	"html"
	"strings"
)

// ForeignURLError reports a URL whose host is not an allowed domain, or,
// where no domain is allowed (NoneAllowed: a message that may carry no URL,
// such as a security notice), any URL.
type ForeignURLError struct {
	URL         string
	NoneAllowed bool
}

func (e *ForeignURLError) Error() string {
	if e.NoneAllowed {
		return fmt.Sprintf("link: URL %q in a message that may carry no URL", e.URL)
	}
	return fmt.Sprintf("link: URL %q is not on an allowed domain", e.URL)
}

// CheckURLs finds every URL in text, plain or HTML, and returns a
// *ForeignURLError for the first one whose host is neither one of allowed nor
// a subdomain of one. Hosts compare case-insensitively and without the port.
//
// It looks for scheme://… and lenient http(s): forms, bare "www." hosts,
// bare host/path forms such as "evil.io/pay", and the values of URL
// attributes (href, src, action, …) and CSS url(…), scheme-less or not, with
// HTML entities decoded. It fails closed: a URL with user info
// ("https://example.com@evil.io/"), an IP literal, a non-numeric port, a
// javascript:/data:/other scheme in an attribute, or a host it cannot read
// is foreign. mailto:, tel: and sms: attributes and "#fragment" links are
// not URLs to a host and pass. A host must end at a delimiter: text glued to
// it ("https://example.com还款") makes the host foreign, so templates should
// put a space or a path after a bare host.
//
// An empty allowed list makes every URL foreign, so CheckURLs(s, nil) == nil
// means s carries no URL at all.
func CheckURLs(text string, allowed []string) error {
	al := normalizeAllowed(allowed)
	if err := checkText(text, al); err != nil {
		return err
	}
	if u := html.UnescapeString(text); u != text {
		return checkText(u, al)
	}
	return nil
}

func checkText(text string, allowed []string) error {
	for _, c := range findURLs(text) {
		if c.skip {
			continue
		}
		if c.foreign || !hostAllowed(c.authority, allowed) {
			return &ForeignURLError{URL: c.display, NoneAllowed: len(allowed) == 0}
		}
	}
	return nil
}

// hostAllowed reports whether authority names an allowed host.
func hostAllowed(authority string, allowed []string) bool {
	host, ok := hostOf(authority)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if host == a || strings.HasSuffix(host, "."+a) {
			return true
		}
	}
	return false
}

// hostOf extracts the host from a URL authority, or reports false for
// anything suspicious.
func hostOf(authority string) (string, bool) {
	if authority == "" || strings.ContainsAny(authority, "@[]") {
		return "", false
	}
	host, port, hasPort := strings.Cut(authority, ":")
	if hasPort && strings.Trim(port, "0123456789") != "" {
		return "", false
	}
	if strings.Contains(host, "%") {
		h, err := unescapeHost(host)
		if err != nil {
			return "", false
		}
		host = h
	}
	host = idnDots.Replace(host)
	host = strings.TrimSuffix(asciiLower(host), ".")
	if host == "" || strings.ContainsAny(host, "/\\?#@:%[] \t\r\n") || strings.Contains(host, "..") {
		return "", false
	}
	return host, true
}

// idnDots are the full stops IDNA maps to ".".
var idnDots = strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".")

func normalizeAllowed(allowed []string) []string {
	out := make([]string, 0, len(allowed))
	for _, a := range allowed {
		a = asciiLower(strings.TrimSpace(a))
		if _, rest, ok := strings.Cut(a, "://"); ok {
			a = rest
		}
		a, _, _ = strings.Cut(a, "/")
		a, _, _ = strings.Cut(a, ":")
		a = strings.Trim(strings.TrimPrefix(a, "*."), ".")
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

func unescapeHost(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
