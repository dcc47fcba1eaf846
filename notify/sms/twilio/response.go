package twilio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
)

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

// codeClasses is the table of Twilio error codes whose meaning goes beyond
// "retry or not"; the README's provider table mirrors it.
var codeClasses = map[int]notify.Class{
	20003: notify.ClassAccount,      // Authenticate: bad credentials or a suspended account
	20005: notify.ClassAccount,      // Account not active
	21610: notify.ClassUnsubscribed, // Attempt to send to unsubscribed recipient (replied STOP)
	21611: notify.ClassTransient,    // the From number's queue is over 10 hours long: a backlog that drains
}

// interpret: 2xx is the created Message; a code in codeClasses has its
// class; otherwise 408, 429 and 5xx are retried and any other 4xx (21211
// invalid number, 21614 not a mobile, …) is permanent, with Twilio's code.
// A 201 whose body cannot be read (cut short by a proxy) still says Twilio
// created and queued the message: it is sent, without a sid (code
// created_without_sid; its status callbacks go unmatched), as a retry would
// create a second one. Another 2xx without a sid is not Twilio's answer (a
// wrong endpoint): retried.
func interpret(status int, body []byte) (notify.Result, error) {
	if status/100 == 2 {
		var m message
		switch err := json.Unmarshal(body, &m); {
		case err == nil && m.Sid != "":
			return notify.Result{ProviderMsgID: m.Sid, Code: m.Status}, nil
		case status == http.StatusCreated:
			return notify.Result{Code: "created_without_sid"}, nil
		}
		return notify.Result{}, notify.Transient("bad_response",
			fmt.Errorf("twilio: HTTP %d without a message sid", status))
	}
	var e apiError
	_ = json.Unmarshal(body, &e)
	code := smshttp.StatusCode(status)
	if e.Code != 0 {
		code = strconv.Itoa(e.Code)
	}
	// Twilio's messages quote the number (21211), hence Redact.
	err := fmt.Errorf("twilio: HTTP %d, error %s: %s", status, code, smshttp.Redact(e.Message))
	if c, ok := codeClasses[e.Code]; ok {
		return notify.Result{}, notify.Classify(c, code, err)
	}
	return notify.Result{}, smshttp.ClassifyStatus(status, code, err)
}
