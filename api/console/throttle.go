package console

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Sign-in throttling defaults: ten attempts at once per client address,
// then one every six seconds (ten a minute).
const (
	DefaultLoginBurst = 10
	DefaultLoginEvery = 6 * time.Second
	// maxThrottled bounds the addresses remembered; idle ones go first.
	maxThrottled = 10_000
)

// throttle is a token bucket per client address, on the injected clock.
type throttle struct {
	every time.Duration
	burst int
	mu    sync.Mutex
	addrs map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newThrottle(every time.Duration, burst int) *throttle {
	return &throttle{every: every, burst: burst, addrs: map[string]*bucket{}}
}

// allow takes one attempt for addr at now; when none is left it says how
// long until the next one.
func (t *throttle) allow(addr string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.addrs[addr]
	if b == nil {
		if len(t.addrs) >= maxThrottled {
			t.prune(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Every(t.every), t.burst)}
		t.addrs[addr] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// prune forgets addresses whose bucket has refilled (they are as if new),
// then, if an attack from many addresses still fills the map, the idlest.
func (t *throttle) prune(now time.Time) {
	full := t.every * time.Duration(t.burst)
	for a, b := range t.addrs {
		if now.Sub(b.seen) >= full {
			delete(t.addrs, a)
		}
	}
	for a := range t.addrs {
		if len(t.addrs) < maxThrottled {
			break
		}
		delete(t.addrs, a)
	}
}

// clientAddr is the address a sign-in is throttled by: the TCP peer (a
// forwarded-for header is the client's to write), IPv6 by its /64, which
// one subscriber usually holds whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
