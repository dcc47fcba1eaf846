package aliyun

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
)

// API identity of SendSms.
const (
	Action  = "SendSms"
	Version = "2017-05-25"
)

// Client sends SMS through Aliyun SendSms. It implements notify.Sender.
type Client struct {
	cfg      Config
	endpoint *url.URL
	http     *http.Client
	randMu   sync.Mutex // Config.Rand need not be safe for concurrent use
}

var _ notify.Sender = (*Client)(nil)

// NewClient validates cfg and fills in defaults.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("aliyun config: %w", err)
	}
	u, err := smshttp.ParseEndpoint(cmp.Or(cfg.Endpoint, DefaultEndpoint))
	if err != nil {
		return nil, fmt.Errorf("aliyun config: %w", err)
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	hc := cmp.Or(cfg.HTTPClient, smshttp.NewHTTPClient())
	return &Client{cfg: cfg, endpoint: u, http: hc}, nil
}

// Provider names the provider in the delivery log.
func (c *Client) Provider() string { return "aliyun" }

// Send submits msg with the template mapped to msg.Kind and msg.Locale.
// OutId carries msg.NotificationID; BizId comes back as ProviderMsgID.
func (c *Client) Send(ctx context.Context, msg notify.Message) (notify.Result, error) {
	query, err := c.params(msg)
	if err != nil {
		return notify.Result{}, err
	}
	req, err := c.newRequest(ctx, query)
	if err != nil {
		return notify.Result{}, err
	}
	status, body, err := smshttp.Do(c.http, req, c.cfg.Timeout, op)
	if err != nil {
		return notify.Result{}, err
	}
	return interpret(status, body)
}

// newRequest builds the signed POST. Parameters travel in the query string,
// encoded exactly as in the canonical request; the body is empty.
func (c *Client) newRequest(ctx context.Context, query url.Values) (*http.Request, error) {
	nonce, err := c.nonce()
	if err != nil {
		return nil, notify.Transient("nonce", fmt.Errorf("aliyun: signature nonce: %w", err))
	}
	u := *c.endpoint
	u.RawQuery = CanonicalQuery(query)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), http.NoBody)
	if err != nil { // its text would quote the URL, phone number included
		return nil, notify.Permanent("bad_request", fmt.Errorf("aliyun: cannot build a request for %s", c.endpoint))
	}
	headers := map[string]string{
		"host":                  u.Host,
		"x-acs-action":          Action,
		"x-acs-version":         Version,
		"x-acs-date":            c.cfg.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"x-acs-signature-nonce": nonce,
		"x-acs-content-sha256":  HashPayload(nil),
	}
	auth := Sign(c.cfg.AccessKeyID, c.cfg.AccessKeySecret, SignInput{
		Method: http.MethodPost, Path: u.Path, Query: query, Headers: headers,
	})
	for k, v := range headers {
		if k != "host" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

func (c *Client) nonce() (string, error) {
	b := make([]byte, 16)
	c.randMu.Lock()
	_, err := io.ReadFull(c.cfg.Rand, b)
	c.randMu.Unlock()
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// DailyLimitLifts is when a daily limit met at refusedAt lifts. The
// per-number limit (isv.BUSINESS_LIMIT_CONTROL, 天级流控) counts the sends
// of the 24 hours before each send (天的计算方式是当下时间往后推24小时), not
// those since midnight: every send it counted has left that window 24
// hours later. The account's daily volume set in the console
// (isv.DAY_LIMIT_CONTROL) is a calendar day's, Beijing time.
func (c *Client) DailyLimitLifts(code string, refusedAt time.Time) time.Time {
	if code == "isv.BUSINESS_LIMIT_CONTROL" {
		return refusedAt.Add(24 * time.Hour)
	}
	return notify.NextMidnight(refusedAt, chinaStandardTime)
}

// chinaStandardTime is Asia/Shanghai, which keeps no daylight saving time.
var chinaStandardTime = time.FixedZone("CST", 8*3600)
