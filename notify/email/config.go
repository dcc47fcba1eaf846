package email

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes for Config.TLS.
const (
	TLSNone     = "none"     // plain SMTP; passwords only to a loopback host
	TLSStartTLS = "starttls" // STARTTLS required (submission, port 587)
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, port 465)
)

// DefaultTimeout bounds one Send, from dialing to the relay's reply to DATA.
const DefaultTimeout = 15 * time.Second

// Session pool defaults.
const (
	// DefaultPoolSize is how many SMTP sessions a sender opens at once
	// (relays commonly allow a client 10–20); Config.PoolSize's zero value
	// turns pooling off.
	DefaultPoolSize = 8
	// DefaultSessionMessages is how many messages one session carries before
	// it is QUIT; many relays cap messages per connection.
	DefaultSessionMessages = 100
	// DefaultIdleTimeout is how long a session may sit idle and still be
	// reused; relays drop idle clients (Postfix after 300 s, many far sooner).
	DefaultIdleTimeout = 30 * time.Second
)

// Config configures the SMTP sender.
type Config struct {
	Host string
	// Port defaults by TLS mode: 25 for none, 587 for starttls, 465 for tls.
	Port int
	// TLS is "none", "starttls" or "tls"; empty means "starttls".
	TLS string
	// Username enables SMTP AUTH. Over TLS "none" it is only allowed
	// with a loopback Host, so a password never crosses a network in clear.
	Username, Password string
	// Auth is the AUTH mechanism: "auto" (or empty) takes the strongest of
	// AuthMechanisms the relay offers (a relay such as Microsoft 365 offers
	// LOGIN only); or one of them, which the relay must offer.
	Auth string
	// From is the sender address (bare, "notice@shop.example"); its domain
	// names the stable Message-IDs. FromName is its display name.
	From, FromName string
	// HELO is the name sent in EHLO: this host's fully qualified domain
	// name, as RFC 5321 asks and receiving servers check. Empty sends the
	// machine's host name (os.Hostname), often a bare name or a container
	// id.
	HELO string
	// Timeout bounds each Send; default DefaultTimeout.
	Timeout time.Duration
	// DKIM, when set, signs every message.
	DKIM *DKIM
	// TLSConfig optionally replaces the default TLS settings (server name
	// Host, TLS 1.2 or later, system roots), for a private CA or tests.
	TLSConfig *tls.Config

	// PoolSize is how many SMTP sessions are open at once and kept for reuse
	// (connected, past EHLO, STARTTLS and AUTH); more concurrent Sends wait
	// for one. 0 opens one connection per message, with no limit.
	PoolSize int
	// SessionMessages is how many messages a session carries before it is
	// QUIT; default DefaultSessionMessages.
	SessionMessages int
	// IdleTimeout: a session idle this long is QUIT rather than reused;
	// default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Now is the pool's clock; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	c.TLS = cmp.Or(c.TLS, TLSStartTLS)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.SessionMessages = cmp.Or(c.SessionMessages, DefaultSessionMessages)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Port == 0 {
		switch c.TLS {
		case TLSNone:
			c.Port = 25
		case TLSImplicit:
			c.Port = 465
		default:
			c.Port = 587
		}
	}
	return c
}

func (c Config) validate() error {
	if c.Host == "" {
		return errors.New("smtp host is required")
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("smtp port %d out of range", c.Port)
	}
	switch c.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("smtp tls %q: want none, starttls or tls", c.TLS)
	}
	if c.Timeout < 0 {
		return errors.New("smtp timeout must not be negative")
	}
	if c.PoolSize < 0 || c.SessionMessages < 0 || c.IdleTimeout < 0 {
		return errors.New("smtp pool size, session messages and idle timeout must not be negative")
	}
	if c.From == "" {
		return errors.New("smtp from address is required")
	}
	if _, err := parseFrom(c.From); err != nil {
		return err
	}
	if c.Username != "" && c.Password == "" {
		return errors.New("smtp password is required with a username")
	}
	if _, err := c.authOption(); err != nil {
		return err
	}
	if c.Username != "" && c.TLS == TLSNone && !IsLoopback(c.Host) {
		return errors.New("smtp auth over tls \"none\" is only allowed to a loopback host; use starttls or tls")
	}
	return nil
}

// parseFrom checks that from is one bare address and returns it.
func parseFrom(from string) (*mail.Address, error) {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("smtp from address: %w", err)
	}
	if a.Name != "" {
		return nil, errors.New("smtp from address must be bare; put the display name in from_name")
	}
	return a, nil
}

// IsLoopback matches the hosts go-mail's PLAIN auth accepts without TLS.
func IsLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// AuthMechanisms are the Config.Auth values besides "auto", strongest
// first: the order "auto" prefers them in.
var AuthMechanisms = []string{"scram-sha-256", "scram-sha-1", "cram-md5", "plain", "login"}

// authOption is go-mail's AUTH option for c.Auth: one mechanism, or for
// "auto" the strongest of AuthMechanisms the relay offers (go-mail's own
// discovery would also take NTLM, which needs a Windows domain, and
// refuses PLAIN and LOGIN to a loopback relay without TLS). go-mail sends
// a password in clear only to a loopback relay.
func (c Config) authOption() (gomail.Option, error) {
	if c.Auth == "" || c.Auth == "auto" {
		prefer := make([]gomail.SMTPAuthType, len(AuthMechanisms))
		for i, m := range AuthMechanisms {
			if err := prefer[i].UnmarshalString(m); err != nil {
				return nil, err
			}
		}
		return gomail.WithOpportunisticSMTPAuth(prefer...), nil
	}
	var t gomail.SMTPAuthType
	if !slices.Contains(AuthMechanisms, c.Auth) || t.UnmarshalString(c.Auth) != nil {
		return nil, fmt.Errorf("smtp auth %q: want auto, %s", c.Auth, strings.Join(AuthMechanisms, ", "))
	}
	return gomail.WithSMTPAuth(t), nil
}
