package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"duebell/mask"
	"duebell/notify"
)

// maxBody caps how much of a response is read.
const maxBody = 64 << 10

// sendSmsResponse is SendSms's JSON reply; gateway errors (signature,
// throttling) use the same Code/Message fields.
type sendSmsResponse struct {
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	BizId     string `json:"BizId"`
	RequestId string `json:"RequestId"`
}

// readBody reads at most maxBody bytes, drains a bounded remainder so the
// connection can be reused, and closes the body.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return body, err
}

func interpret(status int, body []byte) (notify.Result, error) {
	var r sendSmsResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Code == "" {
		return notify.Result{}, httpError(status)
	}
	if r.Code == "OK" && status/100 == 2 {
		return notify.Result{ProviderMsgID: r.BizId, Code: r.Code}, nil
	}
	err := fmt.Errorf("aliyun SendSms: HTTP %d %s: %s (request %s)", status, r.Code, redact(r.Message), r.RequestId)
	if permanent(r.Code, status) {
		return notify.Result{}, notify.Permanent(r.Code, err)
	}
	return notify.Result{}, notify.Transient(r.Code, err)
}

// permanent classifies an error code (API错误码 and the OpenAPI gateway's):
//   - throttling and limit control (isv.BUSINESS_LIMIT_CONTROL,
//     isv.DAY_LIMIT_CONTROL, isv.MONTH_LIMIT_CONTROL, Throttling.*) pass with
//     time: transient;
//   - isp.* are platform faults (isp.SYSTEM_ERROR): transient, except
//     isp.RAM_PERMISSION_DENY, a RAM grant only an operator can fix;
//   - SignatureNonceUsed and InvalidTimeStamp.* are re-signed on retry: transient;
//   - every other isv.* names the request (number, template, signature,
//     parameters, account): permanent;
//   - anything else follows the HTTP status: 5xx transient, other 4xx but
//     429 permanent, and an unknown code with 2xx transient.
func permanent(code string, status int) bool {
	switch {
	case code == "isv.BUSINESS_LIMIT_CONTROL", code == "isv.DAY_LIMIT_CONTROL",
		code == "isv.MONTH_LIMIT_CONTROL", code == "isv.SYSTEM_ERROR":
		return false
	case code == "isp.RAM_PERMISSION_DENY":
		return true
	case strings.HasPrefix(code, "isp."), strings.HasPrefix(code, "Throttling"),
		code == "SignatureNonceUsed", strings.HasPrefix(code, "InvalidTimeStamp"),
		code == "ServiceUnavailable", strings.HasPrefix(code, "InternalError"):
		return false
	case strings.HasPrefix(code, "isv."):
		return true
	}
	return status/100 == 4 && status != http.StatusTooManyRequests
}

func httpError(status int) error {
	code := fmt.Sprintf("http_%d", status)
	err := fmt.Errorf("aliyun SendSms: unexpected response, HTTP %d", status)
	if status/100 == 4 && status != http.StatusTooManyRequests {
		return notify.Permanent(code, err)
	}
	return notify.Transient(code, err)
}

// digits finds phone-like runs so provider text never carries a full number.
var digits = regexp.MustCompile(`\+?[0-9]{7,}`)

func redact(s string) string {
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return digits.ReplaceAllStringFunc(s, mask.Phone)
}

// transportError describes a failed round trip without the request URL,
// whose query carries the phone number and template values.
func transportError(err error) error {
	code := "network"
	if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return notify.Transient(code, fmt.Errorf("aliyun SendSms: %w", err))
}
