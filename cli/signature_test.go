package cli

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duebell/notify"
)

// A dispatcher that sends Chinese SMS through the webhook without
// sms.signature warns at start (unsigned SMS are refused by mainland
// carriers); with it, or through a provider that signs itself, it does not.
func TestUnsetSMSSignatureWarns(t *testing.T) {
	dir := t.TempDir()
	base, err := os.ReadFile(writeDemoConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sms, provider string
		warn                bool
	}{
		{"webhook, unset", "", "webhook", true},
		{"webhook, set", "signature = \"优品分期\"\n", "webhook", false},
		{"aliyun signs itself", "", "aliyun", false},
	} {
		config := filepath.Join(dir, "sig.toml")
		body := strings.Replace(string(base), "[sms]\nprovider = \"outbox\"\n", "[sms]\nprovider = \"outbox\"\n"+tc.sms, 1)
		if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := loadConfig(config)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		a.log = slog.New(slog.NewTextHandler(&logs, nil))
		var cfg notify.Config
		a.smsDispatch(&cfg, tc.provider)
		if warned := strings.Contains(logs.String(), "sms.signature is not set"); warned != tc.warn {
			t.Errorf("%s: warned %t, want %t: %s", tc.name, warned, tc.warn, logs.String())
		}
		if cfg.SMSSignature != strings.TrimSuffix(strings.TrimPrefix(tc.sms, "signature = \""), "\"\n") {
			t.Errorf("%s: SMSSignature %q", tc.name, cfg.SMSSignature)
		}
	}
}
