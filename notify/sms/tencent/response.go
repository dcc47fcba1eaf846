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
	// Daily limits, the number's and the app's (业务短信日下发条数超过设定的
	// 上限, for all numbers, the mainland, abroad, a country): not before
	// tomorrow.
	"LimitExceeded.PhoneNumberDailyLimit":            notify.ClassDailyLimit,
	"LimitExceeded.PhoneNumberSameContentDailyLimit": notify.ClassDailyLimit,
	"LimitExceeded.AppDailyLimit":                    notify.ClassDailyLimit,
	"LimitExceeded.AppMainlandChinaDailyLimit":       notify.ClassDailyLimit,
	"LimitExceeded.AppGlobalDailyLimit":              notify.ClassDailyLimit,
	"LimitExceeded.AppCountryOrRegionDailyLimit":     notify.ClassDailyLimit,
	"LimitExceeded.DailyLimit":                       notify.ClassDailyLimit,
	// The account cannot send at all: package used up (the AuthFailure and
	// UnauthorizedOperation families, arrears among them, are accountPrefixes).
	"FailedOperation.InsufficientBalanceInSmsPackage": notify.ClassAccount,
	// Account-wide although their families are per request: the app id is
	// wrong, or this host's address is refused by the account's IP lists.
	"InvalidParameterValue.SdkAppIdNotExist": notify.ClassAccount,
	"IpInBlacklist":                          notify.ClassAccount,
	"IpNotInWhitelist":                       notify.ClassAccount,
	// Permanent although its family is account-wide: this message's type
	// (marketing) is not allowed, others are.
	"UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny": notify.ClassPermanent,
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
// Credentials and permissions (a wrong or rotated key, an app id not of the
// key's account, the app disabled, this IP not on its list, arrears under
// either spelling Tencent has used) refuse every message alike.
var (
	accountPrefixes   = []string{"AuthFailure", "UnauthorizedOperation"}
	transientPrefixes = []string{"LimitExceeded", "RequestLimitExceeded", "InternalError", "ServiceUnavailable", "ResourceUnavailable", "ResourceInsufficient"}
	permanentPrefixes = []string{"FailedOperation", "InvalidParameter", "MissingParameter",
		"UnsupportedOperation", "UnknownParameter", "InvalidAction", "ActionOffline",
		"NoSuchProduct", "NoSuchVersion", "UnsupportedRegion", "UnsupportedProtocol", "InvalidRequest",
		"IpInBlacklist", "IpNotInWhitelist", "RequestSizeLimitExceeded", "ResourceNotFound"}
)

// classify: codeClasses first; then credentials and permissions open the
// circuit; rate limits and platform faults are retried; parameter, number,
// template and signature errors are permanent (FailedOperation.* and InvalidParameterValue.* name
// the number, template or signature); a code of a family not listed is
// retried.
// A platform fault (InternalError*, ServiceUnavailable*) counts towards the
// unreachable circuit like a 5xx (notify.Outage), unlike rate and number
// limits.
func classify(code string, err error) error {
	err = notify.Classify(class(code), code, err)
	if strings.HasPrefix(code, "InternalError") || strings.HasPrefix(code, "ServiceUnavailable") {
		return notify.Outage(err)
	}
	return err
}

func class(code string) notify.Class {
	if c, ok := codeClasses[code]; ok {
		return c
	}
	for _, p := range accountPrefixes {
		if strings.HasPrefix(code, p) {
			return notify.ClassAccount
		}
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
