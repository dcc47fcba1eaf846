package mask

import (
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Text masks the phone numbers and email addresses in free text, such as a
// provider's error message, which often echoes the recipient:
//
//   - an email address, with '@' written as is or percent-encoded as %40,
//     loses its local part: li.lei@example.com becomes ***@example.com.
//   - a run of digits joined by separators — whitespace, dashes, '.', '_',
//     '/', '\', '(', ')', '+', at most three in a row, each possibly
//     percent-encoded (%20, %2B, %252D…) — is a phone number when it has
//     seven digits or more; all but its last four become '*' and the
//     separators stay: "tel:139%204444%207777" becomes
//     "tel:***%20****%207777".
//
// Shorter runs stay readable (HTTP statuses, error codes, "code 123456"),
// and so do dates (2026-11-30, 2026/1/5) and amounts (12345.67) whose
// digits are not joined to others'. Names and other personal data are not
// recognized.
func Text(s string) string {
	s = emailLike.ReplaceAllString(s, "***$1$2")
	var b strings.Builder
	for i := 0; i < len(s); {
		if n := escapedSep(s[i:]); n > 0 { // its hex digits are not digits of a number
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsDigit(r) {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		if n := keptNumber(s[i:]); n > 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		end, digits := digitRun(s, i)
		if digits < 7 {
			b.WriteString(s[i:end])
		} else {
			maskRun(&b, s[i:end], digits)
		}
		i = end
	}
	return b.String()
}

// Quote is provider text fit to quote in an error or a log line: its phone
// numbers and addresses masked (Text) and cut to max bytes at a UTF-8
// boundary, marked with "…". Only the first 4×max bytes are read, so a
// long reply costs little; a number cut there is dropped by the final cut.
func Quote(s string, max int) string {
	if len(s) > 4*max {
		s = strings.ToValidUTF8(s[:4*max], "")
	}
	s = Text(readable(s))
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}

// jsonEscape is a JSON \uXXXX escape, or a pair of them (a surrogate pair).
var jsonEscape = regexp.MustCompile(`\\u[0-9a-fA-F]{4}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?`)

// readable is s as its reader sees it: JSON escapes, HTML character
// references and percent-escapes (twice, when the text has no stray '%')
// decoded, full-width forms narrowed. Quote masks that, so no spelling of
// a number or an address slips through ("li.lei＠example.com",
// "\uff11\uff13\uff18…", "li.lei%2540example.com", "&#64;").
func readable(s string) string {
	s = jsonEscape.ReplaceAllStringFunc(s, func(m string) string {
		if u, err := strconv.Unquote(`"` + m + `"`); err == nil {
			return u
		}
		if len(m) == 12 { // a surrogate pair, which Go's escapes do not write
			if r := utf16.DecodeRune(hexRune(m[2:6]), hexRune(m[8:12])); r != utf8.RuneError {
				return string(r)
			}
		}
		return m
	})
	s = html.UnescapeString(s)
	for range 2 {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
	}
	return width.Narrow.String(s)
}

// hexRune is the rune four hex digits write (RuneError when they are not).
func hexRune(h string) rune {
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return utf8.RuneError
	}
	return rune(v)
}

// emailLike finds an address's local part, its '@' (or %40) and its
// domain. The local part stops at quotes, brackets, '=' and other
// delimiters, so "to=li.lei@x.cn" keeps "to=".
var emailLike = regexp.MustCompile(`[\p{L}\p{N}._%+-]+(@|%40)([\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*)`)

// maxSeps is how many separators in a row may join two groups of digits:
// enough for "+86 (138) 1234 5678" and "139 - 4444 - 7777".
const maxSeps = 3

// digitRun returns the end of the run of digits and separators that starts
// with the digit at s[i] (the run ends with a digit), and how many digits
// it has.
func digitRun(s string, i int) (end, digits int) {
	for {
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsDigit(r) {
				break
			}
			digits++
			i += size
		}
		end = i
		seps := 0
		for seps < maxSeps {
			n := sepLen(s[i:])
			if n == 0 {
				break
			}
			i += n
			seps++
		}
		r, _ := utf8.DecodeRuneInString(s[i:])
		if seps == 0 || !unicode.IsDigit(r) {
			return end, digits
		}
	}
}

// maskRun writes run with all but its last four digits replaced by '*'.
func maskRun(b *strings.Builder, run string, digits int) {
	seen := 0
	for i := 0; i < len(run); {
		if n := escapedSep(run[i:]); n > 0 {
			b.WriteString(run[i : i+n])
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(run[i:])
		if unicode.IsDigit(r) {
			seen++
			if seen <= digits-4 {
				b.WriteByte('*')
				i += size
				continue
			}
		}
		b.WriteString(run[i : i+size])
		i += size
	}
}

// sepLen is the length of the separator s starts with, 0 if none.
func sepLen(s string) int {
	if n := escapedSep(s); n > 0 {
		return n
	}
	r, size := utf8.DecodeRuneInString(s)
	if isSep(r) {
		return size
	}
	return 0
}

func isSep(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || strings.ContainsRune(`._/\()+`, r)
}

// escapedSep is the length of the percent-encoded separator s starts with
// (%20, %2B…, or encoded again: %2520), 0 if none.
func escapedSep(s string) int {
	if len(s) < 3 || s[0] != '%' {
		return 0
	}
	i := 1
	for len(s) >= i+4 && s[i:i+2] == "25" && hexByte(s[i+2:i+4]) >= 0 {
		i += 2
	}
	if len(s) < i+2 {
		return 0
	}
	if c := hexByte(s[i : i+2]); c >= 0 && c < utf8.RuneSelf && isSep(rune(c)) {
		return i + 2
	}
	return 0
}

// hexByte is the byte two hex digits write, -1 if they are not two.
func hexByte(s string) int {
	c, err := strconv.ParseUint(s, 16, 8)
	if err != nil || len(s) != 2 {
		return -1
	}
	return int(c)
}

// keptLike matches, at the start of a string, a date (year 19xx or 20xx,
// month, day, split by '-', '/' or '.') or an amount with at most six
// digits before its decimal point.
var keptLike = regexp.MustCompile(`^(?:(?:19|20)\d\d[-/.](?:1[0-2]|0?[1-9])[-/.](?:3[01]|[12]\d|0?[1-9])|\d{1,6}\.\d\d?)`)

// keptNumber is the length of the date or amount s starts with, 0 if none
// or if more digits follow it, directly or after a '-', '/' or '.'.
func keptNumber(s string) int {
	n := len(keptLike.FindString(s))
	if n == 0 {
		return 0
	}
	rest := s[n:]
	if strings.IndexAny(rest, "-/.") == 0 {
		rest = rest[1:]
	}
	if r, _ := utf8.DecodeRuneInString(rest); unicode.IsDigit(r) {
		return 0
	}
	return n
}
