package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sync"
	"time"

	"duebell/repo"
	"duebell/scheduler"
	"duebell/templates"
)

// Store is what the dispatcher needs from the database.
type Store interface {
	ClaimNotifications(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]repo.Claim, error)
	FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error
}

// Renderer renders a notice's templates.
type Renderer interface {
	Render(d templates.Data) (templates.Rendered, error)
}

// Observer is told about each finished notice (metrics).
type Observer interface {
	Finished(kind, channel, status string, took time.Duration)
}

// Defaults for Config.
const (
	DefaultWorkers     = 8
	DefaultBatch       = 100
	DefaultLease       = 2 * time.Minute
	DefaultMaxAttempts = 5
	DefaultBackoffBase = time.Minute
	DefaultBackoffMax  = 2 * time.Hour
	DefaultInterval    = 5 * time.Second
)

// Config configures a Dispatcher.
type Config struct {
	Store     Store
	Senders   map[string]Sender // by channel: "sms", "email"
	Templates Renderer
	Links     Linker

	// Window is when notices may go out in the customer's zone;
	// KindWindows overrides it per kind (e.g. security notices).
	Window          scheduler.Window
	KindWindows     map[string]scheduler.Window
	DefaultTimezone string
	SupportPhone    string

	Workers     int           // concurrent sends
	Batch       int           // notices claimed at once
	Lease       time.Duration // how long a claim is held before others may rescue it
	MaxAttempts int           // tries before a notice is failed
	BackoffBase time.Duration // first retry delay, doubled per try, with jitter
	BackoffMax  time.Duration
	Interval    time.Duration // idle wait between claim rounds in Start

	// RateLimits caps sends per second per provider (by Sender.Provider()),
	// as a token bucket whose burst is the rate; absent or 0 is unlimited.
	// A send waits for its token up to RateWait (default Lease/4), else the
	// notice is deferred to when one frees, without counting an attempt.
	RateLimits map[string]float64
	RateWait   time.Duration
	// SMSPerCustomerPerDay caps the SMS one customer gets in any 24 hours
	// (0: no cap); the excess waits for the next window opening after the
	// cap frees, without counting an attempt.
	SMSPerCustomerPerDay int
	// Fallbacks maps a policy stage to the channel ("email") that stands in
	// when its SMS cannot go out: failed, undelivered, opted out, no phone.
	Fallbacks map[string]string
	// SMSLinkMode "fixed" puts SMSLandingURL in SMS instead of the signed
	// per-user link (email keeps it); "per_user" (default) the signed link.
	SMSLinkMode   string
	SMSLandingURL string

	Owner    string // lease owner; default host-pid-random
	Now      func() time.Time
	Jitter   func() float64 // in [0,1); default math/rand
	Logger   *slog.Logger
	Observer Observer
	// Sleep waits d or until ctx ends (rate limits); default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Dispatcher claims, re-checks, renders, sends and records notices.
type Dispatcher struct {
	cfg      Config
	limiters map[string]*TokenBucket // by provider
	fallback fallbackCursor
}

// New fills defaults and checks the config.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil || cfg.Templates == nil || cfg.Links == nil {
		return nil, fmt.Errorf("dispatcher: store, templates and links are required")
	}
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
	cfg.Batch = cmp.Or(cfg.Batch, DefaultBatch)
	cfg.Lease = cmp.Or(cfg.Lease, DefaultLease)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.BackoffBase = cmp.Or(cfg.BackoffBase, DefaultBackoffBase)
	cfg.BackoffMax = cmp.Or(cfg.BackoffMax, DefaultBackoffMax)
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.DefaultTimezone = cmp.Or(cfg.DefaultTimezone, "Asia/Shanghai")
	if cfg.Window == (scheduler.Window{}) {
		cfg.Window = scheduler.DefaultWindow
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = mrand.Float64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	cfg.RateWait = cmp.Or(cfg.RateWait, cfg.Lease/4)
	limiters, err := newLimiters(cfg.RateLimits)
	if err != nil {
		return nil, err
	}
	if err := checkLinkMode(cfg); err != nil {
		return nil, err
	}
	if err := checkFallbacks(cfg); err != nil {
		return nil, err
	}
	return &Dispatcher{cfg: cfg, limiters: limiters}, nil
}

// Counts tallies how a dispatch run left the notices it handled, by status
// (sent, pending for retries and deferrals, suppressed, failed).
type Counts map[string]int

// RunOnce sends everything sendable as of now, batch after batch, until a
// claim comes back empty. Notices deferred or retried move to a later time,
// so they are not claimed again in the same run.
func (d *Dispatcher) RunOnce(ctx context.Context, now time.Time) (Counts, error) {
	counts := Counts{}
	for {
		if err := d.queueFallbacks(ctx, now); err != nil {
			return counts, err
		}
		claims, err := d.cfg.Store.ClaimNotifications(ctx, d.cfg.Owner, now, d.cfg.Lease, d.cfg.Batch)
		if err != nil {
			return counts, err
		}
		if len(claims) == 0 {
			return counts, nil
		}
		outs := d.process(ctx, now, claims)
		if err := d.cfg.Store.FinishNotifications(ctx, d.cfg.Owner, now, outs); err != nil {
			return counts, err
		}
		for _, o := range outs {
			counts[o.Status]++
		}
		if ctx.Err() != nil {
			return counts, ctx.Err()
		}
	}
}

// Start dispatches until ctx ends, pausing Interval whenever the queue is empty.
func (d *Dispatcher) Start(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := d.RunOnce(ctx, d.cfg.Now()); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("dispatch failed", slog.String("error", err.Error()))
		}
		t.Reset(d.cfg.Interval)
	}
}

// process handles a claimed batch with up to Workers sends at once.
func (d *Dispatcher) process(ctx context.Context, now time.Time, claims []repo.Claim) []repo.Outcome {
	outs := make([]repo.Outcome, len(claims))
	sem := make(chan struct{}, d.cfg.Workers)
	var wg sync.WaitGroup
	for i := range claims {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			outs[i] = d.handle(ctx, now, &claims[i])
			if d.cfg.Observer != nil {
				d.cfg.Observer.Finished(claims[i].Kind, claims[i].Channel, outs[i].Status, time.Since(start))
			}
		}()
	}
	wg.Wait()
	return outs
}
