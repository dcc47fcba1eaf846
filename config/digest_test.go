package config

import (
	"strings"
	"testing"
)

// digestChannels lists each stage's digest channels as "stage:ch+ch".
func digestChannels(c *Config) string {
	var out []string
	for _, s := range c.Stages() {
		out = append(out, s.Name+":"+strings.Join(s.DigestChannels, "+"))
	}
	return strings.Join(out, " ")
}

// Digests are on by default on every channel, off with policy.digest =
// false, and never for SMS whose text is a template filed with the provider.
func TestDigestChannels(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		env        map[string]string
		want       string
	}{
		{"default", minimal, nil, "due_soon:sms+email due_today:sms+email overdue_1:sms+email overdue_7:sms+email"},
		{"off", minimal + "[policy]\ndigest = false\n", nil, "due_soon: due_today: overdue_1: overdue_7:"},
		{"aliyun", minimalSMS + aliyunSMS, map[string]string{"DUEBELL_SMS_ALIYUN_ACCESS_KEY_SECRET": "s",
			"DUEBELL_SMS_RECEIPT_TOKEN": "receipt-token-from-env"},
			"due_soon:email due_today:email overdue_1:email overdue_7:email"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.body, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := digestChannels(c); got != tt.want {
				t.Errorf("digest channels %s, want %s", got, tt.want)
			}
		})
	}
}
