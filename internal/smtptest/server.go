// Package smtptest runs an in-process SMTP server for tests. It records every
// message it accepts so a test can read back exactly what a sender delivered.
//
// Delivery is synchronous: once a client's DATA command has been answered
// with 250, the message is already in Messages, so tests never need to wait.
package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	user, pass   string
	mechs        []string
	rcptReject   *smtp.SMTPError
	dataReject   *smtp.SMTPError
	startTLS     bool
	implicitTLS  bool
	discard      bool
	noPipelining bool
	refuse       *smtp.SMTPError
}

// WithDiscard makes the server read each message and keep nothing but the
// count (Accepted): a sink for benchmarks, whose own memory would otherwise
// grow with every message.
func WithDiscard() Option {
	return func(c *config) { c.discard = true }
}

// WithAuth makes the server advertise AUTH PLAIN (without TLS too) and refuse
// MAIL FROM until the client has authenticated as user with pass.
func WithAuth(user, pass string) Option {
	return func(c *config) { c.user, c.pass = user, pass }
}

// WithAuthMechanisms makes a WithAuth server offer these SASL mechanisms
// (sasl.Plain, sasl.Login) instead of PLAIN alone.
func WithAuthMechanisms(mechs ...string) Option {
	return func(c *config) { c.mechs = mechs }
}

// WithReject makes the server answer every RCPT TO with code and msg, for
// example 550 "mailbox unavailable" or 451 "try again later".
func WithReject(code int, msg string) Option {
	return func(c *config) { c.rcptReject = smtpError(code, msg) }
}

// WithRejectData makes the server accept the envelope, read the message and
// then answer the end of DATA with code and msg (content rejected).
func WithRejectData(code int, msg string) Option {
	return func(c *config) { c.dataReject = smtpError(code, msg) }
}

// WithRefuseSession makes the server answer every EHLO or HELO with code
// and msg, before any transaction: 421 "service not available, closing"
// is a relay that will not serve now.
func WithRefuseSession(code int, msg string) Option {
	return func(c *config) { c.refuse = smtpError(code, msg) }
}

// WithoutPipelining makes the server leave PIPELINING (RFC 2920) out of
// its EHLO reply, as a relay that answers one command at a time. Plain
// connections only: under TLS the reply is not rewritten.
func WithoutPipelining() Option {
	return func(c *config) { c.noPipelining = true }
}

// WithStartTLS makes the server offer STARTTLS with a self-signed certificate
// for 127.0.0.1 and localhost; clients trust it through RootCAs.
func WithStartTLS() Option {
	return func(c *config) { c.startTLS = true }
}

// WithImplicitTLS makes the server speak TLS from the first byte (SMTPS, as
// on port 465), with the same certificate as WithStartTLS.
func WithImplicitTLS() Option {
	return func(c *config) { c.implicitTLS = true }
}

func smtpError(code int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

// Server is a running test SMTP server.
type Server struct {
	cfg     config
	srv     *smtp.Server
	ln      net.Listener
	addr    *net.TCPAddr
	roots   *x509.CertPool
	conns   *tracker
	served  chan struct{}
	closed  chan struct{} // closed by Close; ends a HoldData
	closeMu sync.Once

	mu       sync.Mutex
	messages []Message
	accepted int
	hold     chan struct{}              // non-nil while HoldData holds replies to DATA
	holding  atomic.Int32               // messages HoldData is holding now
	failMail *smtp.SMTPError            // the reply to the next MAIL FROM, once
	refused  map[string]*smtp.SMTPError // RCPT TO replies by address (RejectRecipient)
}

// Start starts a server on 127.0.0.1 with a free port. It is closed when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{served: make(chan struct{}), closed: make(chan struct{})}
	for _, o := range opts {
		o(&s.cfg)
	}

	s.srv = smtp.NewServer(&backend{s: s})
	s.srv.Domain = "smtptest.local"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 50
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = l.Addr().(*net.TCPAddr)
	s.conns = newTracker(l)
	s.conns.noPipelining = s.cfg.noPipelining
	l = s.conns

	if s.cfg.startTLS || s.cfg.implicitTLS {
		cert, roots, err := selfSigned()
		if err != nil {
			_ = l.Close()
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.roots = roots
		tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if s.cfg.startTLS {
			s.srv.TLSConfig = tlsCfg
		}
		if s.cfg.implicitTLS {
			l = tls.NewListener(l, tlsCfg)
		}
	}

	s.ln = l
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("smtptest: serve: %v", err)
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Host is the address the server listens on, always "127.0.0.1".
func (s *Server) Host() string { return s.addr.IP.String() }

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.addr.Port }

// Addr is "host:port".
func (s *Server) Addr() string { return s.addr.String() }

// RootCAs holds the server's self-signed certificate when TLS is enabled,
// nil otherwise.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// Messages returns a copy of every message accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	copy(out, s.messages)
	return out
}

// Connections is how many connections the server has accepted so far.
func (s *Server) Connections() int {
	n, _, _ := s.conns.counts()
	return n
}

// OpenConnections is how many connections are open now: accepted and not
// yet closed by either side.
func (s *Server) OpenConnections() int {
	_, n, _ := s.conns.counts()
	return n
}

// PeakConnections is the most connections that were open at once.
func (s *Server) PeakConnections() int {
	_, _, n := s.conns.counts()
	return n
}

// PipelinedEnvelopes is how many envelopes (MAIL FROM to DATA) arrived in
// one read, sent by a client that pipelines them. Plain connections only.
func (s *Server) PipelinedEnvelopes() int { return int(s.conns.pipelined.Load()) }

// DropConnections closes every open connection without a word, as a relay
// that restarted or timed out idle clients would, and keeps listening.
func (s *Server) DropConnections() { s.conns.drop() }

// HoldData makes the server read each message and then wait, before it
// answers the end of DATA, until release is called (or the server closes):
// a relay that hangs at the worst moment. A message held and then released
// is stored, even if its client has given up.
func (s *Server) HoldData() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				s.hold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// HeldData is how many messages HoldData is holding now.
func (s *Server) HeldData() int { return int(s.holding.Load()) }

// FailNextMail makes the server answer the next MAIL FROM, on any
// connection, with code and msg (421 "closing": a relay shutting down
// between two messages; 550: a sender refused).
func (s *Server) FailNextMail(code int, msg string) {
	s.mu.Lock()
	s.failMail = smtpError(code, msg)
	s.mu.Unlock()
}

// RejectRecipient makes the server answer every RCPT TO of addr with code
// and msg, as a relay answers for one mailbox (550 "5.1.1 … does not
// exist") while it takes mail for the others.
func (s *Server) RejectRecipient(addr string, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]*smtp.SMTPError{}
	}
	s.refused[addr] = smtpError(code, msg)
}

// recipientRefusal is RejectRecipient's reply for addr, or nil.
func (s *Server) recipientRefusal(addr string) *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[addr]
}

func (s *Server) takeMailFailure() *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.failMail
	s.failMail = nil
	return e
}

func (s *Server) held() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hold
}

// Close stops the server and drops open connections, for example to test a
// sender against a server that went away. It is safe to call more than once.
func (s *Server) Close() {
	s.closeMu.Do(func() {
		close(s.closed)
		_ = s.srv.Close()
		// Serve registers its listener only once it runs, so a Close that
		// races with it must close the listener itself.
		_ = s.ln.Close()
		<-s.served
	})
}

func (s *Server) store(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted++
	if !s.cfg.discard {
		s.messages = append(s.messages, m)
	}
}

// Accepted is how many messages the server has accepted, kept or not.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}
