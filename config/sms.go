package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"duebell/link"
	"duebell/notify"
	"duebell/templates"
)

// SMSAliyun is [sms.aliyun]: Alibaba Cloud SMS (Dysmsapi SendSms).
type SMSAliyun struct {
	Endpoint        string        `toml:"endpoint"`          // default https://dysmsapi.aliyuncs.com/
	AccessKeyID     string        `toml:"access_key_id"`     // env DUEBELL_SMS_ALIYUN_ACCESS_KEY_ID
	AccessKeySecret string        `toml:"access_key_secret"` // env DUEBELL_SMS_ALIYUN_ACCESS_KEY_SECRET
	SignName        string        `toml:"sign_name"`         // default for templates without their own
	Templates       []SMSTemplate `toml:"templates"`
}

// SMSTencent is [sms.tencent]: Tencent Cloud SMS (SendSms 2021-01-11).
type SMSTencent struct {
	Endpoint  string        `toml:"endpoint"`   // default https://sms.tencentcloudapi.com/
	Region    string        `toml:"region"`     // default ap-guangzhou
	SecretID  string        `toml:"secret_id"`  // env DUEBELL_SMS_TENCENT_SECRET_ID
	SecretKey string        `toml:"secret_key"` // env DUEBELL_SMS_TENCENT_SECRET_KEY
	SdkAppID  string        `toml:"sdk_app_id"` // SmsSdkAppId
	SignName  string        `toml:"sign_name"`  // default for templates without their own
	Templates []SMSTemplate `toml:"templates"`
}

// SMSTwilio is [sms.twilio]: Twilio Programmable Messaging. Its SMS carry
// duebell's own rendered text, so it needs no template mapping.
type SMSTwilio struct {
	Endpoint            string `toml:"endpoint"`    // default https://api.twilio.com
	AccountSID          string `toml:"account_sid"` // env DUEBELL_SMS_TWILIO_ACCOUNT_SID
	AuthToken           string `toml:"auth_token"`  // env DUEBELL_SMS_TWILIO_AUTH_TOKEN
	From                string `toml:"from"`
	MessagingServiceSID string `toml:"messaging_service_sid"`
	// StatusCallback is the public URL of duebell's /hooks/sms/twilio, as
	// Twilio calls it; receipts are verified against it.
	StatusCallback string `toml:"status_callback"`
}

// SMSTemplate maps one notice kind and locale to a template filed with the
// provider: its code (Aliyun TemplateCode, Tencent TemplateId), signature
// and variables, in the template's order (Tencent's {1},{2},… are positional).
// Kind may also name an escalation level (overdue_firm): notices of that level
// use its template, other notices of the kind the kind's.
type SMSTemplate struct {
	Kind     string   `toml:"kind"`
	Locale   string   `toml:"locale"`
	Code     string   `toml:"code"`
	SignName string   `toml:"sign_name"`
	Vars     []string `toml:"vars"`
}

// IPPrefix is an address ("47.96.1.2") or a CIDR block ("47.96.0.0/16")
// in the config, parsed once.
type IPPrefix struct{ netip.Prefix }

// UnmarshalText parses an address or a CIDR block.
func (p *IPPrefix) UnmarshalText(b []byte) error {
	s := string(b)
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("%q is not an address or CIDR block", s)
		}
		p.Prefix = pfx.Masked()
		return nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("%q is not an address or CIDR block", s)
	}
	ip = ip.Unmap()
	p.Prefix = netip.PrefixFrom(ip, ip.BitLen())
	return nil
}

// MarshalText writes the block.
func (p IPPrefix) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// SMS link modes.
const (
	LinkModePerUser = notify.LinkModePerUser
	LinkModeFixed   = notify.LinkModeFixed
)

// DefaultMaxSMSPerCustomerPerDay is sms.max_per_customer_per_day's default.
const DefaultMaxSMSPerCustomerPerDay = 5

func (s *SMS) applyDefaults() {
	s.LinkMode = cmp.Or(s.LinkMode, LinkModePerUser)
	s.MaxPerCustomerPerDay = cmp.Or(s.MaxPerCustomerPerDay, DefaultMaxSMSPerCustomerPerDay)
}

// SMSCap is the per-customer daily SMS cap for the dispatcher (0: none).
func (c *Config) SMSCap() int { return max(c.SMS.MaxPerCustomerPerDay, 0) }

// Fallbacks maps each policy stage with a fallback to its fallback channel.
func (c *Config) Fallbacks() map[string]string {
	out := map[string]string{}
	for _, s := range c.Policy.Stage {
		if s.Fallback != "" {
			out[s.Name] = s.Fallback
		}
	}
	return out
}

// validateSMS checks the SMS provider, delivery, rate and link options and
// the policy's fallbacks, naming the key at fault.
func (c *Config) validateSMS() []error {
	var errs []error
	bad := c.reporter(&errs)
	s := c.SMS
	required := func(key, v, env string) {
		if v == "" {
			bad(key, "required for sms.provider = %q (or set %s)", s.Provider, env)
		}
	}
	switch s.Provider {
	case "aliyun":
		required("sms.aliyun.access_key_id", s.Aliyun.AccessKeyID, "DUEBELL_SMS_ALIYUN_ACCESS_KEY_ID")
		required("sms.aliyun.access_key_secret", s.Aliyun.AccessKeySecret, "DUEBELL_SMS_ALIYUN_ACCESS_KEY_SECRET")
		checkEndpoint(bad, "sms.aliyun.endpoint", s.Aliyun.Endpoint)
		errs = append(errs, checkTemplates("sms.aliyun", s.Aliyun.SignName, s.LinkMode, s.Aliyun.Templates)...)
	case "tencent":
		required("sms.tencent.secret_id", s.Tencent.SecretID, "DUEBELL_SMS_TENCENT_SECRET_ID")
		required("sms.tencent.secret_key", s.Tencent.SecretKey, "DUEBELL_SMS_TENCENT_SECRET_KEY")
		if s.Tencent.SdkAppID == "" {
			bad("sms.tencent.sdk_app_id", "required for sms.provider = \"tencent\" (the SmsSdkAppId)")
		}
		checkEndpoint(bad, "sms.tencent.endpoint", s.Tencent.Endpoint)
		errs = append(errs, checkTemplates("sms.tencent", s.Tencent.SignName, s.LinkMode, s.Tencent.Templates)...)
	case "twilio":
		required("sms.twilio.account_sid", s.Twilio.AccountSID, "DUEBELL_SMS_TWILIO_ACCOUNT_SID")
		required("sms.twilio.auth_token", s.Twilio.AuthToken, "DUEBELL_SMS_TWILIO_AUTH_TOKEN")
		if s.Twilio.From == "" && s.Twilio.MessagingServiceSID == "" {
			bad("sms.twilio.from", "a sending number or sender id is required (or set messaging_service_sid)")
		}
		checkEndpoint(bad, "sms.twilio.endpoint", s.Twilio.Endpoint)
		checkEndpoint(bad, "sms.twilio.status_callback", s.Twilio.StatusCallback)
	}
	if s.ReceiptToken != "" && len(s.ReceiptToken) < 16 {
		bad("sms.receipt_token", "shorter than 16 characters (or set DUEBELL_SMS_RECEIPT_TOKEN)")
	}
	// Aliyun and Tencent do not sign their receipts: without a token or an
	// allow-list, POST /hooks/sms/<provider> would be open to anyone, who
	// could mark sent SMS undelivered and trigger fallback emails.
	if (s.Provider == "aliyun" || s.Provider == "tencent") && s.ReceiptToken == "" && len(s.ReceiptAllowIPs) == 0 {
		bad("sms.receipt_token", "required for sms.provider = %q, whose delivery receipts are not signed: "+
			"set a secret of at least 16 characters (or DUEBELL_SMS_RECEIPT_TOKEN) and register "+
			".../hooks/sms/%s/<token>, or list the provider's addresses in sms.receipt_allow_ips", s.Provider, s.Provider)
	}
	if sig := s.Signature; sig != "" {
		n := utf8.RuneCountInString(sig)
		switch {
		case !utf8.ValidString(sig) || strings.ContainsFunc(sig, unicode.IsControl) || strings.ContainsAny(sig, "【】[] \t"):
			bad("sms.signature", "%q: want the name alone, without brackets, spaces or control characters (duebell adds 【】)", sig)
		case n < 2 || n > 16:
			bad("sms.signature", "%q: want 2 to 16 characters, as carriers file signatures", sig)
		case strings.ContainsAny(sig, "./:@"):
			bad("sms.signature", "%q: looks like an address; want the lender's name", sig)
		}
	}
	if s.RatePerSecond < 0 {
		bad("sms.rate_per_second", "must not be negative (0 means no limit)")
	}
	if s.MaxPerCustomerPerDay < -1 {
		bad("sms.max_per_customer_per_day", "must be positive, or -1 for no cap")
	}
	switch s.LinkMode {
	case LinkModePerUser, LinkModeFixed:
	default:
		bad("sms.link_mode", "%q is not per_user or fixed", s.LinkMode)
	}
	if u := c.Links.SMSLandingURL; u != "" || s.LinkMode == LinkModeFixed {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			bad("links.sms_landing_url", "must be an absolute http(s) URL when sms.link_mode = \"fixed\", e.g. https://pay.example.com/app")
		} else if link.CheckURLs(u, c.Links.AllowedDomains) != nil {
			bad("links.sms_landing_url", "host %s is not on links.allowed_domains", p.Hostname())
		}
	}
	for i, st := range c.Policy.Stage {
		key := fmt.Sprintf("policy.stage[%d].fallback", i)
		switch {
		case st.Fallback == "":
		case st.Fallback != "email":
			bad(key, "%q is not email", st.Fallback)
		case !slices.Contains(st.Channels, "sms"):
			bad(key, "stage %q does not send SMS, so nothing falls back", st.Name)
		case slices.Contains(st.Channels, "email"):
			bad(key, "stage %q already sends email; drop email from channels to send it only when the SMS cannot go", st.Name)
		}
	}
	return errs
}

func checkEndpoint(bad func(key, format string, args ...any), key, v string) {
	if v == "" {
		return
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad(key, "%q is not an absolute http(s) URL", v)
	}
}

// checkTemplates checks a provider's template mapping: known kind and
// locale, a code and a signature, each (kind, locale) once, and only
// variables duebell fills for that kind (notify.VarsFor) and the provider
// takes: Aliyun and Tencent refuse a URL in a template variable
// (isv.PARAM_NOT_SUPPORT_URL; Tencent: 变量不允许传链接), so link and
// entry_url are refused and a template holds the link's fixed part with
// link_token after it, which linkMode fixed leaves empty.
func checkTemplates(prefix, defaultSign, linkMode string, ts []SMSTemplate) []error {
	var errs []error
	if len(ts) == 0 {
		errs = append(errs, fmt.Errorf("%s.templates: map at least one kind and locale to a template (see `duebell templates check`)", prefix))
	}
	seen := map[string]int{}
	provider := strings.TrimPrefix(prefix, "sms.")
	for i, t := range ts {
		key := fmt.Sprintf("%s.templates[%d]", prefix, i)
		kind, _ := templates.KindOf(t.Kind) // an escalation level maps like its kind
		known := notify.VarsFor(kind)
		switch {
		case known == nil:
			errs = append(errs, fmt.Errorf("%s.kind: unknown kind or template %q", key, t.Kind))
		case t.Locale != "zh-CN" && t.Locale != "en":
			errs = append(errs, fmt.Errorf("%s.locale: %q is not zh-CN or en", key, t.Locale))
		case t.Code == "":
			errs = append(errs, fmt.Errorf("%s.code: required (the provider's template code or id)", key))
		case cmp.Or(t.SignName, defaultSign) == "":
			errs = append(errs, fmt.Errorf("%s.sign_name: required (or set %s.sign_name)", key, prefix))
		}
		if j, dup := seen[t.Kind+"/"+t.Locale]; dup {
			errs = append(errs, fmt.Errorf("%s: %s/%s is already mapped by %s.templates[%d]", key, t.Kind, t.Locale, prefix, j))
		}
		seen[t.Kind+"/"+t.Locale] = i
		for _, v := range t.Vars {
			switch {
			case known != nil && !slices.Contains(known, v):
				takes := slices.DeleteFunc(slices.Clone(known), func(k string) bool { return k == notify.VarLink || k == notify.VarEntryURL })
				errs = append(errs, fmt.Errorf("%s.vars: duebell has no %q for %s (it fills %s)", key, v, t.Kind,
					strings.Join(takes, ", ")))
			case v == notify.VarLink:
				errs = append(errs, fmt.Errorf("%s.vars: %q is a URL, which %s refuses in a template variable: file the link's fixed part "+
					"in the template (links.short_base_url, or links.base_url with \"?t=\") and put \"link_token\" after it", key, v, provider))
			case v == notify.VarEntryURL:
				errs = append(errs, fmt.Errorf("%s.vars: %q is a URL, which %s refuses in a template variable: file the new entry's "+
					"address in the template itself", key, v, provider))
			case v == notify.VarLinkToken && linkMode == LinkModeFixed:
				errs = append(errs, fmt.Errorf("%s.vars: \"link_token\" is empty with sms.link_mode = \"fixed\" (SMS carry "+
					"links.sms_landing_url, no per-user link): file the landing URL in the template", key))
			}
		}
	}
	return errs
}
