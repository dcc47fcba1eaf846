package tencent

import (
	"encoding/json"
	"fmt"
	"strings"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
)

// op prefixes the text of SendSms errors.
const op = "tencent SendSms"

type apiError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

type sendStatus struct {
	SerialNo       string `json:"SerialNo"`
	SessionContext string `json:"SessionContext"`
	Code           string `json:"Code"`
	Message        string `json:"Message"`
}

type sendSmsResponse struct {
	Response struct {
		Error         *apiError    `json:"Error"`
		SendStatusSet []sendStatus `json:"SendStatusSet"`
		RequestId     string       `json:"RequestId"`
	} `json:"Response"`
}

// interpret reads the API 3.0 envelope: Response.Error for a rejected
// request, else one SendStatus for our one number.
func interpret(status int, body []byte) (notify.Result, error) {
	var r sendSmsResponse
	if status/100 != 2 || json.Unmarshal(body, &r) != nil {
		return notify.Result{}, smshttp.UnexpectedStatus(op, status)
	}
	if e := r.Response.Error; e != nil {
		return notify.Result{}, classify(e.Code, fmt.Errorf("%s: %s: %s (request %s)",
			op, e.Code, smshttp.Redact(e.Message), r.Response.RequestId))
	}
	if len(r.Response.SendStatusSet) != 1 {
		return notify.Result{}, notify.Transient("bad_response", fmt.Errorf(
			"%s: %d send statuses, want 1 (request %s)", op, len(r.Response.SendStatusSet), r.Response.RequestId))
	}
	st := r.Response.SendStatusSet[0]
	if st.Code == "Ok" {
		return notify.Result{ProviderMsgID: st.SerialNo, Code: st.Code}, nil
	}
	return notify.Result{}, classify(st.Code, fmt.Errorf("%s: %s: %s (request %s)",
		op, st.Code, smshttp.Redact(st.Message), r.Response.RequestId))
}

// codeClasses is the table of exact codes whose class is not their
// family's (below); the README's provider table mirrors it.
var codeClasses = map[string]notify.Class{
	// Per-number daily limits: not before tomorrow.
	"LimitExceeded.PhoneNumberDailyLimit":            notify.ClassDailyLimit,
	"LimitExceeded.PhoneNumberSameContentDailyLimit": notify.ClassDailyLimit,
	// The account cannot send at all: package used up, suspended for arrears.
	"FailedOperation.InsufficientBalanceInSmsPackage":  notify.ClassAccount,
	"UnauthorizedOperation.ServiceSuspendDueToArrears": notify.ClassAccount,
	// The number is on the blacklist, usually because its owner unsubscribed
	// (通常是用户退订).
	"FailedOperation.PhoneNumberInBlacklist": notify.ClassUnsubscribed,
	// Permanent although their family is retried.
	"LimitExceeded.AppCountryOrRegionInBlacklist": notify.ClassPermanent, // country not allowed by our own settings
	"LimitExceeded.PhoneNumberCountLimit":         notify.ClassPermanent, // too many numbers; never with one
	// Transient although its family is permanent: clock skew or a slow
	// queue; each try is signed afresh.
	"AuthFailure.SignatureExpire": notify.ClassTransient,
}

// Families by prefix: request-level and per-number codes share them.
var (
	transientPrefixes = []string{"LimitExceeded", "RequestLimitExceeded", "InternalError", "ServiceUnavailable", "ResourceUnavailable", "ResourceInsufficient"}
	permanentPrefixes = []string{"AuthFailure", "FailedOperation", "InvalidParameter", "MissingParameter",
		"UnauthorizedOperation", "UnsupportedOperation", "UnknownParameter", "InvalidAction", "ActionOffline",
		"NoSuchProduct", "NoSuchVersion", "UnsupportedRegion", "UnsupportedProtocol", "InvalidRequest",
		"IpInBlacklist", "IpNotInWhitelist", "RequestSizeLimitExceeded", "ResourceNotFound"}
)

// classify: codeClasses first; then rate limits and platform faults are
// retried; auth, parameter, number, template, signature and permission
// errors are permanent (FailedOperation.* and InvalidParameterValue.* name
// the number, template or signature); a code of a family not listed is
// retried.
func classify(code string, err error) error {
	return notify.Classify(class(code), code, err)
}

func class(code string) notify.Class {
	if c, ok := codeClasses[code]; ok {
		return c
	}
	for _, p := range transientPrefixes {
		if strings.HasPrefix(code, p) {
			return notify.ClassTransient
		}
	}
	for _, p := range permanentPrefixes {
		if strings.HasPrefix(code, p) {
			return notify.ClassPermanent
		}
	}
	return notify.ClassTransient
}
