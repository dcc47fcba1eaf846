package repotest

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"duebell/repo"
)

// NewCuttable is New reached through a TCP relay of its own: cut closes
// every connection through the relay, as when PostgreSQL goes down or the
// network to it is lost. From then on every statement of the returned repo
// fails to connect: the relay refuses new connections or, with
// acceptAfterCut, accepts each and closes it at once, as a load balancer or
// proxy in front of a server that is down does. The schema itself is
// untouched (read it with the second repo returned, which connects
// directly).
func NewCuttable(t testing.TB, acceptAfterCut bool) (r, direct *repo.Repo, cut func()) {
	t.Helper()
	rl, r, direct := newRelayed(t)
	return r, direct, func() { rl.cut(!acceptAfterCut) }
}

// Link is the way from a repo to PostgreSQL through a failover, which a
// test starts and ends (see NewLinked).
type Link struct{ rl *relay }

// Down fails the database over: the server behind every connection is
// gone, and while the link is down each new connection is reset as it
// opens. A connection waiting for an answer is reset at once; an idle one
// (the repo's pool holds them) looks alive until the repo next uses it: the
// statement goes out and is answered with a reset, as the new primary
// behind the same address answers a connection it never had.
func (l *Link) Down() { l.rl.failover() }

// Up lets new connections through again; those open before Down stay dead.
func (l *Link) Up() { l.rl.up() }

// Hang makes every connection open now go silent, open: what either end
// sends is taken and never passed on, as through a proxy whose backend
// went away in a failover. New connections go through.
func (l *Link) Hang() {
	l.rl.mu.Lock()
	defer l.rl.mu.Unlock()
	for _, p := range l.rl.pipes {
		p.hung.Store(true)
	}
}

// Silence is Hang for new connections too: they are accepted and never
// answered, as by a hung server or a proxy with no backend at all.
func (l *Link) Silence() {
	l.Hang()
	l.rl.mu.Lock()
	defer l.rl.mu.Unlock()
	l.rl.silent = true
}

// NewLinked is New reached through a Link that the test takes down and
// brings back; direct connects without it.
func NewLinked(t testing.TB) (r, direct *repo.Repo, link *Link) {
	t.Helper()
	rl, r, direct := newRelayed(t)
	return r, direct, &Link{rl: rl}
}

// relay copies TCP connections between a listener of its own and
// PostgreSQL, and drops them when told to.
type relay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	pipes  []*pipe
	isDown bool // new connections are dropped as they open
	reset  bool // with a reset (a failover), not a close
	silent bool // new connections are taken and never answered (Link.Silence)
	closed bool // the test is over: the relay stops accepting
}

// pipe is one connection through the relay: c from the repo, up to
// PostgreSQL. A dead pipe has lost its server: c stays open until the
// repo writes to it, and is then reset.
type pipe struct {
	c, up net.Conn
	dead  atomic.Bool
	idle  atomic.Bool // the server's last bytes ended with ReadyForQuery, and the repo sent none since
	hung  atomic.Bool // bytes either way are taken and dropped (Link.Hang)
}

// readyForQuery ends every answer of the server: 'Z', length 5, and the
// transaction status.
var readyForQuery = []byte{'Z', 0, 0, 0, 5}

// copy copies src to dst until either ends, keeping p.idle.
func (p *pipe) copy(dst, src net.Conn, toServer bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && p.hung.Load() {
			continue
		}
		if n > 0 {
			if toServer {
				p.idle.Store(false)
			} else {
				p.idle.Store(n >= 6 && bytes.Equal(buf[n-6:n-1], readyForQuery))
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// newRelayed opens a migrated schema, a repo reaching it through a relay,
// and a repo reaching it directly; params are added to the relayed repo's
// database URL.
func newRelayed(t testing.TB, params ...string) (*relay, *repo.Repo, *repo.Repo) {
	t.Helper()
	direct, schema := NewWithURL(t)
	u, err := url.Parse(URL())
	if err != nil || u.Host == "" {
		t.Fatalf("a relayed store needs TEST_DATABASE_URL as a postgres:// URL: %q", URL())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := &relay{ln: ln, target: u.Host}
	rl.wg.Go(rl.accept)
	relayed := *u
	relayed.Host = ln.Addr().String()
	q := relayed.Query()
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	relayed.RawQuery = q.Encode()
	r, err := repo.Open(context.Background(), relayed.String(), schema)
	if err != nil {
		rl.cut(true)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		rl.mu.Lock()
		rl.closed = true
		rl.mu.Unlock()
		rl.cut(true)
		rl.wg.Wait()
	})
	return rl, r, direct
}

func (rl *relay) accept() {
	for {
		c, err := rl.ln.Accept()
		if err != nil {
			return // closed
		}
		rl.mu.Lock()
		isDown, reset, silent := rl.isDown, rl.reset, rl.silent
		rl.mu.Unlock()
		if isDown {
			drop(c, reset)
			continue
		}
		if silent {
			rl.mu.Lock()
			rl.pipes = append(rl.pipes, &pipe{c: c, up: c})
			rl.mu.Unlock()
			rl.wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
			continue
		}
		up, err := net.Dial("tcp", rl.target)
		if err != nil {
			c.Close()
			continue
		}
		p := &pipe{c: c, up: up}
		rl.mu.Lock()
		rl.pipes = append(rl.pipes, p)
		rl.mu.Unlock()
		rl.wg.Go(func() {
			p.copy(p.up, p.c, true) // ends when the repo closes, or writes to a pipe whose server is gone
			if p.dead.Load() {
				drop(p.c, true)
			}
			p.up.Close()
		})
		rl.wg.Go(func() {
			p.copy(p.c, p.up, false)
			if !p.dead.Load() {
				p.c.Close()
			}
		})
	}
}

// cut closes every connection and drops every new one; closeListener
// refuses new connections for good instead.
func (rl *relay) cut(closeListener bool) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.isDown, rl.reset = true, false
	if closeListener || rl.closed {
		rl.ln.Close()
	}
	for _, p := range rl.pipes {
		p.c.Close()
		p.up.Close()
	}
	rl.pipes = nil
}

// failover ends the server side of every connection and resets each new
// one until up.
func (rl *relay) failover() {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.isDown, rl.reset = true, true
	for _, p := range rl.pipes {
		p.dead.Store(true)
		p.up.Close()
		if !p.idle.Load() {
			drop(p.c, true)
		}
	}
}

func (rl *relay) up() {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.isDown = false
}

// drop closes c; with reset, with an RST rather than a FIN.
func drop(c net.Conn, reset bool) {
	if tc, ok := c.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// FillPool leaves n idle connections in r's pool, each used once, as a
// pool that served a burst holds them when an outage comes.
func FillPool(t testing.TB, r *repo.Repo, n int) {
	t.Helper()
	ctx := context.Background()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := r.DB().Conn(ctx)
		if err == nil {
			err = c.PingContext(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		c.Close()
	}
}
