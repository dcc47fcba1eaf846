package tencent

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Defaults for Config.
const (
	DefaultEndpoint = "https://sms.tencentcloudapi.com/"
	DefaultRegion   = "ap-guangzhou"
	DefaultTimeout  = 10 * time.Second
)

// Template maps one notice kind and locale to a template filed with Tencent.
type Template struct {
	ID       string   // TemplateId
	SignName string   // approved signature content
	Vars     []string // Message.Vars keys, in the template's {1},{2},… order
}

// Config configures a Client.
type Config struct {
	SecretID  string
	SecretKey string
	SdkAppID  string // SmsSdkAppId
	Region    string // X-TC-Region, default DefaultRegion
	// Templates is keyed by "kind/locale", e.g. "due_soon/zh-CN".
	Templates map[string]Template
	// FallbackLocale is the locale whose template an SMS goes out with when
	// its customer's locale has none (defaults.locale; "" for none).
	FallbackLocale string

	Endpoint   string        // default DefaultEndpoint
	Timeout    time.Duration // per request, default DefaultTimeout
	HTTPClient *http.Client  // default a plain client; Timeout still applies
	Now        func() time.Time
}

func (c *Config) validate() error {
	var errs []error
	if c.SecretID == "" || c.SecretKey == "" {
		errs = append(errs, errors.New("secret id and secret key are required"))
	}
	if c.SdkAppID == "" {
		errs = append(errs, errors.New("sdk app id is required"))
	}
	for key, t := range c.Templates {
		kind, locale, ok := strings.Cut(key, "/")
		if !ok || kind == "" || locale == "" {
			errs = append(errs, fmt.Errorf("template %q: key must be kind/locale", key))
		}
		if t.ID == "" || t.SignName == "" {
			errs = append(errs, fmt.Errorf("template %q: id and sign name are required", key))
		}
		for _, v := range t.Vars {
			if v == "" {
				errs = append(errs, fmt.Errorf("template %q: empty variable name", key))
			}
		}
	}
	return errors.Join(errs...)
}
