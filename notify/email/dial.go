package email

import (
	"context"
	"crypto/tls"
	"net"
)

type dialKey struct{}

// dialed carries a Send's context into dial and the connection dial opened
// back out, so the Sender can keep the connection with go-mail's client (to
// close it when a Send's context ends) and close it when go-mail gives up on
// it (a failed EHLO, STARTTLS or AUTH leaves it open).
type dialed struct {
	ctx  context.Context // the Send's
	conn net.Conn
	stop func() bool // unwatches conn; see watch
}

// watch closes conn when ctx ends. go-mail only uses a context while dialing
// and then relies on its own deadlines, so every Send watches its connection,
// fresh or pooled: a cancelled or expired Send returns promptly instead of
// after Timeout. stop reports whether it unwatched conn before ctx closed it.
func watch(ctx context.Context, conn net.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = conn.Close() })
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
	if dd, ok := ctx.Value(dialKey{}).(*dialed); ok {
		dd.conn, dd.stop = conn, watch(dd.ctx, conn)
	}
	return conn, nil
}
