package smtptest

import (
	"net"
	"sync"
)

// tracker counts the connections the server accepts and keeps the open ones,
// so a test can see how many connections a sender used and drop them all as
// a relay that restarts or times out idle clients would.
type tracker struct {
	net.Listener

	mu       sync.Mutex
	accepted int
	peak     int // most connections open at once
	open     map[*trackedConn]struct{}
}

func newTracker(l net.Listener) *tracker {
	return &tracker{Listener: l, open: map[*trackedConn]struct{}{}}
}

func (t *tracker) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	t.accepted++
	t.open[tc] = struct{}{}
	t.peak = max(t.peak, len(t.open))
	t.mu.Unlock()
	return tc, nil
}

func (t *tracker) counts() (accepted, open, peak int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.accepted, len(t.open), t.peak
}

// drop closes every open connection; the listener keeps accepting.
func (t *tracker) drop() {
	t.mu.Lock()
	conns := make([]*trackedConn, 0, len(t.open))
	for c := range t.open {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	t *tracker
}

func (c *trackedConn) Close() error {
	c.t.mu.Lock()
	delete(c.t.open, c)
	c.t.mu.Unlock()
	return c.Conn.Close()
}
