package link

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

const (
	macLen      = 16   // bytes of HMAC-SHA256 kept (128 bits)
	maxKeyIDLen = 32   // the id is in every link; keep it short
	maxTokenLen = 1024 // anything longer is not ours
)

var b64 = base64.RawURLEncoding.Strict()

// Signer makes and verifies signed repayment links. It is safe for
// concurrent use.
type Signer struct {
	base    url.URL
	short   string // short link prefix, token appended; "" for base?t=
	current Key
	keys    map[string][]byte
	ttl     time.Duration
}

// NewSigner returns a Signer that builds links on base (links.base_url, an
// absolute http or https URL), signs with current, and still verifies tokens
// signed with any of previous. Secrets must be at least MinSecretLen bytes;
// key ids must be non-empty, at most 32 bytes and unique. ttl must be positive.
func NewSigner(base string, current Key, previous []Key, ttl time.Duration) (*Signer, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("link: base URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("link: base URL %q must be an absolute http(s) URL", base)
	}
	if u.User != nil {
		return nil, errors.New("link: base URL must not carry user info")
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("link: ttl must be positive, got %s", ttl)
	}
	s := &Signer{base: *u, ttl: ttl, keys: make(map[string][]byte, 1+len(previous))}
	for i, k := range append([]Key{current}, previous...) {
		switch {
		case k.ID == "":
			return nil, fmt.Errorf("link: key %d: empty id", i)
		case len(k.ID) > maxKeyIDLen:
			return nil, fmt.Errorf("link: key %q: id longer than %d bytes", k.ID, maxKeyIDLen)
		case len(k.Secret) < MinSecretLen:
			return nil, fmt.Errorf("link: key %q: secret shorter than %d bytes", k.ID, MinSecretLen)
		}
		if _, dup := s.keys[k.ID]; dup {
			return nil, fmt.Errorf("link: key id %q used twice", k.ID)
		}
		s.keys[k.ID] = append([]byte(nil), k.Secret...)
	}
	s.current = Key{ID: current.ID, Secret: s.keys[current.ID]}
	return s, nil
}

// WithShortBase returns a copy of s whose links are short + compact token,
// e.g. "https://pay.example.cn/r/" gives https://pay.example.cn/r/<22 chars>.
// short must be an absolute http(s) URL without query or fragment; a
// missing trailing "/" is added.
func (s *Signer) WithShortBase(short string) (*Signer, error) {
	u, err := url.Parse(short)
	if err != nil {
		return nil, fmt.Errorf("link: short base URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("link: short base URL %q must be an absolute http(s) URL without user info, query or fragment", short)
	}
	c := *s
	c.short = strings.TrimSuffix(u.String(), "/") + "/"
	return &c, nil
}

// URL returns the link for c: the short base with the compact token
// appended when a short base is set, else base with the token in the "t"
// query parameter (any query already on base is kept). The token is the
// compact one (CompactToken) unless the notice id does not fit it.
// c.Expires is ignored and set from now+ttl.
func (s *Signer) URL(c Claims, now time.Time) string {
	u, _ := s.Link(c, now)
	return u
}

// Link is URL together with the token it carries: what an SMS template
// filed with the link's fixed part (the short base, or the landing page
// with "?t=") appends.
func (s *Signer) Link(c Claims, now time.Time) (u, token string) {
	tok, ok := s.CompactToken(c, now)
	if !ok {
		tok = s.Token(c, now)
	}
	if s.short != "" && ok {
		return s.short + tok, tok
	}
	return s.LandingURL(tok), tok
}

// LandingURL is base with token in the "t" query parameter: where a short
// link redirects.
func (s *Signer) LandingURL(token string) string {
	u := s.base
	q := u.Query()
	q.Set(QueryParam, token)
	u.RawQuery = q.Encode()
	return u.String()
}

// Token signs c with the current key. c.Expires is ignored and set to
// now+ttl, truncated to the second.
func (s *Signer) Token(c Claims, now time.Time) string {
	c.Expires = now.Add(s.ttl)
	payload := encodePayload(s.current.ID, c)
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(mac(s.current.Secret, payload))
}

// Verify checks token, compact or long, and returns its claims. The
// signature is checked before the expiry; an expired but authentic token
// returns its claims together with ErrExpired, so a landing page can still
// say which plan it was for. A token is valid while now is before Expires.
// A compact token's claims carry NotificationID and Expires only.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	if IsCompact(token) {
		return s.verifyCompact(token, now)
	}
	if len(token) > maxTokenLen {
		return Claims{}, ErrMalformed
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, ErrMalformed
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	kid, c, err := decodePayload(payload)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	secret, ok := s.keys[kid]
	if !ok {
		return Claims{}, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	if !hmac.Equal(got, mac(secret, payload)) {
		return Claims{}, ErrBadSignature
	}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}

func mac(secret, payload []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(payload)
	return h.Sum(nil)[:macLen]
}
