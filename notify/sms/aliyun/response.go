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
	c := class(r.Code, r.Message, status)
	if c == notify.ClassTransient && platformFault(r.Code) {
		return notify.Result{}, notify.Outage(notify.Classify(c, r.Code, err))
	}
	return notify.Result{}, smshttp.ServerFault(status, notify.Classify(c, r.Code, err))
}

// platformFault reports whether code says that the platform itself is
// failing (isp.*, isv.SYSTEM_ERROR, ServiceUnavailable, InternalError*),
// which counts towards its unreachable circuit like a 5xx (notify.Outage),
// unlike its flow control or a number's limits.
func platformFault(code string) bool {
	return strings.HasPrefix(code, "isp.") || code == "isv.SYSTEM_ERROR" || code == "ServiceUnavailable" ||
		strings.HasPrefix(code, "InternalError")
}

// codeClasses is the table of SendSms codes (API错误码) whose meaning goes
// beyond "retry or not"; the README's provider table mirrors it.
var codeClasses = map[string]notify.Class{
	// Daily quotas, not before tomorrow: the account's daily total set in
	// the console (isv.DAY_LIMIT_CONTROL, 触发日发送限额) and a number's
	// (isv.BUSINESS_LIMIT_CONTROL with 天级流控). The latter is also the
	// minute and hour limit; class tells those apart by the message.
	"isv.DAY_LIMIT_CONTROL":      notify.ClassDailyLimit,
	"isv.BUSINESS_LIMIT_CONTROL": notify.ClassDailyLimit,
	// The account cannot send at all until an operator acts (or the month
	// turns): no balance, service stopped, the console's monthly cap
	// reached (触发月发送限额), no such account or product, a RAM grant
	// missing, and the gateway refusing the key or its signature (a
	// rotated or mistyped secret). Every message would fail alike.
	"isv.AMOUNT_NOT_ENOUGH":       notify.ClassAccount,
	"isv.OUT_OF_SERVICE":          notify.ClassAccount,
	"isv.MONTH_LIMIT_CONTROL":     notify.ClassAccount,
	"isv.ACCOUNT_NOT_EXISTS":      notify.ClassAccount,
	"isv.ACCOUNT_ABNORMAL":        notify.ClassAccount,
	"isv.PRODUCT_UN_SUBSCRIPT":    notify.ClassAccount,
	"isv.PRODUCT_UNSUBSCRIBE":     notify.ClassAccount,
	"isp.RAM_PERMISSION_DENY":     notify.ClassAccount,
	"InvalidAccessKeyId.NotFound": notify.ClassAccount,
	"InvalidAccessKeyId.Inactive": notify.ClassAccount,
	"SignatureDoesNotMatch":       notify.ClassAccount,
	// This host's address is in a region Aliyun refuses (原IP属于非中国内地地区).
	"isv.DENY_IP_RANGE": notify.ClassAccount,
	// A platform fault.
	"isv.SYSTEM_ERROR": notify.ClassTransient,
}

// class classifies an error code (API错误码 and the OpenAPI gateway's):
//   - codeClasses first; isv.BUSINESS_LIMIT_CONTROL whose message names the
//     minute or hour limit (触发分钟级流控, 触发小时级流控) is transient;
//   - isp.* are platform faults (isp.SYSTEM_ERROR): transient;
//   - Throttling.*, SignatureNonceUsed and InvalidTimeStamp.* (re-signed on
//     retry), ServiceUnavailable and InternalError*: transient;
//   - every other isv.* names the request (number, template, signature,
//     parameters): permanent;
//   - anything else follows the HTTP status (smshttp.PermanentStatus): 4xx
//     but 408 and 429 permanent, 5xx and an unknown code with 2xx transient.
func class(code, message string, status int) notify.Class {
	if c, ok := codeClasses[code]; ok {
		if code == "isv.BUSINESS_LIMIT_CONTROL" &&
			(strings.Contains(message, "分钟级") || strings.Contains(message, "小时级")) {
			return notify.ClassTransient
		}
		return c
	}
	switch {
	case strings.HasPrefix(code, "isp."), strings.HasPrefix(code, "Throttling"),
		code == "SignatureNonceUsed", strings.HasPrefix(code, "InvalidTimeStamp"),
		code == "ServiceUnavailable", strings.HasPrefix(code, "InternalError"):
		return notify.ClassTransient
	case strings.HasPrefix(code, "isv."):
		return notify.ClassPermanent
	}
	if smshttp.PermanentStatus(status) {
		return notify.ClassPermanent
	}
	return notify.ClassTransient
}
