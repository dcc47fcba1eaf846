package twilio

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// Defaults for Config.
const (
	DefaultEndpoint = "https://api.twilio.com"
	DefaultTimeout  = 10 * time.Second
)

// Config configures a Client.
type Config struct {
	AccountSID string
	AuthToken  string
	// From is the sending number (E.164) or alphanumeric sender ID;
	// MessagingServiceSID sends through a Messaging Service instead. At least
	// one is required; both are sent when both are set.
	From                string
	MessagingServiceSID string
	// StatusCallback is our delivery-receipt URL; empty sends none.
	StatusCallback string

	Endpoint   string        // API base URL, default DefaultEndpoint
	Timeout    time.Duration // per request, default DefaultTimeout
	HTTPClient *http.Client  // default a plain client; Timeout still applies
}

var sid = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func (c *Config) validate() error {
	var errs []error
	if c.AccountSID == "" || c.AuthToken == "" {
		errs = append(errs, errors.New("account sid and auth token are required"))
	} else if !sid.MatchString(c.AccountSID) {
		errs = append(errs, errors.New("account sid must be letters and digits"))
	}
	if c.From == "" && c.MessagingServiceSID == "" {
		errs = append(errs, errors.New("from or messaging service sid is required"))
	}
	if c.StatusCallback != "" {
		if u, err := url.Parse(c.StatusCallback); err != nil || u.Host == "" ||
			(u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("status callback %q: want an absolute http(s) URL", c.StatusCallback))
		}
	}
	return errors.Join(errs...)
}
