// Package config reads duebell's TOML configuration, applies defaults that
// work on a laptop and environment overrides for secrets, and validates it,
// naming the key at fault.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"duebell/scheduler"
)

// Config is the whole configuration file.
type Config struct {
	Database  Database  `toml:"database"`
	HTTP      HTTP      `toml:"http"`
	Admin     Admin     `toml:"admin"`
	Defaults  Defaults  `toml:"defaults"`
	Links     Links     `toml:"links"`
	Policy    Policy    `toml:"policy"`
	Calendar  Calendar  `toml:"calendar"`
	Scan      Scan      `toml:"scan"`
	Dispatch  Dispatch  `toml:"dispatch"`
	Email     Email     `toml:"email"`
	SMS       SMS       `toml:"sms"`
	Outbox    Outbox    `toml:"outbox"`
	Templates Templates `toml:"templates"`
	Support   Support   `toml:"support"`
	Log       Log       `toml:"log"`
	Retention Retention `toml:"retention"`

	calendar *scheduler.Calendar // parsed Calendar.File, set by Load
	fromEnv  map[string]string   // key → the variable that set it (applyEnv)
}

// Calendar names the holiday calendar (public holidays and make-up
// workdays) that stages with quiet_on read; see scheduler.ParseCalendar.
type Calendar struct {
	File string `toml:"file"`
}

// Retention is how long the delivery log keeps finished notices.
type Retention struct {
	Keep     Duration `toml:"keep"`     // e.g. "400d"
	Batch    int      `toml:"batch"`    // rows per delete transaction
	Schedule string   `toml:"schedule"` // cron spec of the cleaner
}

type Database struct {
	URL    string `toml:"url"` // env DUEBELL_DATABASE_URL
	Schema string `toml:"schema"`
}

type HTTP struct {
	Listen       string `toml:"listen"`
	MaxBodyBytes int64  `toml:"max_body_bytes"`
	// ConsolePlainHTTP lets the console's session cookie go without Secure,
	// for a local trial over http:// (the demo); keep it off in production.
	ConsolePlainHTTP bool `toml:"console_plain_http"`
	// ImportMaxBytes caps a POST /api/v1/import body (NDJSON bulk import).
	ImportMaxBytes int64 `toml:"import_max_bytes"`
}

type Admin struct {
	Tokens []Token `toml:"tokens"`
}

// Token is a bearer token with a role: ingest, viewer or operator.
type Token struct {
	Name     string `toml:"name"`
	Token    string `toml:"token"`
	TokenEnv string `toml:"token_env"`
	Role     string `toml:"role"`
}

type Defaults struct {
	Timezone   string `toml:"timezone"`
	Locale     string `toml:"locale"`
	SendWindow string `toml:"send_window"`
	// SecuritySendWindow is the wider window for security notices
	// (verification_changed, autodebit_failed).
	SecuritySendWindow string `toml:"security_send_window"`
}

type Links struct {
	BaseURL string `toml:"base_url"`
	// ShortBaseURL, when set, makes links ShortBaseURL + a 22-character
	// token (e.g. https://pay.example.cn/r/), served by GET /r/{token},
	// which redirects to BaseURL?t=token.
	ShortBaseURL   string        `toml:"short_base_url"`
	AllowedDomains []string      `toml:"allowed_domains"`
	SigningKey     string        `toml:"signing_key"` // env DUEBELL_LINKS_SIGNING_KEY
	KeyID          string        `toml:"key_id"`
	PreviousKeys   []PreviousKey `toml:"previous_keys"`
	TTL            Duration      `toml:"ttl"`
	// SMSLandingURL is the filed page SMS link to when sms.link_mode = "fixed".
	SMSLandingURL string `toml:"sms_landing_url"`
}

// PreviousKey still verifies links signed before a key rotation.
type PreviousKey struct {
	ID  string `toml:"id"`
	Key string `toml:"key"`
}

type Policy struct {
	Stage           []Stage  `toml:"stage"`
	PaymentReceived []string `toml:"payment_received"`
	// Collection limits contact about overdue bills (collection.go).
	Collection Collection `toml:"collection"`
	// Digest makes the notices one stage sends a customer on one channel on
	// one day one notice listing every bill (default true; see DigestChannels).
	Digest *bool `toml:"digest"`
}

type Stage struct {
	Name       string   `toml:"name"`
	OffsetDays int      `toml:"offset_days"`
	Kind       string   `toml:"kind"`
	Channels   []string `toml:"channels"`
	Fallback   string   `toml:"fallback"` // "email": sent instead when the SMS cannot go out
	// Template is the template its notices render: the kind's own when
	// empty, or one of its escalation levels ("overdue_firm").
	Template string `toml:"template"`
	// QuietOn lists the days its notices wait through: "holiday" (the
	// calendar's), "weekend" (Saturday and Sunday not marked workday).
	QuietOn []string `toml:"quiet_on"`
}

type Scan struct {
	Schedule              string `toml:"schedule"`
	ChannelEventsSchedule string `toml:"channel_events_schedule"`
}

// The most dispatch.workers and dispatch.batch may be: 4,096 sends in
// flight keep a provider that answers in half a second at 8,000 a second,
// and a claim of 10,000 notices is far past where larger claims stop paying
// (README, Performance).
const (
	MaxWorkers = 4096
	MaxBatch   = 10000
)

type Dispatch struct {
	Workers     int      `toml:"workers"`
	Batch       int      `toml:"batch"`
	Lease       Duration `toml:"lease"`
	MaxAttempts int      `toml:"max_attempts"`
	BackoffBase Duration `toml:"backoff_base"`
	BackoffMax  Duration `toml:"backoff_max"`
	Interval    Duration `toml:"interval"`
	// ShutdownGrace is how long sends in progress may finish after SIGTERM.
	ShutdownGrace Duration `toml:"shutdown_grace"`
}

type Email struct {
	Provider string `toml:"provider"` // smtp or outbox
	Host     string `toml:"host"`
	Port     int    `toml:"port"`
	TLS      string `toml:"tls"` // none, starttls, tls
	Username string `toml:"username"`
	Password string `toml:"password"` // env DUEBELL_EMAIL_PASSWORD
	// Auth is the SMTP AUTH mechanism: auto (default; the strongest the
	// relay offers over TLS, PLAIN over none) or email.AuthMechanisms.
	Auth     string `toml:"auth"`
	From     string `toml:"from"`
	FromName string `toml:"from_name"`
	// HELO is the name this host gives in EHLO: its fully qualified domain
	// name (RFC 5321); default the machine's host name.
	HELO string `toml:"helo"`
	DKIM DKIM   `toml:"dkim"`
	// CircuitProbe is how long the relay is left alone after it refused
	// our account (SMTP 535) before one email probes it; default 10m.
	CircuitProbe Duration `toml:"circuit_probe"`
	// PoolSize is how many SMTP sessions are open at once and kept for
	// reuse (more concurrent emails wait for one); default 8, 0 for one
	// connection per email. A pointer so that an explicit 0 differs from unset.
	PoolSize *int `toml:"pool_size"`
	// SessionMessages is how many emails one session carries before it is
	// closed with QUIT; default 100.
	SessionMessages int `toml:"session_messages"`
	// IdleTimeout: a session idle this long is closed rather than reused;
	// default 30s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// Timeout bounds one email's send, from dialing (or taking a pooled
	// session) to the relay's reply to the end of the message; default
	// email.DefaultTimeout (15s), at most 10m (RFC 5321's limit for that
	// reply).
	Timeout Duration `toml:"timeout"`
}

type SMS struct {
	Provider string     `toml:"provider"` // webhook, aliyun, tencent, twilio or outbox
	Webhook  SMSWebhook `toml:"webhook"`
	Aliyun   SMSAliyun  `toml:"aliyun"`
	Tencent  SMSTencent `toml:"tencent"`
	Twilio   SMSTwilio  `toml:"twilio"`
	// Delivery, rate and link options: see sms.go.
	ReceiptToken string `toml:"receipt_token"` // env DUEBELL_SMS_RECEIPT_TOKEN
	// ReceiptAllowIPs admit receipts from providers that do not sign them
	// (aliyun, tencent) by client address instead of by ReceiptToken.
	ReceiptAllowIPs      []IPPrefix `toml:"receipt_allow_ips"`
	RatePerSecond        float64    `toml:"rate_per_second"`
	MaxPerCustomerPerDay int        `toml:"max_per_customer_per_day"`
	LinkMode             string     `toml:"link_mode"` // per_user or fixed
	// Signature is the lender's SMS signature (签名) as filed with the
	// carriers; SMS duebell renders are signed with it (zh-CN: 【it】), in
	// place of the merchant's name. Empty: the merchant's name.
	Signature string `toml:"signature"`
	// CircuitProbe is how long the provider is left alone after it refused
	// our account (balance, arrears, credentials) before one SMS probes it;
	// default 10m.
	CircuitProbe Duration `toml:"circuit_probe"`
}

type SMSWebhook struct {
	URL    string `toml:"url"`
	Secret string `toml:"secret"` // env DUEBELL_SMS_WEBHOOK_SECRET
}

type Outbox struct {
	Dir string `toml:"dir"`
}

type Templates struct {
	Dir string `toml:"dir"`
}

type Support struct {
	Phone string `toml:"phone"`
}

type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}

// Duration is a time.Duration written as "30s", "2m", "72h" in TOML, or
// as a whole number of days, "400d".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string or "<n>d".
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*366 {
			// The example is not quoted: a parse error's quoted text is
			// redacted (read), and the hint would go with it.
			return fmt.Errorf("duration %q: want a whole number of days such as 400d", b)
		}
		d.Duration = time.Duration(n) * 24 * time.Hour
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit such as 30s, 2m, 72h or 400d", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Load reads path (may be "" for defaults only), applies defaults and the
// environment, and validates.
func Load(path string) (*Config, error) {
	cfg, err := read(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cfg.Calendar.File != "" {
		cal, err := scheduler.LoadCalendar(cfg.Calendar.File)
		if err != nil {
			return nil, fmt.Errorf("config: calendar.file: %w", err)
		}
		cfg.calendar = cal
	}
	return cfg, nil
}

// LoadDatabase is Load for a command that works on the database alone
// (migrate, move's target): it reads path and the environment as Load does,
// unknown keys refused, and checks only database.url and log. A migration
// job needed every provider secret and the link signing key.
func LoadDatabase(path string) (*Config, error) {
	cfg, err := read(path)
	if err != nil {
		return nil, err
	}
	var errs []error
	cfg.validateDatabase(cfg.reporter(&errs))
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// otherCase reports a key the decoder matched to a field of t only by
// ignoring case ([Dispatch], Key_ID), with the key as it should be: the
// decoder takes either, and with both in one file which one won changed
// from run to run (map order), so a config passed on one start and failed
// on the next. Keys below a map or a value are data, not checked.
func otherCase(t reflect.Type, key toml.Key) (string, bool) {
	want := make([]string, 0, len(key))
	mismatch := false
	for _, part := range key {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			break
		}
		var exact, folded *reflect.StructField
		for i := range t.NumField() {
			f := t.Field(i)
			switch name, _, _ := strings.Cut(f.Tag.Get("toml"), ","); {
			case name == part:
				exact = &f
			case folded == nil && strings.EqualFold(name, part):
				folded = &f
			}
		}
		f := exact
		if f == nil {
			if f = folded; f == nil {
				break
			}
			mismatch = true
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		want = append(want, name)
		t = f.Type
	}
	return strings.Join(want, "."), mismatch
}

// quotedInput is the text a TOML parse error quotes from the file.
var quotedInput = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// read decodes path (may be "" for defaults only), refusing unknown keys,
// and applies the environment and defaults.
func read(path string) (*Config, error) {
	cfg := &Config{}
	if path != "" {
		md, err := toml.DecodeFile(path, cfg)
		if perr, ok := errors.AsType[toml.ParseError](err); ok {
			// The parser quotes the text it could not read, which for a
			// secret written without its quotes is the secret: the line
			// and the key say where, the journal keeps no token.
			return nil, fmt.Errorf("config %s: toml: line %d (last key %q): %s", path, perr.Position.Line, perr.LastKey,
				quotedInput.ReplaceAllString(perr.Message, `"…"`))
		}
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if undec := md.Undecoded(); len(undec) > 0 {
			return nil, fmt.Errorf("config %s: unknown key %q", path, undec[0].String())
		}
		for _, k := range md.Keys() {
			if want, ok := otherCase(reflect.TypeFor[Config](), k); ok {
				return nil, fmt.Errorf("config %s: unknown key %q (keys are lower case: %q)", path, k.String(), want)
			}
		}
	}
	cfg.applyEnv(os.Getenv)
	cfg.applyDefaults()
	return cfg, nil
}
