package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"duebell/notify"
)

const (
	maxResponse = 64 << 10 // bytes of a reply we read
	maxSnippet  = 200      // bytes of a reply we quote in an error
)

// readResponse classifies a gateway reply and always drains and closes it.
func readResponse(resp *http.Response) (notify.Result, error) {
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		_ = resp.Body.Close()
	}()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	code := strconv.Itoa(resp.StatusCode)

	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// Accepted even if the body was cut short or is not JSON.
		return notify.Result{ProviderMsgID: providerID(raw), Code: code}, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests:
		return notify.Result{}, notify.Transient(code, statusError(resp.StatusCode, raw))
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return notify.Result{}, notify.Permanent(code, statusError(resp.StatusCode, raw))
	default:
		if readErr != nil && len(raw) == 0 {
			return notify.Result{}, notify.Transient(code, fmt.Errorf("webhook: status %d: read body: %w", resp.StatusCode, readErr))
		}
		return notify.Result{}, notify.Transient(code, statusError(resp.StatusCode, raw))
	}
}

// providerID reads {"id": ...} from a success reply; the id may be a string
// or a number.
func providerID(raw []byte) string {
	var r struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &r) != nil || len(r.ID) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(r.ID, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(r.ID, &n) == nil {
		return n.String()
	}
	return ""
}

func statusError(status int, raw []byte) error {
	s := snippet(raw)
	if s == "" {
		return fmt.Errorf("webhook: status %d", status)
	}
	return errors.New("webhook: status " + strconv.Itoa(status) + ": " + s)
}

var phoneLike = regexp.MustCompile(`\+?\d[\d\- ]{5,}\d`)

// snippet quotes at most maxSnippet bytes of a reply on one line, with
// anything that looks like a phone number masked (gateways echo the
// recipient in their errors).
func snippet(raw []byte) string {
	s := strings.Join(strings.Fields(string(raw)), " ")
	s = phoneLike.ReplaceAllStringFunc(s, maskDigits)
	if len(s) > maxSnippet {
		s = strings.ToValidUTF8(s[:maxSnippet], "") + "…"
	}
	return s
}

// maskDigits keeps the last four digits of a number.
func maskDigits(s string) string {
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits < 7 {
		return s
	}
	var b strings.Builder
	seen := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			seen++
			if seen <= digits-4 {
				b.WriteByte('*')
				continue
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
