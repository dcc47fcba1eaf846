package config

import (
	"encoding/pem"
	"fmt"
	"os"
)

// DKIM is email.dkim: sign every email with the key published at
// <selector>._domainkey.<domain>.
type DKIM struct {
	Domain   string `toml:"domain"`
	Selector string `toml:"selector"`
	// KeyFile is a PEM private key file; Key (env DUEBELL_EMAIL_DKIM_KEY)
	// holds the PEM itself and wins over KeyFile.
	KeyFile string `toml:"key_file"`
	Key     string `toml:"key"`
}

// Enabled reports whether any DKIM setting is given.
func (d DKIM) Enabled() bool {
	return d.Domain != "" || d.Selector != "" || d.KeyFile != "" || d.Key != ""
}

// PEM returns the private key: Key, else the contents of KeyFile.
func (d DKIM) PEM() ([]byte, error) {
	if d.Key != "" {
		return []byte(d.Key), nil
	}
	if d.KeyFile == "" {
		return nil, fmt.Errorf("set email.dkim.key_file or DUEBELL_EMAIL_DKIM_KEY")
	}
	b, err := os.ReadFile(d.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	return b, nil
}

// validate checks what can be checked without the sender: all three
// settings given and a PEM block in the key. The sender checks the key
// type and the alignment with email.from.
func (d DKIM) validate(bad func(key, format string, args ...any)) {
	if !d.Enabled() {
		return
	}
	if d.Domain == "" {
		bad("email.dkim.domain", "required with DKIM signing (the From address's domain)")
	}
	if d.Selector == "" {
		bad("email.dkim.selector", "required with DKIM signing")
	}
	key, err := d.PEM()
	switch {
	case err != nil:
		bad("email.dkim.key_file", "%v", err)
	case func() bool { b, _ := pem.Decode(key); return b == nil }():
		bad("email.dkim.key_file", "holds no PEM private key")
	}
}
