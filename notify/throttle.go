package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"duebell/repo"
)

// capWindow is the rolling period of Config.SMSPerCustomerPerDay.
const capWindow = 24 * time.Hour

// newLimiters builds one token bucket per rate-limited provider; the burst
// is the rate, so a provider's limit-control never sees more than a second's
// worth at once.
func newLimiters(rates map[string]float64) (map[string]*TokenBucket, error) {
	out := map[string]*TokenBucket{}
	for provider, rate := range rates {
		switch {
		case rate < 0:
			return nil, fmt.Errorf("dispatcher: rate limit of %s: %v is negative", provider, rate)
		case rate > 0:
			out[provider] = NewTokenBucket(rate, int(rate))
		}
	}
	return out, nil
}

// hold decides whether a notice that may go out now must wait instead: an
// SMS to a customer who had their fill in the last 24 hours waits for the
// next window opening after the cap frees; a send its provider's rate limit
// cannot take within RateWait is deferred to when it can. Neither counts as
// an attempt. A send the limit can take soon waits here for its token.
func (d *Dispatcher) hold(ctx context.Context, now time.Time, loc *time.Location, c *repo.Claim) (repo.Outcome, bool) {
	postpone := func(next time.Time, reason string) (repo.Outcome, bool) {
		return repo.Outcome{ID: c.ID, Status: repo.StatusPending, NextAttemptAt: next, Deferred: true, Reason: reason}, true
	}
	if limit := d.cfg.SMSPerCustomerPerDay; c.Channel == ChannelSMS && limit > 0 && c.SMSRecent >= limit {
		frees := now
		if c.SMSOldest != nil && c.SMSOldest.After(now.Add(-capWindow)) {
			frees = *c.SMSOldest
		}
		next := d.window(c.Kind).Next(frees.Add(capWindow), loc)
		d.log(c, slog.LevelInfo, "sms cap reached, deferred", slog.Int("sent_24h", c.SMSRecent), slog.Time("next", next))
		return postpone(next, fmt.Sprintf("waiting: per-customer SMS cap (%d in 24h)", limit))
	}
	sender := d.cfg.Senders[c.Channel]
	if sender == nil {
		return repo.Outcome{}, false
	}
	bucket := d.limiters[sender.Provider()]
	if bucket == nil {
		return repo.Outcome{}, false
	}
	clock := d.cfg.Now()
	at, ok := bucket.Reserve(clock, d.cfg.RateWait)
	if !ok {
		return postpone(now.Add(at.Sub(clock)), "waiting: "+sender.Provider()+" rate limit")
	}
	if wait := at.Sub(clock); wait > 0 {
		if err := d.cfg.Sleep(ctx, wait); err != nil {
			return postpone(now, "waiting: dispatcher stopped")
		}
	}
	return repo.Outcome{}, false
}
