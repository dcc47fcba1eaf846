package aliyun

import (
	"encoding/json"
	"fmt"
	"strings"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
)

// op prefixes the text of SendSms errors.
const op = "aliyun SendSms"

// sendSmsResponse is SendSms's JSON reply; gateway errors (signature,
// throttling) use the same Code/Message fields.
type sendSmsResponse struct {
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	BizId     string `json:"BizId"`
	RequestId string `json:"RequestId"`
}

func interpret(status int, body []byte) (notify.Result, error) {
	var r sendSmsResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Code == "" {
		return notify.Result{}, smshttp.UnexpectedStatus(op, status)
	}
	if r.Code == "OK" && status/100 == 2 {
		return notify.Result{ProviderMsgID: r.BizId, Code: r.Code}, nil
	}
	err := fmt.Errorf("%s: HTTP %d %s: %s (request %s)", op, status, r.Code, smshttp.Redact(r.Message), r.RequestId)
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
//   - anything else follows the HTTP status (smshttp.PermanentStatus): 4xx
//     but 408 and 429 permanent, 5xx and an unknown code with 2xx transient.
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
	return smshttp.PermanentStatus(status)
}
