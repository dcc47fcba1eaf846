// Package webhook sends SMS through a generic HTTP gateway: one signed JSON
// POST per message. A gateway implementer checks requests with Verify.
//
// Request:
//
//	POST {URL}
//	Content-Type: application/json
//	X-Duebell-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
//
//	{"to": "+8613812345678", "body": "...", "out_id": "12345"}
//
// out_id is the notification id: a retried send of one notice carries the
// same out_id, so the gateway can drop duplicates. A 2xx reply accepts the
// message; an optional JSON {"id": "..."} names it.
//
// A 4xx reply rejects it: permanently, except 408 and 429 (retried) and
// 401, 402 and 403, which say the gateway refuses this account (class
// "account"). A 4xx reply may say more with a JSON "class" field:
// "daily_limit" (the number's quota for today is used up), "account",
// "unsubscribed" (the recipient opted out at the gateway), "permanent" or
// "transient".
package webhook

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
)

// DefaultTimeout bounds one Send.
const DefaultTimeout = 10 * time.Second

// Config configures a Client.
type Config struct {
	// URL is the gateway endpoint, http or https.
	URL string
	// Secret keys the request signature.
	Secret string
	// Timeout bounds each Send; default DefaultTimeout.
	Timeout time.Duration
	// HTTPClient is optional; Timeout applies to it as well.
	HTTPClient *http.Client
}

// Client sends SMS through one gateway. It is safe for concurrent use.
type Client struct {
	url     string
	secret  []byte
	timeout time.Duration
	http    *http.Client
}

var _ notify.Sender = (*Client)(nil)

// NewClient validates cfg.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("webhook: url must be an absolute http or https URL")
	}
	if cfg.Secret == "" {
		return nil, errors.New("webhook: secret is required")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("webhook: timeout must not be negative")
	}
	c := &Client{
		url:     cfg.URL,
		secret:  []byte(cfg.Secret),
		timeout: cmp.Or(cfg.Timeout, DefaultTimeout),
		http:    cfg.HTTPClient,
	}
	if c.http == nil {
		c.http = smshttp.NewHTTPClient()
		c.http.Timeout = c.timeout
	}
	return c, nil
}

// Provider names the provider in the delivery log.
func (c *Client) Provider() string { return "webhook" }

type request struct {
	To    string `json:"to"`
	Body  string `json:"body"`
	OutID string `json:"out_id"`
}

// Send posts m to the gateway. A 2xx reply is success, with the gateway's
// id if it gave one. Other 4xx replies are notify.Permanent with the status
// as code; 408, 429, 5xx, timeouts and connection errors are
// notify.Transient, and notify.Unanswered too when the gateway had the whole
// request (smshttp.RoundTrip).
func (c *Client) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	outID := strconv.FormatInt(m.NotificationID, 10)
	body, err := json.Marshal(request{To: m.To, Body: m.Text, OutID: outID})
	if err != nil {
		return notify.Result{}, notify.Permanent("", fmt.Errorf("webhook: encode request: %w", err))
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return notify.Result{}, notify.Permanent("", fmt.Errorf("webhook: build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(SignatureHeader, Sign(c.secret, body))

	resp, err := smshttp.RoundTrip(c.http, req, "webhook: post") // its errors leave out the URL, which may carry a token
	if err != nil {
		return notify.Result{}, err
	}
	return readResponse(resp)
}
