package email

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// minRSABits is the smallest RSA DKIM key accepted.
const minRSABits = 2048

// DKIM configures DKIM signing of every message (RFC 6376), done by
// go-mail's signer: relaxed/relaxed canonicalization, the From, To,
// Subject, Date, Message-ID and MIME headers signed. (go-mail v0.8.1's
// oversigning, which would also guard against a second From or Subject
// added above the signed one, yields signatures that do not verify with
// more than one header oversigned: left off.)
type DKIM struct {
	// Domain is the signing domain (d=); it must be the From address's
	// domain or a parent of it, so the signature aligns for DMARC.
	Domain string
	// Selector names the key in DNS (s=): the public key is published at
	// <Selector>._domainkey.<Domain>.
	Selector string
	// Key is the PEM private key: RSA (PKCS#1 or PKCS#8, 2048 bits or
	// more) or Ed25519 (PKCS#8).
	Key []byte
	// Now is the signature's clock (t=); default time.Now.
	Now func() time.Time
}

// signer validates d against the sender address from and builds go-mail's
// signer.
func (d *DKIM) signer(from string) (*gomail.DKIMSigner, error) {
	switch {
	case d.Domain == "":
		return nil, errors.New("dkim domain is required")
	case d.Selector == "":
		return nil, errors.New("dkim selector is required")
	case len(d.Key) == 0:
		return nil, errors.New("dkim key is required")
	}
	addr, err := parseFrom(from)
	if err != nil {
		return nil, err
	}
	fromDomain := strings.ToLower(addr.Address[strings.LastIndexByte(addr.Address, '@')+1:])
	domain := strings.ToLower(strings.TrimSuffix(d.Domain, "."))
	if fromDomain != domain && !strings.HasSuffix(fromDomain, "."+domain) {
		return nil, fmt.Errorf("dkim domain %q does not align with the from address's domain %q (DMARC would fail)", d.Domain, fromDomain)
	}
	key, err := gomail.PrivKeyFromPEM(d.Key)
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	// A weak key is refused here, not when every email fails to sign
	// (crypto/rsa refuses under 1024 bits) or is not trusted (RFC 8301
	// wants 1024 at least, the big providers 2048).
	if k, ok := key.(*rsa.PrivateKey); ok && k.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("dkim key: RSA of %d bits; use %d bits or more", k.N.BitLen(), minRSABits)
	}
	s := gomail.NewDKIMSigner(domain, d.Selector, key)
	s.NowFunc = d.Now
	if err := s.ValidateConfig(); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	return s, nil
}
