package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"duebell/repo"
)

// DefaultCircuitProbe is how long a provider's circuit stays open before a
// notice is sent through it again as a probe.
const DefaultCircuitProbe = 10 * time.Minute

// A provider that cannot be reached (a relay restarting, a gateway down or
// answering 5xx) fails every send too, transiently: DefaultOutageAfter
// such failures in a row, with no send through it succeeding between,
// open its circuit as unreachable, and it is probed every
// DefaultOutageProbe. Before, every notice of the queue was tried against
// it at full speed, each try a WARN and an attempt spent (an audit: 2,157
// in the 2 s a relay took to restart), and an outage of half an hour spent
// every attempt of a channel's backlog, failing it.
const (
	DefaultOutageAfter = 20
	DefaultOutageProbe = 30 * time.Second
)

// A provider that answers with an account-level failure (ClassAccount: no
// balance, arrears, suspended, refused credentials) refuses every message
// alike, so a breaker per provider stops sending through it: notices wait
// (no attempt counted) or, where the stage has a fallback channel, give way
// to it; after the channel's probe interval one notice goes out as a probe,
// and the first success closes the circuit. The state is this process's
// own; each change is also written to the store (provider_circuits) for the
// console, and reported to the Observer (metrics) and the log.

// circuitStore records circuit changes (repo.Repo implements it); a
// dispatcher starts with the circuits it finds open there, so a restart or
// another replica does not send through a provider known to refuse.
type circuitStore interface {
	OpenCircuit(ctx context.Context, c repo.Circuit) error
	CloseCircuit(ctx context.Context, provider string, now time.Time) error
	OpenCircuits(ctx context.Context) ([]repo.Circuit, error)
}

// circuitObserver is told when a provider's circuit opens or closes.
type circuitObserver interface {
	CircuitOpen(provider string, open bool)
}

type circuit struct {
	probeAt time.Time
	probing bool          // a probe is being sent
	code    string        // repo.CircuitUnreachable, or the provider's refusal
	every   time.Duration // between probes (probeFor)
}

// cause is why c is open, as a notice's reason says it.
func (c *circuit) cause() string {
	if c.code == repo.CircuitUnreachable {
		return "provider unreachable"
	}
	return "account refused"
}

// breaker holds the open circuits by provider, and how many sends in a
// row through each have failed transiently.
type breaker struct {
	mu      sync.Mutex
	open    map[string]*circuit
	failing map[string]int
	loaded  sync.Once
}

// loadCircuits reads, once, the circuits the store has open (RunOnce and
// Start call it before their first claim). A circuit of a provider no
// channel sends through any more (the operator switched provider, often
// because the account was refused) is closed: nothing could probe it, and
// it was reported open, an ERROR each start and a critical alert, for good.
func (d *Dispatcher) loadCircuits() {
	d.breaker.loaded.Do(func() {
		s, ok := d.cfg.Store.(circuitStore)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cs, err := s.OpenCircuits(ctx)
		if err != nil {
			d.cfg.Logger.Warn("read open circuits", slog.String("error", err.Error()))
			return
		}
		configured := map[string]bool{}
		for _, p := range d.providers() {
			configured[p] = true
		}
		d.breaker.mu.Lock()
		defer d.breaker.mu.Unlock()
		for _, c := range cs {
			if !configured[c.Provider] {
				if err := s.CloseCircuit(ctx, c.Provider, d.cfg.Now()); err != nil {
					d.cfg.Logger.Warn("record closed circuit", slog.String("provider", c.Provider), slog.String("error", err.Error()))
					continue
				}
				d.cfg.Logger.Info("provider circuit closed: the provider is no longer configured",
					slog.String("provider", c.Provider), slog.String("code", c.Code))
				continue
			}
			if _, ok := d.breaker.open[c.Provider]; !ok {
				d.breaker.open[c.Provider] = &circuit{probeAt: c.ProbeAt, code: c.Code, every: d.probeFor(c.Channel, c.Code)}
				d.circuitChanged(c.Provider, true)
				d.cfg.Logger.Error("provider circuit open (recorded earlier): sends through it wait",
					slog.String("provider", c.Provider), slog.String("code", c.Code), slog.Time("probe_at", c.ProbeAt))
			}
		}
	})
}

// admit says whether a notice may go through provider at now: ok, or
// wait until the returned time. When the probe time has come, the first
// caller becomes the probe (probe true) and the others wait for it.
func (b *breaker) admit(provider string, now time.Time) (until time.Time, open circuit, probe, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.open[provider]
	switch {
	case c == nil:
		return time.Time{}, circuit{}, false, true
	case now.Before(c.probeAt):
		return c.probeAt, *c, false, false
	case c.probing:
		return now.Add(probeRetry(c.every)), *c, false, false
	}
	c.probing = true
	return time.Time{}, circuit{}, true, true
}

// probeFor is how long a circuit with code stays open on channel between
// probes: OutageProbe for an unreachable provider, else the channel's
// CircuitProbe.
func (d *Dispatcher) probeFor(channel, code string) time.Duration {
	if code == repo.CircuitUnreachable {
		return d.cfg.OutageProbe
	}
	if p := d.cfg.CircuitProbe[channel]; p > 0 {
		return p
	}
	return DefaultCircuitProbe
}

// probeRetry is how soon a notice that met a probe in flight looks again: a
// sixth of the probe interval, at most a minute (5 s for an unreachable
// provider, whose held notices waited a minute after it came back).
func probeRetry(probe time.Duration) time.Duration { return min(probe/6, time.Minute) }

// circuitHold defers c, or hands it to its stage's fallback, while its
// provider's circuit is open. It is checked before the send; admitted
// notices are sent (one of them as the probe).
func (d *Dispatcher) circuitHold(now time.Time, c *repo.Claim, provider string) (out repo.Outcome, probe, held bool) {
	until, open, probe, ok := d.breaker.admit(provider, now)
	if ok {
		return repo.Outcome{}, probe, false
	}
	reason := "waiting: " + provider + " circuit open (" + open.cause() + ")"
	// A refused account stays refused until someone pays or fixes it: the
	// fallback goes now. An unreachable provider is mostly back within
	// seconds (a 5 s gateway blip sent 917 of 1,000 SMS by email instead):
	// its notices wait for the probe.
	if fb := d.cfg.Fallbacks[c.Stage]; fb != "" && c.Channel == ChannelSMS && open.code != repo.CircuitUnreachable {
		return repo.Outcome{ID: c.ID, Status: repo.StatusFailed,
			Reason: provider + " circuit open (" + open.cause() + "); " + fb + " fallback"}, false, true
	}
	out, _ = postpone(c, until, reason)
	return out, false, true
}

// openCircuit opens (or keeps open) provider's circuit after an account
// failure (or, with code repo.CircuitUnreachable, an outage) at now and returns
// when it will be probed.
func (d *Dispatcher) openCircuit(now time.Time, channel, provider, code string, err error) time.Time {
	every := d.probeFor(channel, code)
	probeAt := now.Add(every)
	d.breaker.mu.Lock()
	c, was := d.breaker.open[provider]
	if was && !c.probing {
		// A send that was in flight when another's refusal opened the
		// circuit (a burst has dispatch.workers of them): the circuit
		// and its probe time stand; one line for each would be noise.
		probeAt = c.probeAt
		d.breaker.mu.Unlock()
		d.cfg.Logger.LogAttrs(context.Background(), slog.LevelDebug, "provider circuit already open: a send in flight was refused too",
			slog.String("provider", provider), slog.String("code", code))
		return probeAt
	}
	if !was {
		c = &circuit{}
		d.breaker.open[provider] = c
	}
	c.probeAt, c.probing, c.code, c.every = probeAt, false, code, every
	cause := c.cause()
	d.breaker.mu.Unlock()
	if was {
		d.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, "provider circuit stays open: the probe failed",
			slog.String("provider", provider), slog.String("code", code), slog.Time("probe_at", probeAt))
	} else {
		d.cfg.Logger.LogAttrs(context.Background(), slog.LevelError, "provider circuit opened: "+cause+", sends through it stop",
			slog.String("provider", provider), slog.String("channel", channel), slog.String("code", code),
			slog.String("error", err.Error()), slog.Time("probe_at", probeAt))
		d.circuitChanged(provider, true)
	}
	if s, ok := d.cfg.Store.(circuitStore); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.OpenCircuit(ctx, repo.Circuit{Provider: provider, Channel: channel, OpenedAt: now, ProbeAt: probeAt,
			Code: code, Error: err.Error(), UpdatedAt: now}); err != nil {
			d.cfg.Logger.Warn("record open circuit", slog.String("provider", provider), slog.String("error", err.Error()))
		}
	}
	return probeAt
}

// transientFailed counts a send through provider that failed transiently,
// and says whether its circuit is open now: opened by this failure, the
// OutageAfter'th outage failure (IsOutage) in a row, or by this failed
// probe, which it keeps open for another OutageProbe; or open already (a
// send in flight when it opened) and the failure an outage one, when it is
// not worth a WARN of its own: the circuit's ERROR says it. A failure that
// is not an outage is a reply about the message (greylisting, a number's
// flow control, a 429): the provider is at work, its run of outage failures
// ends, as on a permanent error, and it is logged as any such reply (a
// storm of 429s through an open circuit went unlogged).
func (d *Dispatcher) transientFailed(now time.Time, channel, provider string, probe bool, err error) bool {
	outage := IsOutage(err)
	d.breaker.mu.Lock()
	c := d.breaker.open[provider]
	if outage {
		d.breaker.failing[provider]++
	} else {
		delete(d.breaker.failing, provider)
		if c != nil && probe {
			c.probing = false // no verdict: the next notice probes
		}
	}
	opens := outage && (probe || c == nil && d.breaker.failing[provider] >= d.cfg.OutageAfter)
	d.breaker.mu.Unlock()
	if opens {
		d.openCircuit(now, channel, provider, repo.CircuitUnreachable, err)
	}
	return opens || c != nil && outage
}

// providerAnswered ends provider's run of transient failures: it answered
// (a refusal of this message, a permanent error).
func (d *Dispatcher) providerAnswered(provider string) {
	d.breaker.mu.Lock()
	defer d.breaker.mu.Unlock()
	delete(d.breaker.failing, provider)
}

// sendSucceeded closes provider's circuit, if open: the account works.
func (d *Dispatcher) sendSucceeded(now time.Time, provider string) {
	d.breaker.mu.Lock()
	_, was := d.breaker.open[provider]
	delete(d.breaker.open, provider)
	delete(d.breaker.failing, provider)
	d.breaker.mu.Unlock()
	if !was {
		return
	}
	d.cfg.Logger.Info("provider circuit closed: sends resume", slog.String("provider", provider))
	d.circuitChanged(provider, false)
	if s, ok := d.cfg.Store.(circuitStore); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.CloseCircuit(ctx, provider, now); err != nil {
			d.cfg.Logger.Warn("record closed circuit", slog.String("provider", provider), slog.String("error", err.Error()))
		}
	}
}

// probeEnded lets the next notice probe provider again: the probe failed
// for a reason that says nothing about the provider (this number, this
// notice's daily limit).
func (d *Dispatcher) probeEnded(provider string) {
	d.breaker.mu.Lock()
	defer d.breaker.mu.Unlock()
	if c := d.breaker.open[provider]; c != nil {
		c.probing = false
	}
}

func (d *Dispatcher) circuitChanged(provider string, open bool) {
	if o, ok := d.cfg.Observer.(circuitObserver); ok {
		o.CircuitOpen(provider, open)
	}
}

// providers names the provider each channel sends through, by channel.
func (d *Dispatcher) providers() map[string]string {
	out := make(map[string]string, len(d.cfg.Senders))
	for ch, s := range d.cfg.Senders {
		out[ch] = s.Provider()
	}
	return out
}
