package cli

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"text/tabwriter"

	"duebell/api"
	"duebell/config"
	"duebell/kinds"
	"duebell/notify"
	"duebell/notify/sms/aliyun"
	"duebell/notify/sms/tencent"
	"duebell/notify/sms/twilio"
	"duebell/notify/sms/webhook"
	"duebell/templates"
)

// smsProvider builds the configured SMS provider (sms.provider, other than
// outbox) from its [sms.<provider>] table.
func (a *app) smsProvider() (notify.Sender, error) {
	c := a.cfg.SMS
	switch c.Provider {
	case "aliyun":
		tpl := map[string]aliyun.Template{}
		for _, t := range c.Aliyun.Templates {
			tpl[t.Kind+"/"+t.Locale] = aliyun.Template{Code: t.Code, SignName: cmp.Or(t.SignName, c.Aliyun.SignName), Vars: t.Vars}
		}
		s, err := aliyun.NewClient(aliyun.Config{AccessKeyID: c.Aliyun.AccessKeyID, AccessKeySecret: c.Aliyun.AccessKeySecret,
			Templates: tpl, FallbackLocale: a.cfg.Defaults.Locale, Endpoint: c.Aliyun.Endpoint})
		if err != nil {
			return nil, fmt.Errorf("sms.aliyun: %w", err)
		}
		return s, nil
	case "tencent":
		tpl := map[string]tencent.Template{}
		for _, t := range c.Tencent.Templates {
			tpl[t.Kind+"/"+t.Locale] = tencent.Template{ID: t.Code, SignName: cmp.Or(t.SignName, c.Tencent.SignName), Vars: t.Vars}
		}
		s, err := tencent.NewClient(tencent.Config{SecretID: c.Tencent.SecretID, SecretKey: c.Tencent.SecretKey,
			SdkAppID: c.Tencent.SdkAppID, Region: c.Tencent.Region, Templates: tpl, FallbackLocale: a.cfg.Defaults.Locale,
			Endpoint: c.Tencent.Endpoint})
		if err != nil {
			return nil, fmt.Errorf("sms.tencent: %w", err)
		}
		return s, nil
	case "twilio":
		s, err := twilio.NewClient(twilio.Config{AccountSID: c.Twilio.AccountSID, AuthToken: c.Twilio.AuthToken,
			From: c.Twilio.From, MessagingServiceSID: c.Twilio.MessagingServiceSID,
			StatusCallback: c.Twilio.StatusCallback, Endpoint: c.Twilio.Endpoint})
		if err != nil {
			return nil, fmt.Errorf("sms.twilio: %w", err)
		}
		return s, nil
	}
	s, err := webhook.NewClient(webhook.Config{URL: c.Webhook.URL, Secret: c.Webhook.Secret})
	if err != nil {
		return nil, fmt.Errorf("sms.webhook: %w", err)
	}
	return s, nil
}

// smsDispatch is the dispatcher's share of the SMS options: the provider's
// rate limit, the per-customer cap, fallbacks and the link mode.
func (a *app) smsDispatch(cfg *notify.Config, smsProvider string) {
	c := a.cfg
	cfg.RateLimits = map[string]float64{smsProvider: c.SMS.RatePerSecond}
	cfg.SMSPerCustomerPerDay = c.SMSCap()
	cfg.Fallbacks = c.Fallbacks()
	cfg.SMSLinkMode, cfg.SMSLandingURL = c.SMS.LinkMode, c.Links.SMSLandingURL
	cfg.SMSSignature = c.SMS.Signature
	// Aliyun and Tencent sign with their filed sign_name; the webhook and
	// Twilio send duebell's own text, which a lender's signature signs.
	if c.SMS.Signature == "" && c.Defaults.Locale == "zh-CN" && (smsProvider == "webhook" || smsProvider == "twilio") {
		a.log.Warn("sms.signature is not set: Chinese SMS are signed with the merchant's name, and go unsigned " +
			"when a notice names no single merchant (a digest of several shops' bills, a security notice); " +
			"mainland carriers refuse unsigned SMS: set it to the signature you filed")
	}
}

// receipts is what the API needs to take delivery receipts.
func (a *app) receipts(onReceipt func(provider, outcome string)) *api.ReceiptConfig {
	c := a.cfg.SMS
	allow := make([]netip.Prefix, len(c.ReceiptAllowIPs))
	for i, p := range c.ReceiptAllowIPs {
		allow[i] = p.Prefix
	}
	return &api.ReceiptConfig{Token: c.ReceiptToken, AllowIPs: allow, WebhookSecret: c.Webhook.Secret,
		TwilioAuthToken: c.Twilio.AuthToken, TwilioCallbackURL: c.Twilio.StatusCallback, OnReceipt: onReceipt}
}

// mappingResult is the provider template mapping's answer for one kind and
// locale the policy can send by SMS: the code it goes out with, filed in
// Fallback's locale when not in its own, or Err.
type mappingResult struct {
	Kind, Locale, Code, Fallback string
	Err                          error
}

// checkProviderMapping checks, for a provider with templates filed
// provider-side (aliyun, tencent), that every kind the policy can send by
// SMS — the reminder stages that list sms, payment_received when it does,
// and every channel-event kind — has a template in defaults.locale, that
// its variables are ones duebell fills for that kind, and says for every
// other locale a customer may have whether it has one of its own or goes
// out in defaults.locale's. Other providers send duebell's own text: nil.
func checkProviderMapping(c *config.Config) []mappingResult {
	var ts []config.SMSTemplate
	switch c.SMS.Provider {
	case "aliyun":
		ts = c.SMS.Aliyun.Templates
	case "tencent":
		ts = c.SMS.Tencent.Templates
	default:
		return nil
	}
	byKey := map[string]config.SMSTemplate{}
	for _, t := range ts {
		byKey[t.Kind+"/"+t.Locale] = t
	}
	locales := []string{c.Defaults.Locale}
	for _, l := range templates.Locales() {
		if l != c.Defaults.Locale {
			locales = append(locales, l)
		}
	}
	var out []mappingResult
	for _, kind := range smsKinds(c) {
		for _, locale := range locales {
			r := mappingResult{Kind: kind, Locale: locale}
			t, ok := byKey[kind+"/"+locale]
			if !ok && locale != c.Defaults.Locale {
				if t, ok = byKey[kind+"/"+c.Defaults.Locale]; ok {
					r.Fallback = c.Defaults.Locale
				}
			}
			r.Code = t.Code
			switch {
			case !ok:
				r.Err = fmt.Errorf("no template mapped in sms.%s.templates", c.SMS.Provider)
			case t.Code == "":
				r.Err = fmt.Errorf("no template code")
			case r.Fallback != "":
				// checked on its own locale's row
			default:
				for _, v := range t.Vars {
					if !slices.Contains(notify.VarsFor(kind), v) {
						r.Err = fmt.Errorf("variable %q is not one duebell fills for %s", v, kind)
						break
					}
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// smsKinds are the kinds the policy can send by SMS, in templates' order.
func smsKinds(c *config.Config) []string {
	want := map[string]bool{}
	for _, s := range c.Policy.Stage {
		if slices.Contains(s.Channels, notify.ChannelSMS) {
			want[s.Kind] = true
		}
	}
	if slices.Contains(c.Policy.PaymentReceived, notify.ChannelSMS) {
		for _, k := range kinds.ConfirmsPayment() {
			want[k] = true
		}
	}
	var out []string
	for _, k := range kinds.All() {
		if want[k.Name] || k.Event != nil { // channel events go by SMS too
			out = append(out, k.Name)
		}
	}
	return out
}

// printMapping writes the provider mapping check as a table and returns
// its failures.
func printMapping(out io.Writer, provider string, results []mappingResult) []error {
	fmt.Fprintf(out, "\nsms.%s template mapping:\n", provider)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tLOCALE\tCODE\tRESULT")
	var errs []error
	for _, r := range results {
		res := "ok"
		if r.Fallback != "" {
			res = "ok: none filed in " + r.Locale + ", goes out in " + r.Fallback + "'s"
		}
		if r.Err != nil {
			res = "ERROR: " + r.Err.Error()
			errs = append(errs, fmt.Errorf("sms.%s %s/%s: %w", provider, r.Kind, r.Locale, r.Err))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Kind, r.Locale, r.Code, res)
	}
	_ = tw.Flush()
	return errs
}
