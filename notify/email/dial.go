package email

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
)

type sessionKey struct{}

// session ties one Send's connection to the Send's context. go-mail only
// uses the context while dialing and then relies on its own timeout, so dial
// arranges for the connection to be closed when the context ends: a
// cancelled or expired Send returns promptly instead of after Timeout.
type session struct {
	ctx context.Context

	mu    sync.Mutex
	stops []func() bool
}

func (ss *session) watch(conn net.Conn) {
	stop := context.AfterFunc(ss.ctx, func() { _ = conn.Close() })
	ss.mu.Lock()
	ss.stops = append(ss.stops, stop)
	ss.mu.Unlock()
}

func (ss *session) stop() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, stop := range ss.stops {
		stop()
	}
}

// dial is go-mail's DialContextFunc. It dials TLS itself for "tls" mode (a
// custom dial function turns off go-mail's own) and returns the bare
// *tls.Conn or TCP connection, which go-mail inspects to know whether the
// link is encrypted.
func (s *Sender) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: s.cfg.Timeout}
	var (
		conn net.Conn
		err  error
	)
	if s.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig}).DialContext(ctx, network, addr)
	} else {
		conn, err = d.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	if ss, ok := ctx.Value(sessionKey{}).(*session); ok {
		ss.watch(conn)
	}
	return conn, nil
}
