package repo

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
)

// A connection whose way to the server goes silent (a failover that moves
// the address without resetting it, a partition that drops packets instead
// of refusing them) fails nothing by itself: a statement waits for its
// answer, and lib/pq's cancel on a context's end goes out on a new
// connection that cannot get through either, so the statement waits until
// the kernel gives up retransmitting, about 15 minutes on Linux. The
// dispatcher's claim, its lease extensions and an API request all wait
// that long. So Open sets TCP_USER_TIMEOUT on its connections: data sent
// and not acknowledged for this long (or keepalive probes unanswered)
// closes the connection, and the statement fails as an outage does (503,
// dispatch paused) and is retried on a new connection.

// tcpUserTimeoutParam is libpq's connection parameter for it, in
// milliseconds: a database.url may set it (0 leaves the kernel's default).
// lib/pq passes it on to the server too, which sets the same timeout on its
// end of the connection.
const tcpUserTimeoutParam = "tcp_user_timeout"

// DefaultTCPUserTimeout is the tcp_user_timeout Open sets, in milliseconds.
const DefaultTCPUserTimeout = "30000"

// userTimeoutKV finds the parameter in a key=value connection string.
var userTimeoutKV = regexp.MustCompile(`(?:^|\s)` + tcpUserTimeoutParam + `\s*=\s*'?([^'\s]*)`)

// parseUserTimeout reads the parameter's value: whole milliseconds.
func parseUserTimeout(v string) (time.Duration, error) {
	ms, err := strconv.ParseUint(v, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("database.url: %s=%q: want whole milliseconds, e.g. %s", tcpUserTimeoutParam, v, DefaultTCPUserTimeout)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// dialer opens lib/pq's connections: TCP ones with TCP_USER_TIMEOUT set
// (where the system has it; see setUserTimeout) and Go's keepalive probes.
type dialer struct{ net.Dialer }

func newDialer(userTimeout time.Duration) *dialer {
	return &dialer{net.Dialer{Control: setUserTimeout(userTimeout)}}
}

// DialTimeout is what lib/pq's Dialer has beside net.Dialer's Dial.
func (d *dialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

// dialedKey carries, in the context lib/pq opens a connection with, where
// to keep the socket it dials (see watchedConn.arm).
type dialedKey struct{}

// DialContext dials, keeps the socket where the context says, and bounds
// its reads by the context's deadline plus cancelGrace until the first call
// on it sets its own bound (watchedConn.arm): the startup of a connection
// to a server that accepts and never answers, and lib/pq's cancel request
// (sent over a connection of its own, with a 10 s context, then read until
// the server closes it), waited for ever, and a statement whose context had
// ended waited for its cancel to return.
func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if at, ok := ctx.Deadline(); ok {
		_ = c.SetReadDeadline(at.Add(cancelGrace))
	}
	if slot, ok := ctx.Value(dialedKey{}).(*net.Conn); ok {
		*slot = c
	}
	return c, nil
}
