package aliyun

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Defaults for Config.
const (
	DefaultEndpoint = "https://dysmsapi.aliyuncs.com/"
	DefaultTimeout  = 10 * time.Second
)

// Template maps one notice kind and locale to a template filed with Aliyun.
type Template struct {
	Code     string   // TemplateCode, e.g. SMS_15305****
	SignName string   // approved signature (短信签名)
	Vars     []string // the template's named variables, taken from Message.Vars
}

// Config configures a Client.
type Config struct {
	AccessKeyID     string
	AccessKeySecret string
	// Templates is keyed by "kind/locale", e.g. "due_soon/zh-CN".
	Templates map[string]Template
	// FallbackLocale is the locale whose template an SMS goes out with when
	// its customer's locale has none (defaults.locale; "" for none).
	FallbackLocale string

	Endpoint   string        // default DefaultEndpoint
	Timeout    time.Duration // per request, default DefaultTimeout
	HTTPClient *http.Client  // default a plain client; Timeout still applies
	Now        func() time.Time
	Rand       io.Reader // source of x-acs-signature-nonce, default crypto/rand
}

func (c *Config) validate() error {
	var errs []error
	if c.AccessKeyID == "" {
		errs = append(errs, errors.New("access key id is required"))
	}
	if c.AccessKeySecret == "" {
		errs = append(errs, errors.New("access key secret is required"))
	}
	for key, t := range c.Templates {
		kind, locale, ok := strings.Cut(key, "/")
		if !ok || kind == "" || locale == "" {
			errs = append(errs, fmt.Errorf("template %q: key must be kind/locale", key))
		}
		if t.Code == "" || t.SignName == "" {
			errs = append(errs, fmt.Errorf("template %q: code and sign name are required", key))
		}
		for _, v := range t.Vars {
			if v == "" {
				errs = append(errs, fmt.Errorf("template %q: empty variable name", key))
			}
		}
	}
	return errors.Join(errs...)
}
