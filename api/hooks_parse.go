package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"duebell/internal/input"
	"duebell/repo"
)

// Receipt formats, as each provider documents them. Every parser keeps each
// report's own bytes as its raw payload.

// beijing is the zone of the local times Aliyun and Tencent report.
var beijing = time.FixedZone("CST", 8*3600)

// parseAliyun reads an Aliyun SmsReport push (HTTP batch mode): a JSON array
// of {phone_number, send_time, report_time, success, err_code, err_msg,
// sms_size, biz_id, out_id}.
func parseAliyun(body []byte) ([]report, error) {
	return parseArray(body, func(raw json.RawMessage) (repo.Receipt, error) {
		var r struct {
			ReportTime string `json:"report_time"`
			Success    *bool  `json:"success"`
			ErrCode    string `json:"err_code"`
			ErrMsg     string `json:"err_msg"`
			BizID      string `json:"biz_id"`
			OutID      string `json:"out_id"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return repo.Receipt{}, err
		}
		if r.Success == nil {
			return repo.Receipt{}, errors.New("report without success")
		}
		if r.BizID == "" && r.OutID == "" { // it could match no notice
			return repo.Receipt{}, errors.New("report without biz_id or out_id")
		}
		status := repo.ReceiptUndelivered
		if *r.Success {
			status = repo.ReceiptDelivered
		}
		return repo.Receipt{ProviderMsgID: r.BizID, OutID: r.OutID, Status: status,
			ProviderStatus: strconv.FormatBool(*r.Success), Code: r.ErrCode, Description: r.ErrMsg,
			ReportedAt: localTime(r.ReportTime)}, nil
	})
}

// parseTencent reads a Tencent Cloud SMS status callback: a JSON array of
// {user_receive_time, nationcode, mobile, report_status SUCCESS|FAIL,
// errmsg, description, sid}. sid is SendSms's SerialNo.
func parseTencent(body []byte) ([]report, error) {
	return parseArray(body, func(raw json.RawMessage) (repo.Receipt, error) {
		var r struct {
			UserReceiveTime string `json:"user_receive_time"`
			ReportStatus    string `json:"report_status"`
			ErrMsg          string `json:"errmsg"`
			Description     string `json:"description"`
			Sid             string `json:"sid"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return repo.Receipt{}, err
		}
		status := map[string]string{"SUCCESS": repo.ReceiptDelivered, "FAIL": repo.ReceiptUndelivered}[r.ReportStatus]
		if r.ReportStatus == "" || r.Sid == "" {
			return repo.Receipt{}, errors.New("report without report_status or sid")
		}
		return repo.Receipt{ProviderMsgID: r.Sid, Status: orProgress(status), ProviderStatus: r.ReportStatus,
			Code: r.ErrMsg, Description: r.Description, ReportedAt: localTime(r.UserReceiveTime)}, nil
	})
}

// parseTwilio reads a Twilio status callback: a form with MessageSid,
// MessageStatus (queued, sent, delivered, undelivered, failed, read, …) and
// ErrorCode. Only delivered/read and undelivered/failed are final.
func parseTwilio(body []byte) ([]report, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("malformed form")
	}
	for _, k := range []string{"MessageSid", "MessageStatus", "ErrorCode"} {
		if len(form[k]) > 1 { // which one would count? (a JSON receipt with a key twice is refused too)
			return nil, fmt.Errorf("%s is given %d times", k, len(form[k]))
		}
	}
	sid, st := form.Get("MessageSid"), form.Get("MessageStatus")
	if sid == "" || st == "" {
		return nil, errors.New("MessageSid and MessageStatus are required")
	}
	status := map[string]string{"delivered": repo.ReceiptDelivered, "read": repo.ReceiptDelivered,
		"undelivered": repo.ReceiptUndelivered, "failed": repo.ReceiptUndelivered}[st]
	return []report{{receipt: repo.Receipt{ProviderMsgID: sid, Status: orProgress(status), ProviderStatus: st,
		Code: form.Get("ErrorCode"), Raw: string(body)}}}, nil
}

// parseWebhook reads the webhook gateway's receipts: one JSON object, or an
// array of them, {"id" or "out_id", "status": "delivered"|"undelivered",
// "code", "description"}; id is the gateway's id, out_id ours. The gateway
// posts a receipt when it has one, so an empty array is refused.
func parseWebhook(body []byte) ([]report, error) {
	// One object is a batch of one; only one: `{…},{…}` is no JSON
	// document, though brackets around it would make one.
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		body = append(append([]byte{'['}, t...), ']')
	}
	reports, err := parseArray(body, func(raw json.RawMessage) (repo.Receipt, error) {
		var r struct {
			ID          flexString `json:"id"`
			OutID       flexString `json:"out_id"`
			Status      string     `json:"status"`
			Code        string     `json:"code"`
			Description string     `json:"description"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return repo.Receipt{}, err
		}
		if r.Status != repo.ReceiptDelivered && r.Status != repo.ReceiptUndelivered {
			return repo.Receipt{}, errors.New(`status must be "delivered" or "undelivered"`)
		}
		if r.ID == "" && r.OutID == "" {
			return repo.Receipt{}, errors.New("id or out_id is required")
		}
		return repo.Receipt{ProviderMsgID: string(r.ID), OutID: string(r.OutID), Status: r.Status,
			ProviderStatus: r.Status, Code: r.Code, Description: r.Description}, nil
	})
	switch {
	case err != nil:
		return nil, errors.New("want a receipt object or a JSON array of them")
	case len(reports) == 0:
		return nil, errors.New("no receipt in the body (an empty array)")
	}
	return reports, nil
}

// parseArray reads a JSON array and each element with one, keeping each
// element's bytes as its receipt's raw payload.
// A malformed report does not sink its batch: it comes back with its error
// and the others are kept. The error is for the whole body only when it is
// not a JSON array at all.
func parseArray(body []byte, one func(json.RawMessage) (repo.Receipt, error)) ([]report, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || items == nil { // nil: the body is null
		return nil, errors.New("want a JSON array of reports")
	}
	out := make([]report, 0, len(items))
	for i, raw := range items {
		// A key given twice ({"status":"delivered","status":"undelivered"})
		// is as ambiguous in a receipt as in any other body: refused, not
		// read as the last one.
		err := checkKeys(raw, false)
		var rc repo.Receipt
		if err == nil {
			rc, err = one(raw)
		}
		if err != nil {
			err = reportError(err)
		}
		rc.Raw = string(raw)
		out = append(out, report{index: i, receipt: rc, err: err})
	}
	return out, nil
}

// reportError says what is wrong with one report as the API's errors do,
// naming the field and what it wants; encoding/json's own text names the
// Go type the parser reads a report into.
func reportError(err error) error {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		field := strings.TrimLeft(typ.Field, ".")
		if field == "" {
			return errors.New("report: want a JSON object")
		}
		t := typ.Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		return errors.New(field + ": " + wantType(field, t))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// report is one entry of a receipt batch, read or refused.
type report struct {
	index   int
	receipt repo.Receipt
	err     error
}

// rejected names a refused report in the answer: its place in the batch and why.
type rejected struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

func orProgress(status string) string {
	if status == "" {
		return repo.ReceiptProgress
	}
	return status
}

// localTime reads "2006-01-02 15:04:05" in Beijing time; nil when absent,
// unreadable or outside 2000–2100.
func localTime(s string) *time.Time {
	t, err := time.ParseInLocation(time.DateTime, s, beijing)
	if err != nil || input.Instant(t) != nil {
		return nil
	}
	return &t
}

// flexString accepts a JSON string or number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("id and out_id must be strings or numbers")
	}
	*f = flexString(n.String())
	return nil
}
