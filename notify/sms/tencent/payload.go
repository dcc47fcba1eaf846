package tencent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"duebell/notify"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// sendSmsRequest is SendSms's JSON body (2021-01-11).
type sendSmsRequest struct {
	PhoneNumberSet   []string `json:"PhoneNumberSet"`
	SmsSdkAppId      string   `json:"SmsSdkAppId"`
	SignName         string   `json:"SignName"`
	TemplateId       string   `json:"TemplateId"`
	TemplateParamSet []string `json:"TemplateParamSet,omitempty"`
	SessionContext   string   `json:"SessionContext"`
}

// Filed is what Tencent sends for msg: its filed template with the
// variables, in the template's {1},{2},… order (notify.FiledSender).
func (c *Client) Filed(msg notify.Message) (string, bool) {
	tpl, err := notify.ProviderTemplate(c.cfg.Templates, msg, c.cfg.FallbackLocale)
	return notify.FiledText(tpl.SignName, tpl.ID, tpl.Vars, msg), err == nil
}

// payload builds the request body: the E.164 number as is, the template's
// parameters in their configured order.
func (c *Client) payload(msg notify.Message) ([]byte, error) {
	tpl, err := notify.ProviderTemplate(c.cfg.Templates, msg, c.cfg.FallbackLocale)
	if err != nil {
		return nil, fmt.Errorf("tencent: %w", err)
	}
	if !e164.MatchString(msg.To) {
		return nil, notify.Permanent("invalid_number", fmt.Errorf("tencent: recipient is not an E.164 number"))
	}
	params := make([]string, 0, len(tpl.Vars))
	for _, name := range tpl.Vars {
		v, ok := msg.Vars[name]
		if !ok {
			return nil, notify.Permanent("missing_var", fmt.Errorf("tencent: template variable %q has no value", name))
		}
		params = append(params, v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err = enc.Encode(sendSmsRequest{
		PhoneNumberSet:   []string{msg.To},
		SmsSdkAppId:      c.cfg.SdkAppID,
		SignName:         tpl.SignName,
		TemplateId:       tpl.ID,
		TemplateParamSet: params,
		SessionContext:   strconv.FormatInt(msg.NotificationID, 10),
	})
	if err != nil {
		return nil, notify.Permanent("bad_vars", fmt.Errorf("tencent: encode request: %w", err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
