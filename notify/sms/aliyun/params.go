package aliyun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"duebell/notify"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// params builds SendSms's request parameters from msg and its template.
func (c *Client) params(msg notify.Message) (url.Values, error) {
	tpl, err := notify.ProviderTemplate(c.cfg.Templates, msg, c.cfg.FallbackLocale)
	if err != nil {
		return nil, fmt.Errorf("aliyun: %w", err)
	}
	phone, err := phoneNumber(msg.To)
	if err != nil {
		return nil, err
	}
	q := url.Values{
		"PhoneNumbers": {phone},
		"SignName":     {tpl.SignName},
		"TemplateCode": {tpl.Code},
		"OutId":        {strconv.FormatInt(msg.NotificationID, 10)},
	}
	if len(tpl.Vars) > 0 {
		param, err := templateParam(tpl.Vars, msg.Vars)
		if err != nil {
			return nil, err
		}
		q.Set("TemplateParam", param)
	}
	return q, nil
}

// Filed is what Aliyun sends for msg: its filed template with the
// variables (notify.FiledSender).
func (c *Client) Filed(msg notify.Message) (string, bool) {
	tpl, err := notify.ProviderTemplate(c.cfg.Templates, msg, c.cfg.FallbackLocale)
	return notify.FiledText(tpl.SignName, tpl.Code, tpl.Vars, msg), err == nil
}

// phoneNumber turns E.164 into SendSms's PhoneNumbers form: mainland numbers
// without a prefix (1390000****), others as country code + number without
// "+" (852000012****), per the SendSms parameter description.
func phoneNumber(to string) (string, error) {
	if !e164.MatchString(to) {
		return "", notify.Permanent("invalid_number", fmt.Errorf("aliyun: recipient is not an E.164 number"))
	}
	if national, ok := strings.CutPrefix(to, "+86"); ok {
		return national, nil
	}
	return to[1:], nil
}

// templateParam is the JSON object of the template's variables, restricted
// to those the template names.
func templateParam(names []string, vars map[string]string) (string, error) {
	obj := make(map[string]string, len(names))
	for _, n := range names {
		v, ok := vars[n]
		if !ok {
			return "", notify.Permanent("missing_var", fmt.Errorf("aliyun: template variable %q has no value", n))
		}
		obj[n] = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return "", notify.Permanent("bad_vars", fmt.Errorf("aliyun: template variables: %w", err))
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}
