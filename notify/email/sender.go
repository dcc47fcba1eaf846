// Package email sends notices over SMTP with github.com/wneessen/go-mail.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"

	"duebell/notify"
)

// Sender delivers email notices through one SMTP relay. It opens up to
// Config.PoolSize sessions at once and keeps them for the next messages;
// each Send uses one session at a time (more Sends wait for one), so a
// Sender is safe for concurrent use. Close QUITs the idle sessions.
type Sender struct {
	cfg       Config
	client    *gomail.Client
	tlsConfig *tls.Config
	dkim      *gomail.DKIMSigner // signs every message; nil: none
	pool      *pool
	slots     chan struct{} // one per session open at once; nil without pooling
	// waiting counts the sends waiting for a slot; held is how long a send
	// holds one, a moving average in nanoseconds (see takeSlot).
	waiting, held atomic.Int64
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
		// No NOOP before each message: a session the relay dropped fails
		// at MAIL FROM without a reply, which unsent treats like a failed
		// NOOP (the message goes again on a new session). It saves one
		// round trip of the six each pooled message took.
		gomail.WithoutNoop(),
		// No RSET after each accepted message: the end of DATA already
		// clears the transaction (RFC 5321 3.3), so the next MAIL FROM may
		// follow at once. A relay that closed the session meanwhile fails
		// that MAIL FROM, which unsent also treats as nothing sent.
		gomail.WithoutRset(),
	}
	switch cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		// "tls" is handled by dial; "none" is plain.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		auth, _ := cfg.authOption() // validated
		opts = append(opts,
			auth,
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
		s.dkim = signer
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: smtp client: %w", err)
	}
	s.client = client
	if cfg.PoolSize > 0 {
		s.slots = make(chan struct{}, cfg.PoolSize)
	}
	s.pool = &pool{size: cfg.PoolSize, maxMessages: cfg.SessionMessages, idleTimeout: cfg.IdleTimeout,
		now: cfg.Now, quit: s.quit}
	return s, nil
}

// Provider names the provider in the delivery log.
func (s *Sender) Provider() string { return "smtp" }

// Send delivers m. Result.ProviderMsgID is the notice's stable Message-ID
// (angle brackets included). Errors are notify.Permanent for a 5xx reply to
// the message and notify.Transient otherwise; they never contain the
// recipient's address.
//
// A pooled session the relay has closed meanwhile fails its NOOP (or the
// MAIL command); the message then goes once over a fresh connection. A
// failure once MAIL was accepted is never retried: from DATA on the relay
// may have taken the message.
func (s *Sender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	msg, err := BuildMessage(s.cfg.From, s.cfg.FromName, m)
	if err != nil {
		return notify.Result{}, notify.Permanent("", err)
	}
	msgID := msg.GetMessageID()

	if s.slots != nil {
		if err := s.takeSlot(ctx); err != nil {
			return notify.Result{}, err
		}
		took := time.Now()
		defer func() {
			s.holdFor(time.Since(took))
			<-s.slots
		}()
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ss, stop := s.pool.get(), func() bool { return true }
	delivered := false
	if ss != nil {
		stop = watch(ctx, ss.conn)
		delivered, err = s.sendOn(ss, msg)
		if err != nil && !delivered && ctx.Err() == nil && unsent(err) {
			stop()
			_ = ss.client.Close() // dead or confused: no QUIT
			ss = nil
		}
	}
	if ss == nil {
		if ss, stop, err = s.open(ctx); err != nil {
			return notify.Result{}, classify(ctx, err)
		}
		delivered, err = s.sendOn(ss, msg)
	}
	if stop() && err == nil && ctx.Err() == nil {
		ss.sent++
		s.pool.put(ss)
	} else {
		s.discard(ss, err)
	}

	if delivered {
		// Accepted by the relay; a failed RSET afterwards is noise.
		return notify.Result{ProviderMsgID: msgID}, nil
	}
	if err == nil {
		return notify.Result{}, notify.Transient("", errors.New("smtp: message not accepted"))
	}
	return notify.Result{}, classify(ctx, fmt.Errorf("send failed: %w", err))
}

// takeSlot waits for one of the PoolSize sessions that may be open at once,
// however many workers send: relays limit a client's concurrent
// connections. The wait ends when the send window closes or the wait the
// dispatcher allows is over (notify.StartBy), or the dispatcher is told to
// stop (notify.StartStop), with notify.ErrNotStarted, or when ctx ends. A
// send that would not get a session by its StartBy, as far as the sends
// ahead of it and how long a session is held tell, gives up at once
// rather than hold its worker until then: behind a relay taking seconds a
// message, a worker waiting out the dispatcher's bound on each email let
// the SMS behind them through at the relay's pace.
func (s *Sender) takeSlot(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	ahead := s.waiting.Add(1)
	defer s.waiting.Add(-1)
	var closes <-chan time.Time
	if t, ok := notify.StartBy(ctx); ok {
		if expect := time.Duration(ahead * s.held.Load() / int64(cap(s.slots))); expect > time.Until(t) {
			return fmt.Errorf("smtp: no session free before %v (about %v of sends ahead): %w", t.Format(time.TimeOnly),
				expect.Round(time.Millisecond), notify.ErrNotStarted)
		}
		timer := time.NewTimer(time.Until(t))
		defer timer.Stop()
		closes = timer.C
	}
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-closes:
		return fmt.Errorf("smtp: no session free: %w", notify.ErrNotStarted)
	case <-notify.StartStop(ctx):
		return fmt.Errorf("smtp: no session free before the dispatcher stopped: %w", notify.ErrNotStarted)
	case <-ctx.Done():
		return notify.Transient("", fmt.Errorf("smtp: waiting for a session: %w", ctx.Err()))
	}
}

// holdFor folds how long a send held its session into the moving average
// takeSlot expects (an eighth of the new one each time).
func (s *Sender) holdFor(d time.Duration) {
	for {
		old := s.held.Load()
		next := old + (int64(d)-old)/8
		if old == 0 {
			next = int64(d)
		}
		if s.held.CompareAndSwap(old, next) {
			return
		}
	}
}

// Close QUITs the idle sessions. Sends may go on; their sessions are QUIT
// after use.
func (s *Sender) Close() error {
	s.pool.close()
	return nil
}

// open dials a session, watched by ctx.
func (s *Sender) open(ctx context.Context) (*session, func() bool, error) {
	d := &dialed{ctx: ctx}
	c, err := s.client.DialToSMTPClientWithContext(context.WithValue(ctx, dialKey{}, d))
	if err != nil {
		if d.conn != nil {
			d.stop()
			_ = d.conn.Close()
		}
		return nil, nil, fmt.Errorf("dial failed: %w", err)
	}
	return &session{client: c, conn: d.conn}, d.stop, nil
}

// errStale: the session's deadline could not be renewed; nothing was sent.
var errStale = errors.New("smtp: session unusable")

// sendOn sends msg over ss, from MAIL FROM to the reply to the message:
// pipelined where the relay offers it, else one command at a time by
// go-mail. It reports whether the relay took the message.
func (s *Sender) sendOn(ss *session, msg *gomail.Msg) (bool, error) {
	// A reused session still has the deadline of its previous Send.
	if err := ss.client.UpdateDeadline(s.cfg.Timeout); err != nil {
		return false, errStale
	}
	if ok, _ := ss.client.Extension("PIPELINING"); ok {
		if s.dkim != nil {
			msg.SetDKIM(s.dkim) // as go-mail's own send does
		}
		return sendPipelined(ss, msg)
	}
	err := s.client.SendWithSMTPClient(ss.client, msg)
	return msg.IsDelivered(), err
}

// unsent reports whether err shows that the relay cannot have taken the
// message: the session was unusable, or the MAIL command failed without
// a reply (the connection broke) or with 421 (the relay is closing it).
func unsent(err error) bool {
	if errors.Is(err, errStale) {
		return true
	}
	cmd, code, _, ok := relayReply(err)
	return ok && (cmd == "NOOP" || cmd == "MAIL" && (code == 0 || code == 421))
}

// discard ends a session that failed: with QUIT when the relay answered
// (a rejected message, a failed RSET), by closing it when the connection
// broke, timed out or was closed for a cancelled Send.
func (s *Sender) discard(ss *session, err error) {
	if _, code, _, _ := relayReply(err); code != 0 {
		s.quit(ss)
		return
	}
	_ = ss.client.Close()
}

// quitTimeout bounds a QUIT: a relay that does not answer it is closed on.
const quitTimeout = 2 * time.Second

// quit says QUIT and closes the connection.
func (s *Sender) quit(ss *session) {
	_ = ss.client.UpdateDeadline(min(quitTimeout, s.cfg.Timeout))
	if err := ss.client.Quit(); err != nil {
		_ = ss.client.Close()
	}
}
