package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBn6ZVt5Ym3B6m0D0Xn3tC1rG1GdX5nYtWZ3l6E4Gq1P\n-----END PRIVATE KEY-----\n"

func TestDKIMKeyFromFileOrEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, []byte(testPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	body := minimal + "[email.dkim]\ndomain = \"example.com\"\nselector = \"s1\"\nkey_file = \"" + path + "\"\n"
	c, err := load(t, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := c.Email.DKIM.PEM(); err != nil || string(key) != testPEM {
		t.Fatalf("key from file: %q, %v", key, err)
	}

	body = minimal + "[email.dkim]\ndomain = \"example.com\"\nselector = \"s1\"\n"
	c, err = load(t, body, map[string]string{"DUEBELL_EMAIL_DKIM_KEY": testPEM})
	if err != nil {
		t.Fatal(err)
	}
	if key, err := c.Email.DKIM.PEM(); err != nil || string(key) != testPEM {
		t.Fatalf("key from environment: %q, %v", key, err)
	}
}

func TestDKIMIncompleteIsRejected(t *testing.T) {
	for name, tc := range map[string]struct{ dkim, want string }{
		"no selector": {"domain = \"example.com\"\nkey_file = \"/nonexistent\"\n", "email.dkim.selector"},
		"no key":      {"domain = \"example.com\"\nselector = \"s1\"\n", "email.dkim.key_file"},
		"missing key": {"domain = \"example.com\"\nselector = \"s1\"\nkey_file = \"/nonexistent/dkim.pem\"\n", "email.dkim.key_file"},
		"no domain":   {"selector = \"s1\"\nkey = \"x\"\n", "email.dkim.domain"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, minimal+"[email.dkim]\n"+tc.dkim, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
