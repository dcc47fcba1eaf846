package api

import (
	"errors"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"
)

var locales = map[string]bool{"zh-CN": true, "en": true}

const maxRefBytes = 128

// pathRef returns the path value name, checked as a lender reference.
func pathRef(r *http.Request, name string) (string, error) {
	ref := r.PathValue(name)
	if err := checkRef(ref); err != nil {
		return "", invalid(name, "%s", err)
	}
	return ref, nil
}

func checkRef(ref string) error {
	if ref == "" {
		return errors.New("is required")
	}
	if len(ref) > maxRefBytes {
		return errors.New("longer than 128 bytes")
	}
	for _, c := range ref {
		if unicode.IsControl(c) || unicode.IsSpace(c) || c == utf8.RuneError {
			return errors.New("must not contain spaces or control characters")
		}
	}
	return nil
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
	return nil
}

func loadTimezone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errors.New("want an IANA time zone such as Asia/Shanghai")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errors.New("unknown time zone; want an IANA name such as Asia/Shanghai")
	}
	return loc, nil
}

// parseInstant parses an optional RFC 3339 time that may not lie more than a
// day after now (a clock-skewed lender is tolerated, a typo is not).
func parseInstant(field, s string, now time.Time) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, invalid(field, "want an RFC 3339 time such as 2025-03-10T08:00:00+08:00")
	}
	if t.After(now.Add(24 * time.Hour)) {
		return nil, invalid(field, "more than 24 hours in the future")
	}
	return &t, nil
}
