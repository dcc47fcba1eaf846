// Package email sends notices over SMTP with github.com/wneessen/go-mail.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	gomail "github.com/wneessen/go-mail"

	"duebell/notify"
)

// Sender delivers email notices through one SMTP relay. Each Send uses its
// own connection, so a Sender is safe for concurrent use.
type Sender struct {
	cfg       Config
	client    *gomail.Client
	tlsConfig *tls.Config
}

var _ notify.Sender = (*Sender)(nil)

// New validates cfg and prepares a sender; it does not connect.
func New(cfg Config) (*Sender, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	s := &Sender{cfg: cfg, tlsConfig: cfg.TLSConfig}
	if s.tlsConfig == nil {
		s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	s.tlsConfig = s.tlsConfig.Clone()
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig.ServerName = cfg.Host
	}

	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		gomail.WithDialContextFunc(s.dial),
		gomail.WithTLSConfig(s.tlsConfig),
	}
	switch cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		// "tls" is handled by dial; "none" is plain.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password),
		)
	}
	if cfg.DKIM != nil {
		signer, err := cfg.DKIM.signer(cfg.From)
		if err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		opts = append(opts, gomail.WithAlwaysDKIMSign(signer))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: smtp client: %w", err)
	}
	s.client = client
	return s, nil
}

// Provider names the provider in the delivery log.
func (s *Sender) Provider() string { return "smtp" }

// Send delivers m. Result.ProviderMsgID is the notice's stable Message-ID
// (angle brackets included). Errors are notify.Permanent for a 5xx reply to
// the message and notify.Transient otherwise; they never contain the
// recipient's address.
func (s *Sender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	msg, err := BuildMessage(s.cfg.From, s.cfg.FromName, m)
	if err != nil {
		return notify.Result{}, notify.Permanent("", err)
	}
	msgID := msg.GetMessageID()

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	sess := &session{ctx: ctx}
	defer sess.stop()
	err = s.client.DialAndSendWithContext(context.WithValue(ctx, sessionKey{}, sess), msg)
	if msg.IsDelivered() {
		// Accepted by the relay; a failed RSET or QUIT afterwards is noise.
		return notify.Result{ProviderMsgID: msgID}, nil
	}
	if err == nil {
		return notify.Result{}, notify.Transient("", errors.New("smtp: message not accepted"))
	}
	return notify.Result{}, classify(ctx, err)
}
