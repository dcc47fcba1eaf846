package twilio

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
)

// Client sends SMS through Twilio. It implements notify.Sender.
type Client struct {
	cfg      Config
	messages string // …/2010-04-01/Accounts/{AccountSid}/Messages.json
	http     *http.Client
}

var _ notify.Sender = (*Client)(nil)

// NewClient validates cfg and fills in defaults.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("twilio config: %w", err)
	}
	u, err := smshttp.ParseEndpoint(cmp.Or(cfg.Endpoint, DefaultEndpoint))
	if err != nil {
		return nil, fmt.Errorf("twilio config: %w", err)
	}
	// JoinPath cleans away a trailing "/" of the base (or the "/" that
	// ParseEndpoint gives an empty path).
	u = u.JoinPath("2010-04-01", "Accounts", cfg.AccountSID, "Messages.json")
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	hc := cmp.Or(cfg.HTTPClient, smshttp.NewHTTPClient())
	return &Client{cfg: cfg, messages: u.String(), http: hc}, nil
}

// Provider names the provider in the delivery log.
func (c *Client) Provider() string { return "twilio" }

// Send creates a Message with msg.Text as its body. The Message sid comes
// back as ProviderMsgID.
//
// Twilio's Message create takes no idempotency key: I-Twilio-Idempotency-Token
// is a header Twilio puts on the webhooks it sends, and it is not honoured
// on requests, so Send does not send it. A create that timed out after
// Twilio accepted it is sent again on retry; nothing on Twilio's side stops
// that duplicate.
func (c *Client) Send(ctx context.Context, msg notify.Message) (notify.Result, error) {
	if !e164(msg.To) {
		return notify.Result{}, notify.Permanent("invalid_number", fmt.Errorf("twilio: recipient is not an E.164 number"))
	}
	if strings.TrimSpace(msg.Text) == "" {
		return notify.Result{}, notify.Permanent("empty_body", fmt.Errorf("twilio: message text is empty"))
	}
	form := url.Values{"To": {msg.To}, "Body": {msg.Text}}
	if c.cfg.From != "" {
		form.Set("From", c.cfg.From)
	}
	if c.cfg.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", c.cfg.MessagingServiceSID)
	}
	if c.cfg.StatusCallback != "" {
		form.Set("StatusCallback", c.cfg.StatusCallback)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.messages, strings.NewReader(form.Encode()))
	if err != nil {
		return notify.Result{}, notify.Permanent("bad_request", fmt.Errorf("twilio: %w", err))
	}
	req.SetBasicAuth(c.cfg.AccountSID, c.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	status, body, err := smshttp.Do(c.http, req, c.cfg.Timeout, "twilio")
	if err != nil {
		return notify.Result{}, err
	}
	return interpret(status, body)
}

// e164 reports whether s is +<country code><number>, at most 15 digits.
func e164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
