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
		if c := replyClass(resp.StatusCode, raw); c != "" {
			return notify.Result{}, notify.Classify(c, code, statusError(resp.StatusCode, raw))
		}
		// Permanent but for 408 and 429.
		return notify.Result{}, smshttp.ClassifyStatus(resp.StatusCode, code, statusError(resp.StatusCode, raw))
	default:
		if readErr != nil && len(raw) == 0 {
			return notify.Result{}, smshttp.ServerFault(resp.StatusCode,
				notify.Transient(code, fmt.Errorf("webhook: status %d: read body: %w", resp.StatusCode, readErr)))
		}
		return notify.Result{}, smshttp.ServerFault(resp.StatusCode, notify.Transient(code, statusError(resp.StatusCode, raw)))
	}
}

// statusClasses is the table of gateway statuses whose meaning goes beyond
// "retry or not": the gateway refuses us, not this message (our signature
// or credentials, an unpaid account). The README's provider table mirrors it.
var statusClasses = map[int]notify.Class{
	http.StatusUnauthorized:    notify.ClassAccount,
	http.StatusPaymentRequired: notify.ClassAccount,
	http.StatusForbidden:       notify.ClassAccount,
}

// replyClasses are the values a gateway may give in a 4xx reply's "class"
// field to say more than its status.
var replyClasses = map[string]notify.Class{
	string(notify.ClassDailyLimit):   notify.ClassDailyLimit,
	string(notify.ClassAccount):      notify.ClassAccount,
	string(notify.ClassUnsubscribed): notify.ClassUnsubscribed,
	string(notify.ClassPermanent):    notify.ClassPermanent,
	string(notify.ClassTransient):    notify.ClassTransient,
}

// replyClass is the class a 4xx reply names in {"class": "..."}, else the
// one statusClasses gives its status, else "".
func replyClass(status int, raw []byte) notify.Class {
	var r struct {
		Class string `json:"class"`
	}
	if json.Unmarshal(raw, &r) == nil {
		if c, ok := replyClasses[r.Class]; ok {
			return c
		}
	}
	return statusClasses[status]
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
