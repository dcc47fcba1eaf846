package smtptest

import (
	"bytes"
	"errors"
	"io"
	"net/mail"
	"slices"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if b.s.cfg.refuse != nil {
		return nil, b.s.cfg.refuse
	}
	sess := &session{s: b.s, helo: c.Hostname()} // go-smtp starts a session at EHLO
	if b.s.cfg.user != "" {
		return &authSession{session: sess}, nil
	}
	return sess, nil
}

// session records one SMTP transaction at a time.
type session struct {
	s        *Server
	helo     string
	authUser string
	from     string
	to       []string
}

func (ss *session) needsAuth() bool { return ss.s.cfg.user != "" && ss.authUser == "" }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.needsAuth() {
		return smtp.ErrAuthRequired
	}
	if e := ss.s.takeMailFailure(); e != nil {
		return e
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.needsAuth() {
		return smtp.ErrAuthRequired
	}
	if ss.s.cfg.rcptReject != nil {
		return ss.s.cfg.rcptReject
	}
	if e := ss.s.recipientRefusal(to); e != nil {
		return e
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if ss.needsAuth() {
		return smtp.ErrAuthRequired
	}
	if ss.s.cfg.discard {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		ss.s.store(Message{})
		return nil
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if h := ss.s.held(); h != nil {
		ss.s.holding.Add(1)
		select {
		case <-h:
		case <-ss.s.closed:
		}
		ss.s.holding.Add(-1)
	}
	if ss.s.cfg.dataReject != nil {
		return ss.s.cfg.dataReject
	}
	m := Message{
		From:     ss.from,
		To:       append([]string(nil), ss.to...),
		Data:     data,
		AuthUser: ss.authUser,
		Helo:     ss.helo,
	}
	if parsed, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		m.Header = parsed.Header
	}
	ss.s.store(m)
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// authSession adds AUTH (PLAIN, or WithAuthMechanisms'); it is used only
// when WithAuth was given, so a server without it advertises no AUTH at all.
type authSession struct{ *session }

func (as *authSession) AuthMechanisms() []string {
	if as.s.cfg.mechs != nil {
		return as.s.cfg.mechs
	}
	return []string{sasl.Plain}
}

func (as *authSession) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(as.AuthMechanisms(), mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, pass string) error {
		if user != as.s.cfg.user || pass != as.s.cfg.pass {
			return smtp.ErrAuthFailed
		}
		as.authUser = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return errors.New("identity mismatch")
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login),
// which go-sasl implements only for clients: the user name and the password,
// each asked for in turn.
type loginServer struct {
	user  string
	step  int
	check func(user, pass string) error
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	l.step++
	switch l.step {
	case 1:
		if response != nil { // an initial response is the user name
			l.user, l.step = string(response), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(response)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.user, string(response))
	}
	return nil, true, errors.New("unexpected response")
}
