package config

import (
	"strings"
	"testing"
)

// TestSecretErrorsNameTheirVariable: an operator reading a config error about
// a secret learns which environment variable can supply it instead of the
// file.
func TestSecretErrorsNameTheirVariable(t *testing.T) {
	for _, tc := range []struct {
		name, body, key, env string
	}{
		{"signing key", strings.Replace(minimal, `signing_key = "0123456789abcdef0123456789abcdef"`, "", 1),
			"links.signing_key", "DUEBELL_LINKS_SIGNING_KEY"},
		{"webhook secret", strings.Replace(minimal, `secret = "s"`, "", 1), "sms.webhook.secret", "DUEBELL_SMS_WEBHOOK_SECRET"},
		{"smtp password", strings.Replace(minimal, `host = "smtp.example.com"`, "host = \"smtp.example.com\"\nusername = \"billing\"", 1),
			"email.password", "DUEBELL_EMAIL_PASSWORD"},
		{"receipt token", minimal + "[sms]\nreceipt_token = \"short\"\n", "sms.receipt_token", "DUEBELL_SMS_RECEIPT_TOKEN"},
		{"aliyun key", strings.Replace(minimal, "[sms.webhook]", "[sms]\nprovider = \"aliyun\"\n[sms.webhook]", 1),
			"sms.aliyun.access_key_secret", "DUEBELL_SMS_ALIYUN_ACCESS_KEY_SECRET"},
		{"database url", minimal + "[database]\nurl = \"postgres://%zz\"\n", "database.url", "DUEBELL_DATABASE_URL"},
		{"admin token from token_env", minimal + "[[admin.tokens]]\nname = \"lender\"\ntoken_env = \"DUEBELL_TEST_UNSET_INGEST_TOKEN\"\nrole = \"ingest\"\n",
			"admin.tokens[0].token", "DUEBELL_TEST_UNSET_INGEST_TOKEN"},
	} {
		_, err := load(t, tc.body, nil)
		if err == nil {
			t.Errorf("%s: loaded without error", tc.name)
			continue
		}
		var line string
		for l := range strings.SplitSeq(err.Error(), "\n") {
			if strings.Contains(l, tc.key+":") {
				line = l
			}
		}
		if !strings.Contains(line, tc.env) {
			t.Errorf("%s: error %q; want a line about %s naming %s", tc.name, err, tc.key, tc.env)
		}
	}
}
