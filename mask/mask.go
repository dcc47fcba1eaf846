// Package mask hides personal data before it reaches a log line.
package mask

import "strings"

// Phone keeps the country code, the first three and the last four digits:
// +8613812345678 becomes +86138****5678, 13812345678 becomes 138****5678.
func Phone(p string) string {
	prefix := ""
	if strings.HasPrefix(p, "+86") {
		prefix, p = "+86", p[3:]
	} else if strings.HasPrefix(p, "+") && len(p) > 3 {
		prefix, p = p[:3], p[3:]
	}
	if len(p) <= 7 {
		return prefix + strings.Repeat("*", len(p))
	}
	return prefix + p[:3] + "****" + p[len(p)-4:]
}

// Email keeps the first letter of the local part and the domain:
// alice@example.com becomes a***@example.com.
func Email(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return "***"
	}
	return local[:1] + "***@" + domain
}

// Contact masks a phone number or an email address, whichever it is.
func Contact(c string) string {
	if strings.Contains(c, "@") {
		return Email(c)
	}
	return Phone(c)
}
