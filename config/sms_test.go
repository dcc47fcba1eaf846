package config

import (
	"strings"
	"testing"
)

// minimalSMS is minimal without its SMS provider.
var minimalSMS = strings.Replace(minimal, "[sms.webhook]\nurl = \"https://sms.example.com/send\"\nsecret = \"s\"\n", "", 1)

const aliyunSMS = `
[sms]
provider = "aliyun"
[sms.aliyun]
access_key_id = "LTAI5tExample"
sign_name = "优品分期"
[[sms.aliyun.templates]]
kind = "due_soon"
locale = "zh-CN"
code = "SMS_100000001"
vars = ["name", "plan", "amount", "due_date", "days", "link_token"]
[[sms.aliyun.templates]]
kind = "verification_changed"
locale = "zh-CN"
code = "SMS_100000002"
sign_name = "优品安全"
vars = ["support_phone"]
`

func TestSMSProviderConfigAndEnvironment(t *testing.T) {
	c, err := load(t, minimalSMS+aliyunSMS, map[string]string{
		"DUEBELL_SMS_ALIYUN_ACCESS_KEY_SECRET": "secret-from-env",
		"DUEBELL_SMS_RECEIPT_TOKEN":            "receipt-token-from-env",
		"DUEBELL_SMS_TWILIO_AUTH_TOKEN":        "twilio-token",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := c.SMS
	if s.Aliyun.AccessKeySecret != "secret-from-env" || s.ReceiptToken != "receipt-token-from-env" ||
		s.Twilio.AuthToken != "twilio-token" || len(s.Aliyun.Templates) != 2 || s.Aliyun.Templates[1].SignName != "优品安全" {
		t.Fatalf("sms config %+v", s)
	}
	if s.LinkMode != "per_user" || s.MaxPerCustomerPerDay != 5 || c.SMSCap() != 5 || s.RatePerSecond != 0 {
		t.Errorf("defaults: link_mode %q cap %d rate %v", s.LinkMode, s.MaxPerCustomerPerDay, s.RatePerSecond)
	}
	if len(c.Fallbacks()) != 0 {
		t.Errorf("fallbacks by default: %v", c.Fallbacks())
	}
}

func TestSMSOptions(t *testing.T) {
	body := minimal + `
[sms]
provider = "webhook"
rate_per_second = 20
max_per_customer_per_day = -1
link_mode = "fixed"
[links]
sms_landing_url = "https://m.example.com/app"
[[policy.stage]]
name = "due_soon"
offset_days = -3
kind = "due_soon"
channels = ["sms"]
fallback = "email"
[[policy.stage]]
name = "overdue_1"
offset_days = 1
kind = "overdue"
channels = ["sms", "email"]
`
	// [links] twice is not TOML: fold the landing URL into the first.
	body = strings.Replace(body, "[links]\nsms_landing_url = \"https://m.example.com/app\"\n", "", 1)
	body = strings.Replace(body, "[links]\n", "[links]\nsms_landing_url = \"https://m.example.com/app\"\n", 1)
	c, err := load(t, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMSCap() != 0 || c.SMS.RatePerSecond != 20 || c.SMS.LinkMode != "fixed" || c.Links.SMSLandingURL != "https://m.example.com/app" {
		t.Errorf("sms options %+v, landing %q", c.SMS, c.Links.SMSLandingURL)
	}
	if fb := c.Fallbacks(); len(fb) != 1 || fb["due_soon"] != "email" {
		t.Errorf("fallbacks %v", fb)
	}
}

func TestInvalidSMSConfigNamesTheKey(t *testing.T) {
	tpl := func(kind, locale, code, vars string) string {
		return "[[sms.aliyun.templates]]\nkind = \"" + kind + "\"\nlocale = \"" + locale + "\"\ncode = \"" + code + "\"\nvars = [" + vars + "]\n"
	}
	aliyun := "[sms]\nprovider = \"aliyun\"\n[sms.aliyun]\naccess_key_id = \"id\"\naccess_key_secret = \"secret\"\nsign_name = \"签名\"\n"
	for _, tc := range []struct{ name, body, key string }{
		{"unknown provider", minimalSMS + "[sms]\nprovider = \"carrier-pigeon\"", "sms.provider"},
		{"aliyun without secret", minimalSMS + strings.Replace(aliyun, "access_key_secret = \"secret\"\n", "", 1) +
			tpl("due_soon", "zh-CN", "SMS_1", ""), "sms.aliyun.access_key_secret"},
		{"aliyun without templates", minimalSMS + aliyun, "sms.aliyun.templates"},
		{"unknown variable", minimalSMS + aliyun + tpl("due_soon", "zh-CN", "SMS_1", `"name", "balance"`), "sms.aliyun.templates[0].vars"},
		{"variable the kind has not", minimalSMS + aliyun + tpl("verification_changed", "zh-CN", "SMS_1", `"link"`), "sms.aliyun.templates[0].vars"},
		// Aliyun (isv.PARAM_NOT_SUPPORT_URL) and Tencent refuse a URL in a variable.
		{"link as a variable", minimalSMS + aliyun + tpl("due_soon", "zh-CN", "SMS_1", `"name", "link"`), `"link" is a URL`},
		{"entry url as a variable", minimalSMS + aliyun + tpl("repayment_entry_moved", "zh-CN", "SMS_1", `"app_name", "entry_url"`),
			`"entry_url" is a URL`},
		{"link token with a fixed link", minimalSMS + strings.Replace(aliyun, "[sms]\n", "[sms]\nlink_mode = \"fixed\"\n", 1) +
			tpl("due_soon", "zh-CN", "SMS_1", `"link_token"`), `"link_token" is empty`},
		{"unknown kind", minimalSMS + aliyun + tpl("due_later", "zh-CN", "SMS_1", ""), "sms.aliyun.templates[0].kind"},
		{"unknown locale", minimalSMS + aliyun + tpl("due_soon", "fr", "SMS_1", ""), "sms.aliyun.templates[0].locale"},
		{"no code", minimalSMS + aliyun + tpl("due_soon", "zh-CN", "", ""), "sms.aliyun.templates[0].code"},
		{"mapped twice", minimalSMS + aliyun + tpl("due_soon", "zh-CN", "SMS_1", "") + tpl("due_soon", "zh-CN", "SMS_2", ""), "sms.aliyun.templates[1]"},
		{"no sign name", minimalSMS + strings.Replace(aliyun, "sign_name = \"签名\"\n", "", 1) + tpl("due_soon", "zh-CN", "SMS_1", ""),
			"sms.aliyun.templates[0].sign_name"},
		{"tencent without app id", minimalSMS + "[sms]\nprovider = \"tencent\"\n[sms.tencent]\nsecret_id = \"a\"\nsecret_key = \"b\"\nsign_name = \"s\"\n" +
			"[[sms.tencent.templates]]\nkind = \"due_soon\"\nlocale = \"zh-CN\"\ncode = \"1\"\n", "sms.tencent.sdk_app_id"},
		{"twilio without from", minimalSMS + "[sms]\nprovider = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\n", "sms.twilio.from"},
		{"twilio callback not a URL", minimalSMS + "[sms]\nprovider = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\n" +
			"from = \"+15005550006\"\nstatus_callback = \"/hooks/sms/twilio\"\n", "sms.twilio.status_callback"},
		{"short receipt token", minimal + "[sms]\nreceipt_token = \"short\"", "sms.receipt_token"},
		{"negative rate", minimal + "[sms]\nrate_per_second = -1", "sms.rate_per_second"},
		{"bad cap", minimal + "[sms]\nmax_per_customer_per_day = -5", "sms.max_per_customer_per_day"},
		{"bad link mode", minimal + "[sms]\nlink_mode = \"shortened\"", "sms.link_mode"},
		{"fixed without landing page", minimal + "[sms]\nlink_mode = \"fixed\"", "links.sms_landing_url"},
		{"landing page elsewhere", strings.Replace(minimal, "[links]\n", "[links]\nsms_landing_url = \"https://evil.example.org/app\"\n", 1),
			"links.sms_landing_url"},
		{"fallback to fax", minimal + "[[policy.stage]]\nname = \"d\"\noffset_days = -3\nkind = \"due_soon\"\nchannels = [\"sms\"]\nfallback = \"fax\"",
			"policy.stage[0].fallback"},
		{"fallback to a channel already sent", minimal + "[[policy.stage]]\nname = \"d\"\noffset_days = -3\nkind = \"due_soon\"\n" +
			"channels = [\"sms\", \"email\"]\nfallback = \"email\"", "policy.stage[0].fallback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.body, nil)
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %v, want one naming %s", err, tc.key)
			}
		})
	}
}

// TestUnsignedReceiptsNeedATokenOrAllowList: Aliyun and Tencent do not sign
// their receipts, so the daemon will not start with their receipt route open
// to anyone; a token or an address allow-list closes it.
func TestUnsignedReceiptsNeedATokenOrAllowList(t *testing.T) {
	env := map[string]string{"DUEBELL_SMS_ALIYUN_ACCESS_KEY_SECRET": "s"}
	_, err := load(t, minimalSMS+aliyunSMS, env)
	if err == nil || !strings.Contains(err.Error(), "sms.receipt_token") || !strings.Contains(err.Error(), "sms.receipt_allow_ips") {
		t.Fatalf("aliyun without a receipt token: %v, want an error naming sms.receipt_token", err)
	}
	allow := strings.Replace(aliyunSMS, "provider = \"aliyun\"\n", "provider = \"aliyun\"\nreceipt_allow_ips = [\"47.96.10.1\", \"106.11.0.0/16\", \"::ffff:10.0.0.1\"]\n", 1)
	c, err := load(t, minimalSMS+allow, env)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.SMS.ReceiptAllowIPs {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "47.96.10.1/32 106.11.0.0/16 10.0.0.1/32" {
		t.Errorf("receipt_allow_ips %v", got)
	}
	bad := strings.Replace(aliyunSMS, "provider = \"aliyun\"\n", "provider = \"aliyun\"\nreceipt_allow_ips = [\"aliyun.com\"]\n", 1)
	if _, err := load(t, minimalSMS+bad, env); err == nil || !strings.Contains(err.Error(), "receipt_allow_ips") {
		t.Errorf("a host name in receipt_allow_ips: %v, want an error naming the key", err)
	}
}

// An Aliyun mapping may name an overdue level; its variables are the kind's.
func TestSMSTemplateMapsALevel(t *testing.T) {
	env := map[string]string{"DUEBELL_SMS_ALIYUN_ACCESS_KEY_SECRET": "s", "DUEBELL_SMS_RECEIPT_TOKEN": "receipt-token-0123456789"}
	level := "[[sms.aliyun.templates]]\nkind = \"overdue_firm\"\nlocale = \"zh-CN\"\ncode = \"SMS_100000007\"\nvars = [\"plan\", \"amount\", \"days\", \"link_token\"]\n"
	if _, err := load(t, minimalSMS+aliyunSMS+level, env); err != nil {
		t.Fatalf("level mapping refused: %v", err)
	}
	bad := strings.Replace(level, `"link_token"]`, `"link_token", "reason"]`, 1)
	if _, err := load(t, minimalSMS+aliyunSMS+bad, env); err == nil ||
		!strings.Contains(err.Error(), "sms.aliyun.templates[2].vars") {
		t.Fatalf("a variable overdue has not: %v", err)
	}
}
