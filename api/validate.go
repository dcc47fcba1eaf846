package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"duebell/internal/input"
	"duebell/link"
	"duebell/repo"
)

var locales = map[string]bool{"zh-CN": true, "en": true}

const maxRefBytes = 128

// pathRef returns the path value name, checked as a lender reference.
func pathRef(r *http.Request, name string) (string, error) {
	ref := r.PathValue(name)
	if err := fieldRef(name, ref); err != nil {
		return "", err
	}
	return ref, nil
}

// fieldRef checks ref as a lender reference, as the field (or path value) named field.
func fieldRef(field, ref string) error {
	if err := checkRef(ref); err != nil {
		return invalid(field, "%s", err)
	}
	return nil
}

func checkRef(ref string) error {
	if ref == "" {
		return errors.New("is required")
	}
	if len(ref) > maxRefBytes {
		return errors.New("longer than 128 bytes")
	}
	if ref == "." || ref == ".." { // a path segment a browser resolves: the console could not link to it
		return errors.New(`must not be "." or ".."`)
	}
	for _, c := range ref {
		if unicode.IsControl(c) || unicode.IsSpace(c) || c == utf8.RuneError {
			return errors.New("must not contain spaces or control characters")
		}
	}
	return input.BidiControl(ref)
}

// checkText bounds free text such as names and titles.
func checkText(field, s string, max int) error {
	if utf8.RuneCountInString(s) > max {
		return invalid(field, "longer than %d characters", max)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return invalid(field, "must not contain control characters")
		}
	}
	if err := input.BidiControl(s); err != nil {
		return invalid(field, "%s", err)
	}
	// Other invisible formatting (U+200B zero width space, U+00AD soft
	// hyphen, U+2060 word joiner, …) only hides what text says: a host
	// split by one ("evil\u200b.com") passed every check and showed whole.
	// The joiners and directional marks names need stay (isJoiner).
	if i := strings.IndexFunc(s, func(c rune) bool { return unicode.Is(unicode.Cf, c) && !isJoiner(c) }); i >= 0 {
		c, _ := utf8.DecodeRuneInString(s[i:])
		return invalid(field, "must not contain invisible formatting characters (U+%04X)", c)
	}
	return nil
}

// checkMessageText is checkText for text that every message about it
// shows as it is (a customer's name, a plan's merchant and title): it
// may carry no URL off links.allowed_domains either, with or without a
// scheme (checkBareHosts). The dispatcher holds
// every rendered message to that rule and fails one that breaks it, so
// such text, accepted, would make every reminder it is in fail, and the
// borrower would never be reminded.
func (s *server) checkMessageText(field, text string, max int) error {
	if err := checkText(field, text, max); err != nil {
		return err
	}
	var foreign *link.ForeignURLError
	if errors.As(link.CheckURLs(text, s.cfg.AllowedDomains), &foreign) {
		return invalid(field, "must not contain a link off the official domains (links.allowed_domains): %q; every message showing it would be refused", foreign.URL)
	}
	return checkBareHosts(field, text, s.cfg.AllowedDomains, true)
}

// loadTimezone accepts only real IANA zone names (not Local, localtime,
// posixrules, Factory, …).
func loadTimezone(name string) (*time.Location, error) {
	return input.Zone(name)
}

// parseInstant parses an optional RFC 3339 time of something that happened:
// not before 2000 and not more than a day after now (a clock-skewed lender
// is tolerated, a typo is not). paid_at and occurred_at both go through it.
func parseInstant(field, s string, now time.Time) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := input.ParseRFC3339(s)
	if err != nil {
		return nil, invalid(field, "want an RFC 3339 time such as 2025-03-10T08:00:00+08:00")
	}
	if err := input.Past(t, now); err != nil {
		return nil, invalid(field, "%s", err)
	}
	return &t, nil
}

// parseAsOf parses a plan push's as_of (nil when s is empty): an RFC 3339
// instant from 2000 on, at most input.MaxAsOfSkew after now, kept to the
// microsecond as both stores keep it (so a retried push compares equal),
// in UTC as the stores give it back.
func parseAsOf(field, s string, now time.Time) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := input.ParseRFC3339(s)
	if err != nil {
		return nil, invalid(field, "want an RFC 3339 instant such as 2025-03-10T08:00:00+08:00: when the data in this push was read")
	}
	if err := input.AsOf(t, now); err != nil {
		return nil, invalid(field, "%s", err)
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t, nil
}

// parseDate parses a YYYY-MM-DD date between 2000 and 2099.
func parseDate(field, s string) (repo.Date, error) {
	d, err := repo.ParseDate(s)
	if errors.Is(err, repo.ErrNoSuchDay) {
		return d, invalid(field, "%s is not a day of the calendar", s)
	}
	if err != nil {
		return d, invalid(field, "want a date as YYYY-MM-DD")
	}
	if err := input.Date(d.Time); err != nil {
		return d, invalid(field, "%s", err)
	}
	return d, nil
}

// checkAmount checks an amount of money in fen: 0..input.MaxAmount.
func checkAmount(field string, v int64) error {
	if err := input.Amount(v); err != nil {
		return invalid(field, "%s", err)
	}
	return nil
}

// checkQuery checks the decoded path (whose segments become path values)
// and every query parameter of r once, before any handler reads one: a
// query that parses whole (r.URL.Query drops a pair with a bad escape or a
// semicolon, so ?dry_run=true; would have run for real), no parameter
// given twice (which one counts would be a guess, as for a JSON key given
// twice), valid UTF-8 without NUL.
func checkQuery(r *http.Request) *apiError {
	if err := input.Text(r.URL.Path); err != nil {
		return &apiError{http.StatusBadRequest, codeBadQuery, "path: " + err.Error()}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return &apiError{http.StatusBadRequest, codeBadQuery,
			"the query string does not parse (a % not followed by two hex digits, or a ;): " + err.Error()}
	}
	for k, vs := range q {
		if len(vs) > 1 {
			if input.Text(k) != nil {
				k = "a parameter"
			}
			return &apiError{http.StatusBadRequest, codeBadQuery, fmt.Sprintf("%s is given %d times; give it once", k, len(vs))}
		}
	}
	if err := input.Values(q); err != nil {
		return &apiError{http.StatusBadRequest, codeBadQuery, err.Error()}
	}
	return nil
}
