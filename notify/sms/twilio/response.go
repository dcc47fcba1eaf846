package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"duebell/mask"
	"duebell/notify"
)

// maxBody caps how much of a response is read.
const maxBody = 64 << 10

type message struct {
	Sid    string `json:"sid"`
	Status string `json:"status"`
}

// apiError is Twilio's REST error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// readBody reads at most maxBody bytes, drains a bounded remainder so the
// connection can be reused, and closes the body.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return body, err
}

// interpret: 2xx is the created Message; 429 and 5xx are retried; any other
// 4xx (21211 invalid number, 21610 unsubscribed, 20003 authentication, …)
// is permanent, with Twilio's code.
func interpret(status int, body []byte) (notify.Result, error) {
	if status/100 == 2 {
		var m message
		if err := json.Unmarshal(body, &m); err != nil || m.Sid == "" {
			return notify.Result{}, notify.Transient("bad_response",
				fmt.Errorf("twilio: HTTP %d without a message sid", status))
		}
		return notify.Result{ProviderMsgID: m.Sid, Code: m.Status}, nil
	}
	var e apiError
	_ = json.Unmarshal(body, &e)
	code := "http_" + strconv.Itoa(status)
	if e.Code != 0 {
		code = strconv.Itoa(e.Code)
	}
	err := fmt.Errorf("twilio: HTTP %d, error %s: %s", status, code, redact(e.Message))
	if status/100 == 4 && status != http.StatusTooManyRequests {
		return notify.Result{}, notify.Permanent(code, err)
	}
	return notify.Result{}, notify.Transient(code, err)
}

// transportError describes a failed round trip; timeouts are marked so.
func transportError(err error) error {
	code := "network"
	if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return notify.Transient(code, fmt.Errorf("twilio: %w", err))
}

// digits finds phone-like runs so provider text (Twilio's 21211 message
// quotes the number) never carries a full number.
var digits = regexp.MustCompile(`\+?[0-9]{7,}`)

func redact(s string) string {
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return digits.ReplaceAllStringFunc(s, mask.Phone)
}
