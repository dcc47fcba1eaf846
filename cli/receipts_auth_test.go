package cli

import (
	"os"
	"strings"
	"testing"
)

// TestServeRefusesAnOpenReceiptRoute: with Aliyun, whose receipts are not
// signed, and neither sms.receipt_token nor sms.receipt_allow_ips, serve
// does not start and says which key to set.
func TestServeRefusesAnOpenReceiptRoute(t *testing.T) {
	config := outboxConfig(t, "unused_schema")
	body, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	aliyun := strings.Replace(string(body), "[sms]\nprovider = \"outbox\"\n", `[sms]
provider = "aliyun"
[sms.aliyun]
access_key_id = "LTAI5tExample"
access_key_secret = "secret"
sign_name = "优品分期"
[[sms.aliyun.templates]]
kind = "due_soon"
locale = "zh-CN"
code = "SMS_100000001"
`, 1)
	if err := os.WriteFile(config, []byte(aliyun), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runMain("serve", "--config", config)
	if code == 0 || !strings.Contains(stderr, "sms.receipt_token") {
		t.Fatalf("serve with an open receipt route = %d %q, want a refusal naming sms.receipt_token", code, stderr)
	}
}
