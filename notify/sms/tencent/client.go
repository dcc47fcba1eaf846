package tencent

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
)

// API identity of SendSms.
const (
	Service     = "sms"
	Action      = "SendSms"
	Version     = "2021-01-11"
	ContentType = "application/json; charset=utf-8"
)

// Client sends SMS through Tencent Cloud SendSms. It implements notify.Sender.
type Client struct {
	cfg      Config
	endpoint *url.URL
	http     *http.Client
}

var _ notify.Sender = (*Client)(nil)

// NewClient validates cfg and fills in defaults.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("tencent config: %w", err)
	}
	u, err := smshttp.ParseEndpoint(cmp.Or(cfg.Endpoint, DefaultEndpoint))
	if err != nil {
		return nil, fmt.Errorf("tencent config: %w", err)
	}
	cfg.Region = cmp.Or(cfg.Region, DefaultRegion)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cmp.Or(cfg.HTTPClient, smshttp.NewHTTPClient())
	return &Client{cfg: cfg, endpoint: u, http: hc}, nil
}

// Provider names the provider in the delivery log.
func (c *Client) Provider() string { return "tencent" }

// Send submits msg with the template mapped to msg.Kind and msg.Locale.
// SessionContext carries msg.NotificationID; SerialNo comes back as
// ProviderMsgID.
func (c *Client) Send(ctx context.Context, msg notify.Message) (notify.Result, error) {
	payload, err := c.payload(msg)
	if err != nil {
		return notify.Result{}, err
	}
	req, err := c.newRequest(ctx, payload)
	if err != nil {
		return notify.Result{}, err
	}
	status, body, err := smshttp.Do(c.http, req, c.cfg.Timeout, op)
	if err != nil {
		return notify.Result{}, err
	}
	return interpret(status, body)
}

// newRequest builds the signed POST of the JSON payload.
func (c *Client) newRequest(ctx context.Context, payload []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint.String(), bytes.NewReader(payload))
	if err != nil {
		return nil, notify.Permanent("bad_request", fmt.Errorf("tencent: %w", err))
	}
	ts := c.cfg.Now().Unix()
	auth := Authorization(c.cfg.SecretID, c.cfg.SecretKey, SignInput{
		Method:       http.MethodPost,
		CanonicalURI: "/",
		ContentType:  ContentType,
		Host:         c.endpoint.Host,
		Payload:      payload,
		Service:      Service,
		Timestamp:    ts,
	})
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("X-TC-Action", Action)
	req.Header.Set("X-TC-Version", Version)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-TC-Region", c.cfg.Region)
	return req, nil
}

// chinaStandardTime is Asia/Shanghai, which keeps no daylight saving time.
var chinaStandardTime = time.FixedZone("CST", 8*3600)

// DailyLimitLifts is when a daily limit met at refusedAt lifts: Tencent's
// days roll over at midnight Beijing time.
func (c *Client) DailyLimitLifts(_ string, refusedAt time.Time) time.Time {
	return notify.NextMidnight(refusedAt, chinaStandardTime)
}
