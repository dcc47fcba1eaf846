package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
)

// readResponse classifies a gateway reply and always drains and closes it.
func readResponse(resp *http.Response) (notify.Result, error) {
	raw, readErr := smshttp.ReadBody(resp)
	code := strconv.Itoa(resp.StatusCode)

	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// Accepted even if the body was cut short or is not JSON.
		return notify.Result{ProviderMsgID: providerID(raw), Code: code}, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		// Permanent but for 408 and 429.
		return notify.Result{}, smshttp.ClassifyStatus(resp.StatusCode, code, statusError(resp.StatusCode, raw))
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

// statusError quotes the reply, redacted: gateways echo the recipient in
// their errors.
func statusError(status int, raw []byte) error {
	if s := smshttp.Redact(string(raw)); s != "" {
		return fmt.Errorf("webhook: status %d: %s", status, s)
	}
	return fmt.Errorf("webhook: status %d", status)
}
