package email_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"duebell/notify/email"
)

// dkimKey returns a PEM private key and the DNS TXT record that publishes
// its public half.
func dkimKey(t *testing.T, algo string) (pemKey []byte, txt string) {
	t.Helper()
	var priv crypto.Signer
	var kt string
	switch algo {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		priv, kt = k, "rsa"
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, kt = k, "ed25519"
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	var pub []byte
	if kt == "rsa" {
		if pub, err = x509.MarshalPKIXPublicKey(priv.Public()); err != nil {
			t.Fatal(err)
		}
	} else {
		pub = priv.Public().(ed25519.PublicKey)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		fmt.Sprintf("v=DKIM1; k=%s; p=%s", kt, base64.StdEncoding.EncodeToString(pub))
}

// The message the relay received verifies against the published key with
// an independent DKIM verifier, and a changed body does not.
func TestSendSignsWithDKIM(t *testing.T) {
	t.Parallel()
	for _, algo := range []string{"rsa", "ed25519"} {
		t.Run(algo, func(t *testing.T) {
			t.Parallel()
			key, txt := dkimKey(t, algo)
			srv, cfg := setup(t)
			cfg.DKIM = &email.DKIM{Domain: "shop.example", Selector: "duebell1", Key: key}
			if _, err := newSender(t, cfg).Send(context.Background(), notice(5)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			data := only(t, srv).Data
			lookups := 0
			opts := &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
				lookups++
				if domain != "duebell1._domainkey.shop.example" {
					return nil, fmt.Errorf("no TXT record at %s", domain)
				}
				return []string{txt}, nil
			}}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), opts)
			if err != nil || len(vs) != 1 {
				t.Fatalf("verify: %v, %d signatures", err, len(vs))
			}
			v := vs[0]
			if v.Err != nil || v.Domain != "shop.example" || lookups != 1 {
				t.Fatalf("signature: domain %q, err %v\n%s", v.Domain, v.Err, data)
			}
			for _, h := range []string{"From", "To", "Subject", "Date", "Message-ID"} {
				if !containsFold(v.HeaderKeys, h) {
					t.Errorf("%s is not signed (h=%v)", h, v.HeaderKeys)
				}
			}

			tampered := bytes.Replace(data, []byte("\r\n\r\n"), []byte("\r\n\r\nX"), 1)
			vs, err = dkim.VerifyWithOptions(bytes.NewReader(tampered), opts)
			if err != nil || len(vs) != 1 || vs[0].Err == nil {
				t.Fatalf("a changed body still verifies: %v %+v", err, vs)
			}
		})
	}
}

func TestDKIMConfigRejected(t *testing.T) {
	t.Parallel()
	key, _ := dkimKey(t, "ed25519")
	for name, d := range map[string]email.DKIM{
		"no domain":   {Selector: "s", Key: key},
		"no selector": {Domain: "shop.example", Key: key},
		"no key":      {Domain: "shop.example", Selector: "s"},
		"bad key":     {Domain: "shop.example", Selector: "s", Key: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
		"unaligned":   {Domain: "other.example", Selector: "s", Key: key},
		"weak rsa":    {Domain: "shop.example", Selector: "s", Key: rsaPEM(t, 1024)},
	} {
		_, cfg := setup(t)
		cfg.DKIM = &d
		if _, err := email.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, d)
		}
	}
	// A parent domain of the sender's aligns (relaxed DMARC alignment).
	_, cfg := setup(t)
	cfg.From = "notice@mail.shop.example"
	cfg.DKIM = &email.DKIM{Domain: "shop.example", Selector: "s", Key: key}
	if _, err := email.New(cfg); err != nil {
		t.Errorf("subdomain sender: %v", err)
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// rsaPEM is a PKCS#8 PEM RSA key of bits.
func rsaPEM(t *testing.T, bits int) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
