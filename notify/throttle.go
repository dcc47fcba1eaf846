package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"duebell/repo"
)

// capWindow is the rolling period of Config.SMSPerCustomerPerDay.
const capWindow = 24 * time.Hour

// limiter is a rate-limited provider's token bucket, and how many workers
// are in hold for its tokens right now.
type limiter struct {
	*TokenBucket
	holding atomic.Int32
}

// newLimiters builds one token bucket per rate-limited provider. Its burst
// is one: sends are paced 1/rate apart, so no second (fixed or sliding, as a
// provider's limit control may count) sees more than rate + 1 of them. A
// burst of the rate let twice the rate through in the first second after
// an idle spell or a restart (an audit: 98 SMS in the first second at 50/s).
func newLimiters(rates map[string]float64) (map[string]*limiter, error) {
	out := map[string]*limiter{}
	for provider, rate := range rates {
		switch {
		case rate < 0:
			return nil, fmt.Errorf("dispatcher: rate limit of %s: %v is negative", provider, rate)
		case rate > 0:
			out[provider] = &limiter{TokenBucket: NewTokenBucket(rate, 1)}
		}
	}
	return out, nil
}

// hold decides whether a notice that may go out now must wait for its
// provider's rate limit: a send the limit cannot take within RateWait is
// deferred, without counting an attempt, to its turn (TokenBucket.Book); a
// send it can take soon waits here for its token. At most half the workers
// wait for one provider's tokens: the next send that would wait is deferred
// the same way, so the other workers go on to the notices of other
// providers (before, every worker ended up waiting for a rate-limited SMS
// gateway, and emails went out at the SMS rate). A wait never carries a
// send past the close of the customer's send window (now is inside it): a
// token that frees only then defers the notice to the next opening
// instead, as does a turn that would come only then.
func (d *Dispatcher) hold(ctx context.Context, now time.Time, loc *time.Location, c *repo.Claim) (repo.Outcome, bool) {
	sender := d.cfg.Senders[c.Channel]
	if sender == nil {
		return repo.Outcome{}, false
	}
	lim := d.limiters[sender.Provider()]
	if lim == nil {
		return repo.Outcome{}, false
	}
	maxWait := d.cfg.RateWait
	if lim.holding.Add(1) > int32(max(d.cfg.Workers/2, 1)) {
		maxWait = 0 // a token free now, or a turn
	}
	defer lim.holding.Add(-1)
	closes := d.window(c.Kind).Closes(now, loc)
	if open := closes.Sub(now) - time.Nanosecond; open < maxWait {
		maxWait = max(open, 0) // the token must free before the window closes
	}
	at, ok := lim.Reserve(now, maxWait)
	if !ok {
		turn, booked := lim.Book(at, closes)
		if !booked {
			turn = closes
		}
		if next, why := d.opening(c, turn, loc); !next.Equal(turn) {
			return postpone(c, next, windowReason(why))
		}
		return postpone(c, turn, "waiting: "+sender.Provider()+" rate limit")
	}
	if wait := at.Sub(now); wait > 0 {
		if err := d.cfg.Sleep(ctx, wait); err != nil {
			return release(c), true
		}
	}
	return repo.Outcome{}, false
}

// turnsAhead is how long after now the rate-limit turns (TokenBucket.Book)
// given out by a run that began at start on the dispatch clock run on:
// dispatch --once waits for them, as it used to wait for its tokens, so
// that a run from cron still sends a rate-limited backlog whole. A run
// pinned to one instant (--at: its clock does not move) does not wait: it
// sends what can go at that instant. 0: none ahead.
func (d *Dispatcher) turnsAhead(start, now time.Time) time.Duration {
	var ahead time.Duration
	if now.After(start) {
		for _, lim := range d.limiters {
			ahead = max(ahead, lim.Booked().Sub(now))
		}
	}
	return ahead
}

// postpone defers a notice to next without counting an attempt.
func postpone(c *repo.Claim, next time.Time, reason string) (repo.Outcome, bool) {
	return repo.Outcome{ID: c.ID, Status: repo.StatusPending, NextAttemptAt: next, Deferred: true, Reason: reason}, true
}

// capGate counts, per customer, the SMS of one claim that went to a provider.
type capGate struct {
	mu   sync.Mutex
	sent map[int64]int
	// collection is the claim's collection-limit counts, read at its first
	// collection notice (collection.go).
	collection collectionSnapshot
}

func newCapGate() *capGate { return &capGate{sent: map[int64]int{}} }

// capHold applies the per-customer SMS cap just before a send, counting
// only SMS that reached a provider in the last 24 hours, those of this claim
// that are being sent, and those other workers hold right now. Over the cap
// by sends, the SMS waits for the next window opening after the oldest of
// them is 24 hours old; over it only because of notices other workers hold
// (which may yet be suppressed), it looks again in capRecheck. When it lets
// the SMS go, it counts it in the claim.
func (d *Dispatcher) capHold(now time.Time, loc *time.Location, c *repo.Claim, gate *capGate) (repo.Outcome, bool) {
	limit := d.cfg.SMSPerCustomerPerDay
	if c.Channel != ChannelSMS || limit <= 0 {
		return repo.Outcome{}, false
	}
	gate.mu.Lock()
	defer gate.mu.Unlock()
	sent := c.SMSSent + gate.sent[c.Customer.ID]
	switch {
	case sent >= limit:
		frees := now
		if c.SMSOldest != nil && c.SMSOldest.After(now.Add(-capWindow)) {
			frees = *c.SMSOldest
		}
		next := d.window(c.Kind).Next(frees.Add(capWindow), loc)
		d.log(c, slog.LevelInfo, "sms cap reached, deferred", slog.Int("sent_24h", sent), slog.Time("next", next))
		return postpone(c, next, fmt.Sprintf("waiting: per-customer SMS cap (%d in 24h)", limit))
	case sent+c.SMSInFlight >= limit:
		return postpone(c, now.Add(capRecheck), "waiting: per-customer SMS cap, other SMS to this customer in flight")
	}
	gate.sent[c.Customer.ID]++
	return repo.Outcome{}, false
}

// providerBusy defers c, untried, when its send waited BusyWait for the
// provider to have room (every SMTP session busy with a slow relay) and
// could not start: the worker goes on to other notices (an SMS behind it
// in the queue), rather than every worker ending up waiting for the relay
// and the SMS going out at the relay's pace (an audit: 3 SMS a second
// behind a relay taking 3 s an email). It comes back after BusyRetry,
// jittered, by which time the relay has worked through what was waiting.
func (d *Dispatcher) providerBusy(c *repo.Claim, provider string) repo.Outcome {
	next := d.cfg.Now().Add(time.Duration(float64(d.cfg.BusyRetry) * (0.8 + 0.4*d.cfg.Jitter())))
	d.cfg.Logger.Log(context.Background(), d.busyLog.Level(), "provider busy: no session free in time, deferred untried",
		slog.String("provider", provider), slog.Duration("waited", d.cfg.BusyWait), slog.Time("next", next))
	out, _ := postpone(c, next, "waiting: every "+provider+" session busy")
	return out
}
