package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"duebell/internal/input"
	"duebell/link"
	"duebell/notify"
	"duebell/notify/email"
	"duebell/scheduler"
)

// validateDatabase checks what a command that works on the database alone
// reads: database.url and log.
func (c *Config) validateDatabase(bad func(key, format string, args ...any)) {
	if err := checkDatabaseURL(c.Database.URL); err != nil {
		bad("database.url", "%v: want postgres://…, a libpq key=value string, or sqlite:FILE (or set DUEBELL_DATABASE_URL)", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Log.Level)); err != nil {
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if !strings.EqualFold(c.Log.Format, "text") && !strings.EqualFold(c.Log.Format, "json") {
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
}

// Validate checks every key, returning the first problem with its key name.
func (c *Config) Validate() error {
	var errs []error
	bad := c.reporter(&errs)
	c.validateDatabase(bad)
	if _, err := input.Zone(c.Defaults.Timezone); err != nil {
		bad("defaults.timezone", "%q: %v", c.Defaults.Timezone, err)
	}
	if c.Defaults.Locale != "zh-CN" && c.Defaults.Locale != "en" {
		bad("defaults.locale", "%q is not zh-CN or en", c.Defaults.Locale)
	}
	if _, err := scheduler.ParseWindow(c.Defaults.SendWindow); err != nil {
		bad("defaults.send_window", "%v", err)
	}
	if _, err := scheduler.ParseWindow(c.Defaults.SecuritySendWindow); err != nil {
		bad("defaults.security_send_window", "%v", err)
	}
	names := map[string]bool{}
	for i, t := range c.Admin.Tokens {
		key := fmt.Sprintf("admin.tokens[%d]", i)
		switch {
		case t.Name == "":
			bad(key+".name", "required")
		case names[t.Name]:
			bad(key+".name", "%q used twice", t.Name)
		case len(t.Token) < 16 && t.TokenEnv != "":
			bad(key+".token", "missing or shorter than 16 characters (set %s, the variable token_env names)", t.TokenEnv)
		case len(t.Token) < 16:
			bad(key+".token", "missing or shorter than 16 characters (set token, or token_env to a variable that holds it)")
		case !slices.Contains([]string{"ingest", "viewer", "operator"}, t.Role):
			bad(key+".role", "%q is not ingest, viewer or operator", t.Role)
		}
		names[t.Name] = true
	}
	if u, err := url.Parse(c.Links.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("links.base_url", "must be an absolute http(s) URL, e.g. https://pay.example.com/repay")
	} else if link.CheckURLs(c.Links.BaseURL, c.Links.AllowedDomains) != nil {
		bad("links.allowed_domains", "must include the host of links.base_url (%s)", u.Hostname())
	}
	if c.Links.ShortBaseURL != "" {
		if u, err := url.Parse(c.Links.ShortBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") ||
			u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("links.short_base_url", "must be an absolute http(s) URL without query, e.g. https://pay.example.cn/r/")
		} else if link.CheckURLs(c.Links.ShortBaseURL, c.Links.AllowedDomains) != nil {
			bad("links.allowed_domains", "must include the host of links.short_base_url (%s)", u.Hostname())
		}
	}
	// Every email's footer and the security SMS give it: a URL or host in
	// it failed every email ("link outside allowed domains"), a security
	// notice may carry none, and templates check rendered another phone.
	if err := link.CheckURLs(c.Support.Phone, nil); err != nil {
		bad("support.phone", "holds a web address (%v): give a phone number; security notices carry no link", err)
	} else if n := len([]rune(c.Support.Phone)); n > 40 {
		bad("support.phone", "%d characters: want at most 40 (it is in every security SMS)", n)
	}
	if len(c.Links.SigningKey) < 32 {
		bad("links.signing_key", "missing or shorter than 32 characters (or set DUEBELL_LINKS_SIGNING_KEY)")
	} else if strings.TrimSpace(c.Links.SigningKey) == "" {
		bad("links.signing_key", "only blanks: generate one, e.g. openssl rand -hex 32")
	}
	ids := map[string]bool{c.Links.KeyID: true}
	for i, k := range c.Links.PreviousKeys {
		key := fmt.Sprintf("links.previous_keys[%d]", i)
		switch {
		case k.ID == "":
			bad(key+".id", "required: the key_id the links signed with it carry")
		case ids[k.ID]:
			bad(key+".id", "%q is used twice (by links.key_id or another previous key)", k.ID)
		}
		ids[k.ID] = true
		if len(k.Key) < link.MinSecretLen {
			bad(key+".key", "missing or shorter than %d characters: the links.signing_key it was", link.MinSecretLen)
		}
	}
	if c.Links.TTL.Duration < time.Hour {
		bad("links.ttl", "must be at least 1h")
	}
	stages := c.Stages()
	if err := scheduler.ValidateStages(stages); err != nil {
		errs = append(errs, err)
	}
	for i, s := range c.Policy.Stage {
		q, err := scheduler.ParseQuiet(s.QuietOn)
		if err != nil {
			bad(fmt.Sprintf("policy.stage[%d].quiet_on", i), "%v", err)
		} else if q.Holiday && c.Calendar.File == "" {
			bad(fmt.Sprintf("policy.stage[%d].quiet_on", i), "\"holiday\" needs calendar.file (see calendar.example.toml)")
		}
	}
	c.Policy.Collection.validate(c.Defaults.SendWindow, bad)
	if err := scheduler.ValidateChannels(c.Policy.PaymentReceived); err != nil {
		bad("policy.payment_received", "%v", err)
	}
	if err := scheduler.ValidateSpec(c.Scan.Schedule); err != nil {
		bad("scan.schedule", "%q: %v", c.Scan.Schedule, err)
	}
	if err := scheduler.ValidateSpec(c.Scan.ChannelEventsSchedule); err != nil {
		bad("scan.channel_events_schedule", "%q: %v", c.Scan.ChannelEventsSchedule, err)
	}
	if c.HTTP.MaxBodyBytes < 0 {
		bad("http.max_body_bytes", "%d: must be positive (default 1048576)", c.HTTP.MaxBodyBytes)
	}
	if c.HTTP.ImportMaxBytes < 0 {
		bad("http.import_max_bytes", "%d: must be positive (default 1073741824)", c.HTTP.ImportMaxBytes)
	}
	if c.Retention.Keep.Duration < 7*24*time.Hour {
		bad("retention.keep", "%v: keep at least 7 days (\"7d\") of the delivery log", c.Retention.Keep.Duration)
	}
	if c.Retention.Batch < 1 {
		bad("retention.batch", "must be positive")
	}
	if err := scheduler.ValidateSpec(c.Retention.Schedule); err != nil {
		bad("retention.schedule", "%q: %v", c.Retention.Schedule, err)
	}
	d := c.Dispatch
	// Upper bounds: a typo (workers = 100000000) passed, and serve started
	// that many workers until the host ran out of memory.
	if d.Workers < 0 || d.Workers > MaxWorkers {
		bad("dispatch.workers", "%d: want 1 to %d (0 is the default, %d)", d.Workers, MaxWorkers, notify.DefaultWorkers)
	}
	if d.Batch < 0 || d.Batch > MaxBatch {
		bad("dispatch.batch", "%d: want 1 to %d (0 is the default, %d)", d.Batch, MaxBatch, notify.DefaultBatch)
	}
	if d.MaxAttempts < 0 {
		bad("dispatch.max_attempts", "%d: must not be negative (0 is the default, %d)", d.MaxAttempts, notify.DefaultMaxAttempts)
	}
	for _, v := range []struct {
		key string
		d   time.Duration
	}{{"dispatch.lease", d.Lease.Duration}, {"dispatch.backoff_base", d.BackoffBase.Duration},
		{"dispatch.shutdown_grace", d.ShutdownGrace.Duration}} {
		if v.d < 0 {
			bad(v.key, "%v: must not be negative (0 is the default)", v.d)
		}
	}
	// A lease of a few nanoseconds stopped the lease keeper with a panic.
	if l := d.Lease.Duration; l > 0 && l < time.Second {
		bad("dispatch.lease", "%v: want 1s or more (0 is the default, 2m)", l)
	}
	// A negative idle wait made the dispatcher claim in a busy loop, and a
	// positive one near zero did the same (an idle dispatcher at 100 %
	// of a core).
	if d.Interval.Duration < 0 || d.Interval.Duration > 0 && d.Interval.Duration < 10*time.Millisecond {
		bad("dispatch.interval", "%v: want 10ms or more (0 is the default, 5s)", d.Interval.Duration)
	}
	if d.BackoffMax.Duration < 0 {
		bad("dispatch.backoff_max", "%v: must not be negative (0 is the default, 2h)", d.BackoffMax.Duration)
	}
	if c.Email.CircuitProbe.Duration < 0 || c.SMS.CircuitProbe.Duration < 0 {
		bad("circuit_probe", "email.circuit_probe and sms.circuit_probe must not be negative")
	}
	switch c.Email.Provider {
	case "smtp":
		if c.Email.Host == "" {
			bad("email.host", "required for email.provider = \"smtp\"")
		}
		if c.Email.Port < 1 || c.Email.Port > 65535 {
			bad("email.port", "%d is not a TCP port (1 to 65535)", c.Email.Port)
		}
		if !slices.Contains([]string{"none", "starttls", "tls"}, c.Email.TLS) {
			bad("email.tls", "%q is not none, starttls or tls", c.Email.TLS)
		}
		if c.Email.Username != "" && c.Email.Password == "" {
			bad("email.password", "required when email.username is set (or set DUEBELL_EMAIL_PASSWORD)")
		}
		if c.Email.Username != "" && c.Email.TLS == "none" && !email.IsLoopback(c.Email.Host) {
			bad("email.tls", "\"none\" with email.username would log in over an unencrypted session: only to a loopback relay (localhost, 127.0.0.1, ::1); use starttls or tls")
		}
		if a := c.Email.Auth; a != "" && a != "auto" && !slices.Contains(email.AuthMechanisms, a) {
			bad("email.auth", "%q is not auto, %s", a, strings.Join(email.AuthMechanisms, ", "))
		}
		if c.Email.From == "" || !strings.Contains(c.Email.From, "@") {
			bad("email.from", "an address is required")
		}
		if h := c.Email.HELO; h != "" && (!heloName.MatchString(h) || net.ParseIP(h) != nil) { // an address goes in brackets
			bad("email.helo", "%q: want this host's fully qualified domain name (mail1.shop.example) or an address literal ([192.0.2.1])", h)
		}
		c.Email.DKIM.validate(bad)
		if c.Email.PoolSize != nil && *c.Email.PoolSize < 0 {
			bad("email.pool_size", "must not be negative (0 opens one connection per email)")
		}
		if c.Email.SessionMessages < 0 {
			bad("email.session_messages", "must not be negative")
		}
		if c.Email.IdleTimeout.Duration < 0 {
			bad("email.idle_timeout", "must not be negative")
		}
		if t := c.Email.Timeout.Duration; t < time.Second || t > 10*time.Minute {
			bad("email.timeout", "%v: want 1s to 10m", t)
		}
	case "outbox":
	default:
		bad("email.provider", "%q is not smtp or outbox", c.Email.Provider)
	}
	switch c.SMS.Provider {
	case "webhook":
		if u, err := url.Parse(c.SMS.Webhook.URL); err != nil || u.Host == "" {
			bad("sms.webhook.url", "required for sms.provider = \"webhook\"")
		}
		if c.SMS.Webhook.Secret == "" {
			bad("sms.webhook.secret", "required (or set DUEBELL_SMS_WEBHOOK_SECRET)")
		}
	case "outbox", "aliyun", "tencent", "twilio": // the providers: validateSMS
	default:
		bad("sms.provider", "%q is not webhook, aliyun, tencent, twilio or outbox", c.SMS.Provider)
	}
	errs = append(errs, c.validateSMS()...)
	return errors.Join(errs...)
}

// heloName is a name EHLO may give (RFC 5321 4.1.1.1): a domain with at
// least two labels, or an address literal in brackets.
var heloName = regexp.MustCompile(`^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]|\[IPv6:[0-9A-Fa-f:.]+\])$`)

// checkDatabaseURL tells what is wrong with a database.url, without its
// value (it may hold a password): a store duebell opens is a postgres://
// or postgresql:// URL, a libpq key=value string (host=… dbname=…), or an
// sqlite: file.
func checkDatabaseURL(u string) error {
	switch {
	case u == "":
		return errors.New("empty")
	case strings.HasPrefix(u, "sqlite:"):
		return nil
	case strings.Contains(u, "://"):
		p, err := url.Parse(u)
		if err != nil {
			return errors.New("not a valid URL")
		}
		if p.Scheme != "postgres" && p.Scheme != "postgresql" {
			return fmt.Errorf("scheme %q is not a store duebell opens", p.Scheme)
		}
		return nil
	case !strings.Contains(u, "="):
		return errors.New("neither a URL nor key=value pairs (an SQLite file is written sqlite:duebell.db)")
	}
	return nil
}
