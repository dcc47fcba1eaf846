// Package smshttp is the HTTP plumbing the SMS providers share: reading a
// reply within bounds, classifying transport failures and HTTP statuses as
// notify.Permanent or notify.Transient, and quoting provider text in errors
// without a phone number or an unbounded body.
//
// Provider-specific logic (request signing, error-code tables) stays in the
// provider packages.
package smshttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"duebell/mask"
	"duebell/notify"
)

// MaxBody caps how many bytes of a reply are read, and how many more are
// drained so the connection can be reused.
const MaxBody = 64 << 10

// MaxQuote caps how many bytes of provider text Redact keeps.
const MaxQuote = 200

// ReadBody reads at most MaxBody bytes of resp's body, drains at most
// MaxBody more so the connection can be reused, and closes the body.
func ReadBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	return body, err
}

// Do sends req with hc (see RoundTrip) and returns the reply's status and
// its body, read by ReadBody; a positive timeout bounds both. A failed read
// of the body is transient with code "network", and notify.Unanswered: the
// provider had the request. op prefixes error text, e.g. "aliyun SendSms".
func Do(hc *http.Client, req *http.Request, timeout time.Duration, op string) (status int, body []byte, err error) {
	if timeout > 0 {
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := RoundTrip(hc, req, op)
	if err != nil {
		return 0, nil, err
	}
	body, err = ReadBody(resp)
	if err != nil {
		return 0, nil, notify.Unanswered(notify.Outage(notify.Transient("network", fmt.Errorf("%s: read response: %w", op, err))))
	}
	return resp.StatusCode, body, nil
}

// RoundTrip sends req with hc. A failed round trip is TransportError(op,
// err), and notify.Unanswered as well when it failed after the whole
// request was written (no reply before the timeout, the connection dropped
// while the reply was awaited): the provider may have taken the message.
func RoundTrip(hc *http.Client, req *http.Request, op string) (*http.Response, error) {
	var written atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(w httptrace.WroteRequestInfo) { written.Store(w.Err == nil) },
	}))
	resp, err := hc.Do(req)
	if err != nil {
		err = TransportError(op, err)
		if written.Load() {
			err = notify.Unanswered(err)
		}
		return nil, err
	}
	return resp, nil
}

// TransportError describes a failed round trip as notify.Transient and
// notify.Outage, with code "timeout" when a deadline passed and "network"
// otherwise. A *url.Error is unwrapped: it repeats the request URL, which
// may carry a phone number, template values or a token.
func TransportError(op string, err error) error {
	code := "network"
	if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return notify.Outage(notify.Transient(code, fmt.Errorf("%s: %w", op, err)))
}

// PermanentStatus reports whether an HTTP status says the request itself is
// wrong and must not be retried: any 4xx except 408 Request Timeout and 429
// Too Many Requests. Every other status (5xx, and 2xx or 3xx where a reply
// was not understood) is worth retrying.
func PermanentStatus(status int) bool {
	return status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// ClassifyStatus wraps err as notify.Permanent or notify.Transient with code,
// as PermanentStatus(status) decides, and a 5xx as notify.Outage too.
func ClassifyStatus(status int, code string, err error) error {
	if PermanentStatus(status) {
		return notify.Permanent(code, err)
	}
	return ServerFault(status, notify.Transient(code, err))
}

// ServerFault marks err, a transient failure of a request that got an
// HTTP reply with status, as notify.Outage when the status is a 5xx: the
// gateway is not serving, whatever its body says.
func ServerFault(status int, err error) error {
	if status >= 500 {
		return notify.Outage(err)
	}
	return err
}

// StatusCode is the error code of a reply known only by its HTTP status,
// e.g. "http_503".
func StatusCode(status int) string { return "http_" + strconv.Itoa(status) }

// UnexpectedStatus is the error for a reply whose body could not be read as
// the provider's answer: code StatusCode(status), classified by
// ClassifyStatus.
func UnexpectedStatus(op string, status int) error {
	return ClassifyStatus(status, StatusCode(status),
		fmt.Errorf("%s: unexpected response, HTTP %d", op, status))
}

// ParseEndpoint parses a provider's base URL from configuration: it must be
// an absolute http or https URL. An empty path becomes "/"; a query or
// fragment is dropped.
func ParseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want an absolute http(s) URL", s)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// Redact makes provider text fit to quote in an error: whitespace runs
// become one space, then mask.Quote masks phone numbers and email
// addresses and cuts the result to MaxQuote bytes. Providers echo the recipient in their errors; the
// error must not carry it.
func Redact(s string) string {
	return mask.Quote(strings.Join(strings.Fields(s), " "), MaxQuote)
}

// MaxConnsPerHost is how many connections a provider client keeps open to
// its gateway: enough for every dispatch worker, so a morning burst reuses
// connections instead of redialling (net/http keeps 2 idle per host by
// default).
const MaxConnsPerHost = 64

// NewHTTPClient is the client a provider uses when its config names none:
// http.DefaultTransport's settings with idle connections sized to the
// dispatcher's workers. Timeouts are per request (see Do).
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * MaxConnsPerHost
	t.MaxIdleConnsPerHost = MaxConnsPerHost
	// A redirect is the gateway's answer, not a place to send to: followed,
	// the POST became a GET without the message, and the 200 it got read as
	// the SMS accepted. The 3xx is classified like any non-2xx (transient).
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
