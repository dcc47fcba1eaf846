package email

import (
	"net"
	"slices"
	"sync"
	"time"

	"github.com/wneessen/go-mail/smtp"
)

// session is one SMTP connection, past EHLO, STARTTLS and AUTH, that one
// Send at a time uses.
type session struct {
	client    *smtp.Client
	conn      net.Conn // what dial opened, beneath any STARTTLS
	sent      int      // messages the relay accepted on it
	idleSince time.Time
}

// pool keeps up to size idle sessions, most recently used on top. It never
// dials: a Send that finds none opens its own and offers it back.
type pool struct {
	size        int
	maxMessages int
	idleTimeout time.Duration
	now         func() time.Time
	quit        func(*session)

	mu       sync.Mutex
	idle     []*session // oldest first
	closed   bool
	quitting sync.WaitGroup // QUITs of expired sessions
}

// get takes the most recently used idle session, or nil. Sessions idle for
// idleTimeout or longer are QUIT instead, in the background: the relay has
// likely dropped them, and a firewall that forgot them silently would make
// each QUIT wait its full timeout.
func (p *pool) get() *session {
	p.mu.Lock()
	now := p.now()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleSince) >= p.idleTimeout {
		n++
	}
	if n > 0 {
		// Started under mu, so that close, which waits after taking mu,
		// waits for it too.
		expired := slices.Clone(p.idle[:n])
		p.idle = slices.Delete(p.idle, 0, n)
		p.quitting.Go(func() {
			for _, e := range expired {
				p.quit(e)
			}
		})
	}
	var ss *session
	if k := len(p.idle); k > 0 {
		ss = p.idle[k-1]
		p.idle[k-1] = nil
		p.idle = p.idle[:k-1]
	}
	p.mu.Unlock()
	return ss
}

// put keeps a healthy session for the next Send, or QUITs it when it has
// carried maxMessages, the pool is full or closed.
func (p *pool) put(ss *session) {
	p.mu.Lock()
	keep := !p.closed && len(p.idle) < p.size && ss.sent < p.maxMessages
	if keep {
		ss.idleSince = p.now()
		p.idle = append(p.idle, ss)
	}
	p.mu.Unlock()
	if !keep {
		p.quit(ss)
	}
}

// close QUITs the idle sessions and waits for the expired ones; sessions in
// use are QUIT when their Send offers them back.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, ss := range idle {
		wg.Go(func() { p.quit(ss) })
	}
	wg.Wait()
	p.quitting.Wait()
}
