// Package phone normalises borrower phone numbers to E.164.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is wrapped by every error Normalize returns.
var ErrInvalid = errors.New("invalid phone number")

// Normalize returns raw in E.164 form (+8613812345678). Spaces, dashes and
// parentheses are ignored. A number that starts with + is international:
// +86 must be followed by a mainland mobile number (1[3-9] and nine more
// digits); any other number must be valid in its country's numbering plan
// as libphonenumber (github.com/nyaruka/phonenumbers) has it.
// Without a +, only the default region's national forms are accepted; for
// "CN" (also used when defaultRegion is empty) that is a mainland mobile
// number, optionally prefixed with 86, or any number written with China's
// international prefix 00 instead of + (0086 138…, 00852 …). Errors never
// repeat the number.
func Normalize(raw, defaultRegion string) (string, error) {
	s := strip(raw)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	intl := strings.HasPrefix(s, "+")
	digits := strings.TrimPrefix(s, "+")
	if !allDigits(digits) {
		return "", fmt.Errorf("%w: only digits, spaces, dashes, parentheses and a leading + are allowed", ErrInvalid)
	}
	if rest, ok := strings.CutPrefix(digits, "00"); ok && !intl && isCN(defaultRegion) {
		intl, digits = true, rest // 0086 138…: the international prefix dialled from China, as +
	}
	if intl {
		if national, ok := strings.CutPrefix(digits, "86"); ok {
			return mainland(national)
		}
		if len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
			return "", fmt.Errorf("%w: want a country code and 8 to 15 digits in all after +", ErrInvalid)
		}
		// libphonenumber's plan of each country: a country code no country
		// has (+999), a number too short or long for its country, a range
		// not in use, which no SMS reaches. Its E.164 form drops a trunk 0
		// written after the country code (+44 (0)20 …), which no SMS would
		// reach either.
		n, err := phonenumbers.Parse("+"+digits, "")
		if err != nil || !phonenumbers.IsValidNumber(n) {
			return "", fmt.Errorf("%w: not a number in use in its country's numbering plan", ErrInvalid)
		}
		return phonenumbers.Format(n, phonenumbers.E164), nil
	}
	if isCN(defaultRegion) {
		if len(digits) == 13 && strings.HasPrefix(digits, "86") {
			digits = digits[2:]
		}
		return mainland(digits)
	}
	return "", fmt.Errorf("%w: numbers outside mainland China must start with + and the country code", ErrInvalid)
}

// isCN reports whether region is mainland China, the default ("").
func isCN(region string) bool { return region == "" || strings.EqualFold(region, "CN") }

// mainland checks an 11-digit mainland China mobile number.
func mainland(n string) (string, error) {
	if len(n) != 11 || n[0] != '1' || n[1] < '3' || n[1] > '9' {
		return "", fmt.Errorf("%w: not a mainland China mobile number (11 digits starting 13 to 19)", ErrInvalid)
	}
	return "+86" + n, nil
}

func strip(raw string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(raw) {
		switch r {
		case ' ', '\t', '-', '(', ')', '\u00a0', '\u3000':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
