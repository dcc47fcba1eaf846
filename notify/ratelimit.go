package notify

import (
	"context"
	"math"
	"sync"
	"time"
)

// TokenBucket limits a rate of sends: rate tokens a second accrue, up to
// burst, and each send takes one. It keeps no timer and reads no clock:
// callers pass the time, so an injected clock drives it. It is safe for
// concurrent use.
type TokenBucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64 // may go negative: tokens promised to waiting senders
	last   time.Time
	// booked is the turn after the last one Book gave out.
	booked time.Time
}

// NewTokenBucket returns a full bucket. rate must be positive; burst is at
// least 1.
func NewTokenBucket(rate float64, burst int) *TokenBucket {
	b := float64(max(burst, 1))
	return &TokenBucket{rate: rate, burst: b, tokens: b}
}

// Reserve asks for one token at now. It returns when the token is (or will
// be) available and whether it was taken: a token is only taken when that
// time is at most maxWait after now, so a caller that would wait longer can
// defer its send without holding up the senders behind it.
func (b *TokenBucket) Reserve(now time.Time, maxWait time.Duration) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.last = now
	}
	if now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	var wait time.Duration
	if short := 1 - b.tokens; short > 0 {
		wait = time.Duration(math.Ceil(short / b.rate * float64(time.Second)))
	}
	at := now.Add(wait)
	if wait > maxWait {
		return at, false
	}
	b.tokens--
	return at, true
}

// Book gives a send that will not wait for its token a later turn: the
// first one at or after from (when Reserve said the next token frees), one
// token's time (1/rate) after the turn Book gave out last, provided it
// comes before until. It takes no token: the send asks Reserve again when
// it comes back. Sends deferred to their turns come back spread at the
// rate, each to a token of its own, rather than all at the first free
// token, where all but one would be deferred again (a backlog of 10,000
// SMS at 50 a second would otherwise be claimed and deferred again every
// time a few tokens freed). ok is false, and nothing is booked, when the
// turn would come at or after until (the customer's send window closes).
func (b *TokenBucket) Book(from, until time.Time) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	turn := from
	if b.booked.After(turn) {
		turn = b.booked
	}
	if !turn.Before(until) {
		return turn, false
	}
	b.booked = turn.Add(time.Duration(math.Ceil(float64(time.Second) / b.rate)))
	return turn, true
}

// Booked is the turn after the last one Book gave out (zero before any).
func (b *TokenBucket) Booked() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.booked
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
