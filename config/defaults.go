package config

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"duebell/kinds"
	"duebell/notify/email"
	"duebell/repo"
	"duebell/scheduler"
)

// DefaultDatabaseURL works against a local PostgreSQL with trust auth.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// applyEnv lets the environment supply secrets and the database URL, so they
// need not be written in the file. It records which keys a variable set, so
// that a bad value is reported as the variable's (see reporter).
func (c *Config) applyEnv(getenv func(string) string) {
	c.fromEnv = map[string]string{}
	for _, e := range []struct {
		dst      *string
		key, env string
	}{
		{&c.Database.URL, "database.url", "DUEBELL_DATABASE_URL"},
		{&c.Links.SigningKey, "links.signing_key", "DUEBELL_LINKS_SIGNING_KEY"},
		{&c.Email.Password, "email.password", "DUEBELL_EMAIL_PASSWORD"},
		{&c.Email.DKIM.Key, "email.dkim.key_file", "DUEBELL_EMAIL_DKIM_KEY"},
		{&c.SMS.Webhook.Secret, "sms.webhook.secret", "DUEBELL_SMS_WEBHOOK_SECRET"},
		{&c.SMS.Aliyun.AccessKeyID, "sms.aliyun.access_key_id", "DUEBELL_SMS_ALIYUN_ACCESS_KEY_ID"},
		{&c.SMS.Aliyun.AccessKeySecret, "sms.aliyun.access_key_secret", "DUEBELL_SMS_ALIYUN_ACCESS_KEY_SECRET"},
		{&c.SMS.Tencent.SecretID, "sms.tencent.secret_id", "DUEBELL_SMS_TENCENT_SECRET_ID"},
		{&c.SMS.Tencent.SecretKey, "sms.tencent.secret_key", "DUEBELL_SMS_TENCENT_SECRET_KEY"},
		{&c.SMS.Twilio.AccountSID, "sms.twilio.account_sid", "DUEBELL_SMS_TWILIO_ACCOUNT_SID"},
		{&c.SMS.Twilio.AuthToken, "sms.twilio.auth_token", "DUEBELL_SMS_TWILIO_AUTH_TOKEN"},
		{&c.SMS.ReceiptToken, "sms.receipt_token", "DUEBELL_SMS_RECEIPT_TOKEN"},
	} {
		if v := getenv(e.env); v != "" {
			*e.dst, c.fromEnv[e.key] = v, e.env
		}
	}
	for i := range c.Admin.Tokens {
		if env := c.Admin.Tokens[i].TokenEnv; env != "" {
			c.Admin.Tokens[i].Token = getenv(env)
		}
	}
}

func (c *Config) applyDefaults() {
	c.Database.URL = cmp.Or(c.Database.URL, DefaultDatabaseURL)
	c.Database.Schema = cmp.Or(c.Database.Schema, repo.DefaultSchema)
	c.HTTP.Listen = cmp.Or(c.HTTP.Listen, "127.0.0.1:8080")
	c.HTTP.MaxBodyBytes = cmp.Or(c.HTTP.MaxBodyBytes, 1<<20)
	c.HTTP.ImportMaxBytes = cmp.Or(c.HTTP.ImportMaxBytes, 1<<30)
	c.Defaults.Timezone = cmp.Or(c.Defaults.Timezone, "Asia/Shanghai")
	c.Defaults.Locale = cmp.Or(c.Defaults.Locale, "zh-CN")
	c.Defaults.SendWindow = cmp.Or(c.Defaults.SendWindow, "09:00-20:00")
	c.Defaults.SecuritySendWindow = cmp.Or(c.Defaults.SecuritySendWindow, "07:00-22:00")
	c.Links.KeyID = cmp.Or(c.Links.KeyID, "k1")
	if c.Links.TTL.Duration == 0 {
		c.Links.TTL.Duration = 7 * 24 * time.Hour
	}
	if len(c.Policy.Stage) == 0 {
		for _, s := range scheduler.DefaultStages() {
			c.Policy.Stage = append(c.Policy.Stage, Stage{Name: s.Name, OffsetDays: s.OffsetDays, Kind: s.Kind, Channels: s.Channels,
				Template: s.Template})
		}
	}
	c.Policy.Collection.applyDefaults()
	if c.Policy.Digest == nil {
		on := true
		c.Policy.Digest = &on
	}
	if c.Policy.PaymentReceived == nil {
		c.Policy.PaymentReceived = []string{"sms"}
	}
	c.Retention.Keep.Duration = cmp.Or(c.Retention.Keep.Duration, scheduler.DefaultRetentionKeep)
	c.Retention.Batch = cmp.Or(c.Retention.Batch, scheduler.DefaultRetentionBatch)
	c.Retention.Schedule = cmp.Or(c.Retention.Schedule, "@every 1h")
	c.Scan.Schedule = cmp.Or(c.Scan.Schedule, "@every 1m")
	c.Scan.ChannelEventsSchedule = cmp.Or(c.Scan.ChannelEventsSchedule, "@every 30s")
	c.Email.Provider = cmp.Or(c.Email.Provider, "smtp")
	if c.Email.Provider == "outbox" {
		c.Email.From = cmp.Or(c.Email.From, "duebell@localhost")
	}
	c.Email.Port = cmp.Or(c.Email.Port, 587)
	c.Email.TLS = cmp.Or(c.Email.TLS, "starttls")
	if c.Email.PoolSize == nil {
		n := email.DefaultPoolSize
		c.Email.PoolSize = &n
	}
	c.Email.SessionMessages = cmp.Or(c.Email.SessionMessages, 100)
	c.Email.IdleTimeout.Duration = cmp.Or(c.Email.IdleTimeout.Duration, 30*time.Second)
	c.Email.Timeout.Duration = cmp.Or(c.Email.Timeout.Duration, email.DefaultTimeout)
	c.SMS.Provider = cmp.Or(c.SMS.Provider, "webhook")
	c.SMS.applyDefaults()
	c.Outbox.Dir = cmp.Or(c.Outbox.Dir, "outbox")
	c.Log.Level = cmp.Or(c.Log.Level, "info")
	c.Log.Format = cmp.Or(c.Log.Format, "text")
}

// Stages is the reminder policy in the form the scan uses.
func (c *Config) Stages() []repo.Stage {
	out := make([]repo.Stage, len(c.Policy.Stage))
	for i, s := range c.Policy.Stage {
		out[i] = repo.Stage{Name: s.Name, OffsetDays: s.OffsetDays, Kind: s.Kind, Channels: s.Channels, Template: s.Template,
			DigestChannels: c.digestChannels(s.Channels)}
	}
	return out
}

// digestChannels are the channels of a stage whose notices are combined
// into digests: all of them with policy.digest on, except SMS through a
// provider that sends templates filed with it (aliyun, tencent), whose
// text duebell does not write.
func (c *Config) digestChannels(channels []string) []string {
	if c.Policy.Digest == nil || !*c.Policy.Digest {
		return nil
	}
	var out []string
	for _, ch := range channels {
		if ch == "sms" && (c.SMS.Provider == "aliyun" || c.SMS.Provider == "tencent") {
			continue
		}
		out = append(out, ch)
	}
	return out
}

// StageTemplates maps each stage that names a template to it.
func (c *Config) StageTemplates() map[string]string {
	out := map[string]string{}
	for _, s := range c.Policy.Stage {
		if s.Template != "" {
			out[s.Name] = s.Template
		}
	}
	return out
}

// StageQuiet maps each stage with a quiet_on rule to it (valid after Load).
func (c *Config) StageQuiet() map[string]scheduler.Quiet {
	out := map[string]scheduler.Quiet{}
	for _, s := range c.Policy.Stage {
		if q, _ := scheduler.ParseQuiet(s.QuietOn); q.Any() {
			out[s.Name] = q
		}
	}
	return out
}

// HolidayCalendar is the parsed calendar.file, nil when none is set (valid
// after Load).
func (c *Config) HolidayCalendar() *scheduler.Calendar { return c.calendar }

// Window is the parsed default send window (valid after Load).
func (c *Config) Window() scheduler.Window {
	w, _ := scheduler.ParseWindow(c.Defaults.SendWindow)
	return w
}

// SecurityKinds are the notices that use defaults.security_send_window.
var SecurityKinds = kinds.Security()

// KindWindows maps each security notice kind to the parsed
// defaults.security_send_window (valid after Load).
func (c *Config) KindWindows() map[string]scheduler.Window {
	w, _ := scheduler.ParseWindow(c.Defaults.SecuritySendWindow)
	out := make(map[string]scheduler.Window, len(SecurityKinds))
	for _, k := range SecurityKinds {
		out[k] = w
	}
	return out
}

// reporter is how validation reports a key's problem into errs, naming the
// key. A value that a variable set is reported as the variable's, without
// the hint to set it: "links.signing_key (from DUEBELL_LINKS_SIGNING_KEY):
// missing or shorter than 32 characters", not advice to set the variable
// that holds the bad value.
func (c *Config) reporter(errs *[]error) func(key, format string, args ...any) {
	return func(key, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if env := c.fromEnv[key]; env != "" {
			msg = strings.Replace(msg, " (or set "+env+")", "", 1)
			key += " (from " + env + ")"
		}
		*errs = append(*errs, fmt.Errorf("%s: %s", key, msg))
	}
}
