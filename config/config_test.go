package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const minimal = `
[links]
base_url = "https://pay.example.com/repay"
allowed_domains = ["example.com"]
signing_key = "0123456789abcdef0123456789abcdef"
[email]
host = "smtp.example.com"
from = "billing@example.com"
[sms.webhook]
url = "https://sms.example.com/send"
secret = "s"
`

func load(t *testing.T, body string, env map[string]string) (*Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	path := filepath.Join(t.TempDir(), "duebell.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestDefaults(t *testing.T) {
	c, err := load(t, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.Schema != "duebell" || c.Defaults.Timezone != "Asia/Shanghai" || c.Defaults.Locale != "zh-CN" ||
		c.Window().String() != "09:00-20:00" || c.Links.TTL.Duration != 7*24*time.Hour {
		t.Errorf("defaults: %+v", c.Defaults)
	}
	var stages []string
	for _, s := range c.Stages() {
		stages = append(stages, s.Name+":"+strings.Join(s.Channels, "+"))
	}
	if got := strings.Join(stages, " "); got != "due_soon:sms+email due_today:sms+email overdue_1:sms+email overdue_7:sms+email" {
		t.Errorf("default policy %s", got)
	}
	if strings.Join(c.Policy.PaymentReceived, ",") != "sms" {
		t.Errorf("payment_received default %v", c.Policy.PaymentReceived)
	}
}

func TestEnvironmentSuppliesSecrets(t *testing.T) {
	body := strings.Replace(minimal, `signing_key = "0123456789abcdef0123456789abcdef"`, "", 1) + `
[[admin.tokens]]
name = "lender"
token_env = "LENDER_TOKEN"
role = "ingest"
`
	c, err := load(t, body, map[string]string{
		"DUEBELL_LINKS_SIGNING_KEY": "from-the-environment-0123456789abcdef",
		"DUEBELL_DATABASE_URL":      "postgres://db.internal/duebell",
		"DUEBELL_EMAIL_PASSWORD":    "pw",
		"LENDER_TOKEN":              "lender-token-0123456789",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Links.SigningKey != "from-the-environment-0123456789abcdef" || c.Database.URL != "postgres://db.internal/duebell" ||
		c.Email.Password != "pw" || c.Admin.Tokens[0].Token != "lender-token-0123456789" {
		t.Errorf("env not applied: %+v %+v", c.Links, c.Admin.Tokens)
	}
}

func TestInvalidConfigNamesTheKey(t *testing.T) {
	for _, tc := range []struct{ name, extra, key string }{
		{"bad cron", "[scan]\nschedule = \"every day\"", "scan.schedule"},
		{"window across midnight", "[defaults]\nsend_window = \"25:00-08:00\"", "defaults.send_window"},
		{"unknown kind", "[[policy.stage]]\nname = \"x\"\noffset_days = -2\nkind = \"due_later\"\nchannels = [\"sms\"]", "policy.stage[0].kind"},
		{"template of another kind", "[[policy.stage]]\nname = \"x\"\noffset_days = -2\nkind = \"due_soon\"\ntemplate = \"overdue_firm\"\nchannels = [\"sms\"]", "policy.stage[0].template"},
		{"unknown template", "[[policy.stage]]\nname = \"x\"\noffset_days = 9\nkind = \"overdue\"\ntemplate = \"overdue_grim\"\nchannels = [\"sms\"]", "policy.stage[0].template"},
		{"offset beyond any due date", "[[policy.stage]]\nname = \"x\"\noffset_days = 3000000000\nkind = \"overdue\"\nchannels = [\"sms\"]", "policy.stage[0].offset_days"},
		{"offset before any due date", "[[policy.stage]]\nname = \"x\"\noffset_days = -40000\nkind = \"due_soon\"\nchannels = [\"sms\"]", "policy.stage[0].offset_days"},
		{"quiet on an unknown day", "[[policy.stage]]\nname = \"x\"\noffset_days = 1\nkind = \"overdue\"\nquiet_on = [\"sunday\"]\nchannels = [\"sms\"]", "policy.stage[0].quiet_on"},
		{"quiet on holidays without a calendar", "[[policy.stage]]\nname = \"x\"\noffset_days = 1\nkind = \"overdue\"\nquiet_on = [\"holiday\"]\nchannels = [\"sms\"]", "needs calendar.file"},
		{"missing calendar", "[calendar]\nfile = \"no-such-calendar.toml\"", "calendar.file"},
		{"unknown channel", "[policy]\npayment_received = [\"fax\"]", "policy.payment_received"},
		{"bad timezone", "[defaults]\ntimezone = \"Mars/Base\"", "defaults.timezone"},
		{"bad tls", "", "email.tls"},
		{"port out of range", "", "email.port"},
		{"unknown auth mechanism", "", "email.auth"},
		// Only dispatch and serve refused it, without naming a key.
		{"login without TLS to a remote relay", "", "email.tls"},
		{"short token", "[[admin.tokens]]\nname = \"a\"\ntoken = \"short\"\nrole = \"ingest\"", "admin.tokens[0].token"},
		{"bad role", "[[admin.tokens]]\nname = \"a\"\ntoken = \"long-enough-token-123\"\nrole = \"root\"", "admin.tokens[0].role"},
		{"link host not allowed", "", "links.allowed_domains"},
		// The link package's errors named "key 1", "k1", not the config's keys.
		{"previous key without an id", "[[links.previous_keys]]\nkey = \"old-signing-key-0123456789abcdef\"", "links.previous_keys[0].id: required"},
		{"previous key id twice", "[[links.previous_keys]]\nid = \"k0\"\nkey = \"old-signing-key-0123456789abcdef\"\n" +
			"[[links.previous_keys]]\nid = \"k0\"\nkey = \"old-signing-key-0123456789abcdef\"", `links.previous_keys[1].id: "k0" is used twice`},
		{"blank signing key", "", "links.signing_key: only blanks"},
		{"previous key too short", "[[links.previous_keys]]\nid = \"k0\"\nkey = \"short\"", "links.previous_keys[0].key"},
		{"unknown key", "[dispatch]\nworkerz = 3", "dispatch.workerz"},
		// The decoder took either; with both, which won changed from run to run.
		{"key in another case", "[dispatch]\nworkers = 64\nWorkers = -4", `"dispatch.Workers" (keys are lower case: "dispatch.workers")`},
		{"table in another case", "[Retention]\nkeep = \"90d\"", `unknown key "Retention" (keys are lower case: "retention")`},
		{"negative dispatch interval", "[dispatch]\ninterval = \"-1s\"", "dispatch.interval"},
		{"negative backoff cap", "[dispatch]\nbackoff_max = \"-1m\"", "dispatch.backoff_max"},
		// A typo of workers started 100 million workers and took the host's memory.
		{"workers beyond the maximum", "[dispatch]\nworkers = 100000000", "dispatch.workers: 100000000: want 1 to 4096"},
		{"batch beyond the maximum", "[dispatch]\nbatch = 1000000", "dispatch.batch"},
		{"negative workers", "[dispatch]\nworkers = -1", "dispatch.workers"},
		{"negative max attempts", "[dispatch]\nmax_attempts = -1", "dispatch.max_attempts"},
		// The message used to list workers, batch, max_attempts, lease and backoff, not shutdown_grace.
		{"negative shutdown grace", "[dispatch]\nshutdown_grace = \"-1s\"", "dispatch.shutdown_grace"},
		{"negative lease", "[dispatch]\nlease = \"-1s\"", "dispatch.lease"},
		// A few nanoseconds panicked in the lease keeper; near zero spun an idle dispatcher.
		{"lease of nanoseconds", "[dispatch]\nlease = \"2ns\"", "dispatch.lease: 2ns: want 1s or more"},
		{"interval of a nanosecond", "[dispatch]\ninterval = \"1ns\"", "dispatch.interval: 1ns: want 10ms or more"},
		// Every email's footer gives it: a host in it failed every email.
		{"support phone with a web address", "[support]\nphone = \"400-000-0000 or help.shop.cn/contact\"", "support.phone: holds a web address"},
		{"retention too short", "[retention]\nkeep = \"2d\"", "retention.keep"},
		{"retention in weeks", "[retention]\nkeep = \"4w\"", "retention.keep"},
		{"unknown log level", "[log]\nlevel = \"verbose\"", "log.level"},
		{"unknown log format", "[log]\nformat = \"logfmt\"", "log.format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := minimal
			switch tc.name {
			case "bad tls":
				body = strings.Replace(body, `host = "smtp.example.com"`, "host = \"smtp.example.com\"\ntls = \"ssl3\"", 1)
			case "login without TLS to a remote relay":
				body = strings.Replace(body, `host = "smtp.example.com"`, "host = \"smtp.example.com\"\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"", 1)
			case "unknown auth mechanism":
				body = strings.Replace(body, `host = "smtp.example.com"`, "host = \"smtp.example.com\"\nauth = \"digest-md5\"", 1)
			case "port out of range": // scan and templates check took it; serve said "email: email: smtp port …"
				body = strings.Replace(body, `host = "smtp.example.com"`, "host = \"smtp.example.com\"\nport = 99999", 1)
			case "blank signing key":
				body = strings.Replace(body, `signing_key = "0123456789abcdef0123456789abcdef"`, `signing_key = "`+strings.Repeat(" ", 32)+`"`, 1)
			case "link host not allowed":
				body = strings.Replace(body, `allowed_domains = ["example.com"]`, `allowed_domains = ["example.org"]`, 1)
			}
			_, err := load(t, body+"\n"+tc.extra, nil)
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %v, want one naming %s", err, tc.key)
			}
		})
	}
}

// A secret written without its quotes is not echoed by the parse error
// (stderr goes to the journal): the line and the key say where.
func TestParseErrorKeepsSecretsOut(t *testing.T) {
	for _, line := range []string{"token = SupersecretIngestTokenValue", "token = Hunter2Hunter2Hunter2"} {
		_, err := load(t, minimal+"\n[[admin.tokens]]\nname = \"a\"\n"+line+"\nrole = \"ingest\"\n", nil)
		if err == nil || !strings.Contains(err.Error(), `(last key "admin.tokens.token")`) ||
			strings.Contains(err.Error(), "Supersecret") || strings.Contains(err.Error(), "Hunter") {
			t.Errorf("%s: error %v, want the key without the value", line, err)
		}
	}
}

// A bad duration's error keeps its hint (the parse error's quoted text is
// redacted: an example in quotes went with it).
func TestBadDurationSaysWhatToWrite(t *testing.T) {
	for _, line := range []string{"[retention]\nkeep = \"-1d\"", "[retention]\nkeep = \"abc\"", "[dispatch]\ninterval = \"2\""} {
		_, err := load(t, minimal+"\n"+line+"\n", nil)
		if err == nil || !strings.Contains(err.Error(), "such as") || !strings.Contains(err.Error(), "400d") {
			t.Errorf("%s: error %v, want an example such as 400d", line, err)
		}
	}
}

func TestNegativeBodyLimitsRefused(t *testing.T) {
	for _, key := range []string{"max_body_bytes", "import_max_bytes"} {
		_, err := load(t, minimal+"\n[http]\n"+key+" = -1\n", nil)
		if err == nil || !strings.Contains(err.Error(), "http."+key+": -1: must be positive") {
			t.Errorf("%s = -1: error %v, want it refused", key, err)
		}
	}
}

func TestRetentionKeepsDays(t *testing.T) {
	cfg, err := load(t, minimal+"\n[retention]\nkeep = \"90d\"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention.Keep.Duration != 90*24*time.Hour || cfg.Retention.Batch != 5000 || cfg.Retention.Schedule != "@every 1h" {
		t.Errorf("retention %+v, want 90 days in batches of 5000 every hour", cfg.Retention)
	}
	if cfg, _ := load(t, minimal, nil); cfg.Retention.Keep.Duration != 400*24*time.Hour {
		t.Errorf("default keep %v, want 400 days", cfg.Retention.Keep.Duration)
	}
}

// The default policy sends the firm overdue wording at +7; an operator who
// writes the policy out turns on the serious level at +30 with one stage.
func TestStageTemplates(t *testing.T) {
	cfg, err := load(t, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.StageTemplates(); len(got) != 1 || got["overdue_7"] != "overdue_firm" {
		t.Errorf("default stage templates %v, want overdue_7 → overdue_firm", got)
	}
	cfg, err = load(t, minimal+`
[[policy.stage]]
name = "overdue_1"
offset_days = 1
kind = "overdue"
channels = ["sms"]
[[policy.stage]]
name = "overdue_30"
offset_days = 30
kind = "overdue"
template = "overdue_serious"
channels = ["sms", "email"]
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := cfg.Stages()
	if got := cfg.StageTemplates(); len(got) != 1 || got["overdue_30"] != "overdue_serious" || st[1].Template != "overdue_serious" {
		t.Errorf("stage templates %v, stages %+v", got, st)
	}
}

func TestCalendarAndQuietStages(t *testing.T) {
	cfg, err := load(t, minimal+`
[calendar]
file = "../calendar.example.toml"
[[policy.stage]]
name = "due_today"
offset_days = 0
kind = "due_today"
channels = ["sms"]
[[policy.stage]]
name = "overdue_1"
offset_days = 1
kind = "overdue"
quiet_on = ["holiday", "weekend"]
channels = ["sms"]
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := cfg.StageQuiet()
	if len(q) != 1 || !q["overdue_1"].Holiday || !q["overdue_1"].Weekend {
		t.Errorf("stage quiet %+v", q)
	}
	cal := cfg.HolidayCalendar()
	if !cal.Holiday(time.Date(2026, 2, 17, 12, 0, 0, 0, time.UTC)) || !cal.Workday(time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)) {
		t.Error("calendar not loaded")
	}
}

// email.pool_size defaults to 8 sessions whatever the workers (a relay
// limits a client's connections); an explicit 0 turns pooling off (one
// connection per email, as before).
func TestEmailPool(t *testing.T) {
	withEmail := func(keys string) string {
		return strings.Replace(minimal, `host = "smtp.example.com"`, "host = \"smtp.example.com\"\n"+keys, 1)
	}
	for _, tc := range []struct {
		name, body    string
		pool, perConn int
		idle          time.Duration
	}{
		{"defaults", minimal, 8, 100, 30 * time.Second},
		{"not sized to the workers", minimal + "\n[dispatch]\nworkers = 128", 8, 100, 30 * time.Second},
		{"off", withEmail("pool_size = 0"), 0, 100, 30 * time.Second},
		{"set", withEmail("pool_size = 4\nsession_messages = 20\nidle_timeout = \"10s\""), 4, 20, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.body, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := c.Email
			if *e.PoolSize != tc.pool || e.SessionMessages != tc.perConn || e.IdleTimeout.Duration != tc.idle {
				t.Errorf("pool %d, session_messages %d, idle_timeout %v; want %d, %d, %v",
					*e.PoolSize, e.SessionMessages, e.IdleTimeout.Duration, tc.pool, tc.perConn, tc.idle)
			}
		})
	}
	for key, keys := range map[string]string{
		"email.pool_size":        "pool_size = -1",
		"email.session_messages": "session_messages = -5",
		"email.idle_timeout":     `idle_timeout = "-1s"`,
		"email.timeout":          `timeout = "11m"`,
	} {
		if _, err := load(t, withEmail(keys), nil); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v, want one naming %s", keys, err, key)
		}
	}
}

// A bad value from the environment is reported as the variable's, not with
// advice to set the variable that holds it; a missing one still names it.
func TestBadSecretFromTheEnvironmentNamesTheVariable(t *testing.T) {
	_, err := load(t, minimal, map[string]string{"DUEBELL_LINKS_SIGNING_KEY": "short"})
	if err == nil || !strings.Contains(err.Error(), "links.signing_key (from DUEBELL_LINKS_SIGNING_KEY): missing or shorter than 32") ||
		strings.Contains(err.Error(), "or set") {
		t.Errorf("short key from the environment: %v", err)
	}
	_, err = load(t, strings.Replace(minimal, `signing_key = "0123456789abcdef0123456789abcdef"`, "", 1),
		map[string]string{"DUEBELL_LINKS_SIGNING_KEY": ""})
	if err == nil || !strings.Contains(err.Error(), "links.signing_key: missing or shorter than 32 characters (or set DUEBELL_LINKS_SIGNING_KEY)") {
		t.Errorf("no key at all: %v", err)
	}
	_, err = load(t, minimal+"\n[sms]\nreceipt_token = \"0123456789abcdef0123\"\n", map[string]string{"DUEBELL_SMS_RECEIPT_TOKEN": "short"})
	if err == nil || !strings.Contains(err.Error(), "sms.receipt_token (from DUEBELL_SMS_RECEIPT_TOKEN): shorter than 16") {
		t.Errorf("short receipt token from the environment: %v", err)
	}
}

// sms.signature is the lender's filed SMS signature: a name, which duebell
// puts in 【】 itself.
func TestSMSSignature(t *testing.T) {
	with := func(v string) string { return minimal + "\n[sms]\nsignature = " + strconv.Quote(v) + "\n" }
	if c, err := load(t, with("优品分期"), nil); err != nil || c.SMS.Signature != "优品分期" {
		t.Errorf("signature 优品分期: %+v, %v", c, err)
	}
	for _, v := range []string{"【优品分期】", "优", "一二三四五六七八九十一二三四五六七", "pay.example.com", "a\tb"} {
		if _, err := load(t, with(v), nil); err == nil || !strings.Contains(err.Error(), "sms.signature") {
			t.Errorf("signature %q: %v, want it refused", v, err)
		}
	}
}

// email.timeout bounds a send (a relay that scans content answers the end
// of a message late; a send that runs out is unknown and retried):
// 15s unless set.
func TestEmailTimeout(t *testing.T) {
	if c, err := load(t, minimal, nil); err != nil || c.Email.Timeout.Duration != 15*time.Second {
		t.Errorf("default email.timeout %v (%v), want 15s", c.Email.Timeout, err)
	}
	body := strings.Replace(minimal, `host = "smtp.example.com"`, "host = \"smtp.example.com\"\ntimeout = \"2m\"", 1)
	if c, err := load(t, body, nil); err != nil || c.Email.Timeout.Duration != 2*time.Minute {
		t.Errorf("email.timeout = 2m: %v (%v)", c.Email.Timeout, err)
	}
}

// A database.url duebell cannot open is refused when the config loads,
// naming the key and what it takes, and never echoing the value (it may
// hold a password); the URL forms it opens load.
func TestDatabaseURLForms(t *testing.T) {
	for _, u := range []string{"postgres://u:p@db/x?sslmode=disable", "postgresql://db/x", "host=db dbname=x user=u",
		"sqlite:duebell.db", "sqlite:///var/lib/duebell/x.db"} {
		if _, err := load(t, minimal+"[database]\nurl = \""+u+"\"\n", nil); err != nil {
			t.Errorf("database.url %q: %v", u, err)
		}
	}
	for u, want := range map[string]string{
		"mysql://u:secret@db/x": `scheme "mysql" is not a store duebell opens`,
		"http://db/x":           `scheme "http" is not a store duebell opens`,
		"duebell.db":            "sqlite:duebell.db",
		"/tmp/secret.db":        "neither a URL nor key=value pairs",
		"postgres://%zz":        "not a valid URL",
	} {
		_, err := load(t, minimal+"[database]\nurl = \""+u+"\"\n", nil)
		if err == nil || !strings.Contains(err.Error(), "database.url: ") || !strings.Contains(err.Error(), want) ||
			strings.Contains(err.Error(), "secret") {
			t.Errorf("database.url %q: %v; want it refused saying %q, without the value", u, err, want)
		}
	}
}

// email.helo takes a fully qualified name or an address literal; a bare
// host name, as os.Hostname gives in a container, is refused.
func TestEmailHELO(t *testing.T) {
	for helo, ok := range map[string]bool{"mail1.shop.example": true, "[192.0.2.1]": true, "[IPv6:2001:db8::1]": true,
		"vm": false, "mail1.shop.example.": false, "bad name.example": false, "192.0.2.1": false} {
		_, err := load(t, strings.Replace(minimal, "[email]\n", "[email]\nhelo = \""+helo+"\"\n", 1), nil)
		if got := err == nil; got != ok || (err != nil && !strings.Contains(err.Error(), "email.helo")) {
			t.Errorf("email.helo %q: %v, want accepted %v", helo, err, ok)
		}
	}
}
