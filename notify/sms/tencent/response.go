package tencent

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

// readBody reads at most maxBody bytes, drains a bounded remainder so the
// connection can be reused, and closes the body.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return body, err
}

// interpret reads the API 3.0 envelope: Response.Error for a rejected
// request, else one SendStatus for our one number.
func interpret(status int, body []byte) (notify.Result, error) {
	var r sendSmsResponse
	if status/100 != 2 || json.Unmarshal(body, &r) != nil {
		return notify.Result{}, httpError(status)
	}
	if e := r.Response.Error; e != nil {
		return notify.Result{}, classify(e.Code, fmt.Errorf("tencent SendSms: %s: %s (request %s)",
			e.Code, redact(e.Message), r.Response.RequestId))
	}
	if len(r.Response.SendStatusSet) != 1 {
		return notify.Result{}, notify.Transient("bad_response", fmt.Errorf(
			"tencent SendSms: %d send statuses, want 1 (request %s)", len(r.Response.SendStatusSet), r.Response.RequestId))
	}
	st := r.Response.SendStatusSet[0]
	if st.Code == "Ok" {
		return notify.Result{ProviderMsgID: st.SerialNo, Code: st.Code}, nil
	}
	return notify.Result{}, classify(st.Code, fmt.Errorf("tencent SendSms: %s: %s (request %s)",
		st.Code, redact(st.Message), r.Response.RequestId))
}

// Codes that are permanent although their family is retried, and the reverse.
var (
	permanentCodes = map[string]bool{
		"LimitExceeded.AppCountryOrRegionInBlacklist": true, // country not allowed by our own settings
		"LimitExceeded.PhoneNumberCountLimit":         true, // too many numbers; never with one
	}
	transientCodes = map[string]bool{
		"AuthFailure.SignatureExpire": true, // clock skew or a slow queue; each try is signed afresh
	}
	// Families by prefix: request-level and per-number codes share them.
	transientPrefixes = []string{"LimitExceeded", "RequestLimitExceeded", "InternalError", "ServiceUnavailable", "ResourceUnavailable", "ResourceInsufficient"}
	permanentPrefixes = []string{"AuthFailure", "FailedOperation", "InvalidParameter", "MissingParameter",
		"UnauthorizedOperation", "UnsupportedOperation", "UnknownParameter", "InvalidAction", "ActionOffline",
		"NoSuchProduct", "NoSuchVersion", "UnsupportedRegion", "UnsupportedProtocol", "InvalidRequest",
		"IpInBlacklist", "IpNotInWhitelist", "RequestSizeLimitExceeded", "ResourceNotFound"}
)

// classify: rate limits and platform faults are retried; auth, parameter,
// number, template, signature, balance and permission errors are permanent
// (FailedOperation.* and InvalidParameterValue.* name the number, template or
// signature); a code of a family not listed is retried.
func classify(code string, err error) error {
	switch {
	case permanentCodes[code]:
		return notify.Permanent(code, err)
	case transientCodes[code]:
		return notify.Transient(code, err)
	}
	for _, p := range transientPrefixes {
		if strings.HasPrefix(code, p) {
			return notify.Transient(code, err)
		}
	}
	for _, p := range permanentPrefixes {
		if strings.HasPrefix(code, p) {
			return notify.Permanent(code, err)
		}
	}
	return notify.Transient(code, err)
}

func httpError(status int) error {
	code := fmt.Sprintf("http_%d", status)
	err := fmt.Errorf("tencent SendSms: unexpected response, HTTP %d", status)
	if status/100 == 4 && status != http.StatusTooManyRequests {
		return notify.Permanent(code, err)
	}
	return notify.Transient(code, err)
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
	return notify.Transient(code, fmt.Errorf("tencent SendSms: %w", err))
}

// digits finds phone-like runs so provider text never carries a full number.
var digits = regexp.MustCompile(`\+?[0-9]{7,}`)

func redact(s string) string {
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return digits.ReplaceAllStringFunc(s, mask.Phone)
}
