package smtptest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
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

	noPipelining bool         // EHLO replies leave PIPELINING out
	pipelined    atomic.Int64 // reads that held a whole envelope, MAIL to DATA
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

var (
	mailCmd  = []byte("MAIL FROM:")
	dataCmd  = []byte("\r\nDATA\r\n")
	pipeLine = []byte("250-PIPELINING\r\n")
)

// Read counts the envelopes that came in one piece (a pipelining client's).
func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if bytes.Contains(p[:n], mailCmd) && bytes.Contains(p[:n], dataCmd) {
		c.t.pipelined.Add(1)
	}
	return n, err
}

// Write leaves PIPELINING out of the EHLO reply when the server is not to
// offer it (go-smtp always does).
func (c *trackedConn) Write(p []byte) (int, error) {
	if i := bytes.Index(p, pipeLine); c.t.noPipelining && i >= 0 {
		if _, err := c.Conn.Write(append(p[:i:i], p[i+len(pipeLine):]...)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error {
	c.t.mu.Lock()
	delete(c.t.open, c)
	c.t.mu.Unlock()
	return c.Conn.Close()
}
