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

	"duebell/internal/outage"
	"duebell/repo"
	"duebell/scheduler"
	"duebell/templates"
)

// Store is what the dispatcher needs from the database.
type Store interface {
	// ClaimNotifications leases up to limit notices due as of now to owner
	// until leaseNow + lease (leaseNow: the lease clock).
	ClaimNotifications(ctx context.Context, owner string, now, leaseNow time.Time, lease time.Duration, limit, smsCap int) ([]repo.Claim, error)
	// FinishNotifications records outcomes and their attempts.
	FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error
	// ExtendLeases moves owner's leases to now + lease and returns the ids
	// of the notices whose leases it extended, in ascending order: a
	// claimed notice missing from them is no longer owner's.
	ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]int64, error)
	// RescueExpired returns expired leases to the queue, logging the lost
	// try, except those of owner keep (this live dispatcher's own); the try
	// names the provider its channel sends through (providers, by channel).
	RescueExpired(ctx context.Context, now time.Time, keep string, providers map[string]string) (int, error)
	// NextDue is when the earliest pending notice falls due.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// CollectionCounts reads the contact-limit counts of the customers of
	// the collection notices owner holds (see repo.CollectionCount); other
	// owners' leases are live as of leaseNow (the lease clock).
	CollectionCounts(ctx context.Context, owner string, leaseNow, since time.Time, kinds []string) (map[int64]repo.CollectionCount, error)
	// DigestItems lists the bills of the digest notice leader leads.
	DigestItems(ctx context.Context, leader int64) ([]repo.DigestItem, error)
	// NextBill is a plan's earliest bill still to pay, zero when none is.
	NextBill(ctx context.Context, planID int64) (repo.Installment, error)
	// ReloadClaim reads a claimed notice with its customer, plan and
	// installment as they are now.
	ReloadClaim(ctx context.Context, id int64) (repo.Claim, error)
}

// Renderer renders a notice's templates.
type Renderer interface {
	Render(d templates.Data) (templates.Rendered, error)
}

// Observer is told about each finished notice (metrics).
type Observer interface {
	Finished(kind, channel, status string, took time.Duration)
}

// Defaults for Config. DefaultWorkers is sends in flight at once: a send is
// mostly waiting for the provider (an SMS API answers in 30–300 ms), so
// with 8 workers a 30 ms provider capped dispatch at ~250 SMS/s; 64 reach
// ~1,300/s. Per-provider rate limits and the SMTP session pool bound what
// each provider sees; a worker is a goroutine.
const (
	DefaultWorkers     = 64
	DefaultBatch       = 300
	DefaultLease       = 2 * time.Minute
	DefaultMaxAttempts = 5
	DefaultBackoffBase = time.Minute
	DefaultBackoffMax  = 2 * time.Hour
	DefaultInterval    = 5 * time.Second
	// DefaultShutdownGrace is how long sends in progress may run on after
	// the dispatcher is told to stop.
	DefaultShutdownGrace = 30 * time.Second
	// DefaultBusyWait and DefaultBusyRetry: a send that found no SMTP
	// session free within 5 s (a healthy relay frees one in milliseconds)
	// comes back 5 minutes later.
	DefaultBusyWait  = 5 * time.Second
	DefaultBusyRetry = 5 * time.Minute
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
	// SMSSignature is the lender's SMS signature (sms.signature), which
	// signs SMS in place of the merchant's name (templates.Data.Signature).
	SMSSignature string
	// Stages is the reminder policy. A reminder whose bill has moved past
	// its stage by the time it would go out is skipped (see staleStage);
	// nil: only the kind's own side of the due date is checked.
	Stages []repo.Stage
	// StageTemplates names, per policy stage, the template its notices
	// render (an escalation level such as overdue_firm); a stage not
	// listed renders its kind's own template.
	StageTemplates map[string]string
	// StageQuiet keeps, per policy stage, notices waiting through holidays
	// and weekends (quiet_on); Calendar says which days are holidays and
	// which weekend days are worked (调休). Nil calendar: no holidays.
	StageQuiet map[string]scheduler.Quiet
	Calendar   *scheduler.Calendar

	Workers     int           // concurrent sends
	Batch       int           // notices claimed at once
	Lease       time.Duration // how long a claim is held before others may rescue it
	MaxAttempts int           // tries before a notice is failed
	BackoffBase time.Duration // first retry delay, doubled per try, with jitter
	BackoffMax  time.Duration
	Interval    time.Duration // longest idle wait between claims in Start
	// ShutdownGrace is how long sends in progress may finish after ctx ends;
	// a send still running then is cut off and logged with an unknown outcome.
	ShutdownGrace time.Duration
	// WriteStall is how long outcomes may wait to be written, none written
	// meanwhile, before sends are held (see writesFlowing); default
	// DefaultWriteStall.
	WriteStall time.Duration
	// BusyWait is how long a send may wait for the provider to have room
	// (a free SMTP session) before its notice is deferred for BusyRetry,
	// untried (see providerBusy); defaults DefaultBusyWait, DefaultBusyRetry.
	BusyWait, BusyRetry time.Duration

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
	// Collection limits how often one customer gets collection notices
	// (overdue; see kinds.Kind.Collection) across plans and channels, and
	// narrows their send window; the excess waits for the first window
	// opening the budget allows, without counting an attempt. A zero
	// Window is scheduler.DefaultCollectionWindow; zero limits are none.
	Collection scheduler.Collection
	// Fallbacks maps a policy stage to the channel ("email") that stands in
	// when its SMS cannot go out: failed, undelivered, opted out, no phone.
	Fallbacks map[string]string
	// SMSLinkMode "fixed" puts SMSLandingURL in SMS instead of the signed
	// per-user link (email keeps it); "per_user" (default) the signed link.
	SMSLinkMode   string
	SMSLandingURL string
	// CircuitProbe is, by channel, how long a provider that refused the
	// account is left alone before a notice probes it again (see
	// circuit.go); default DefaultCircuitProbe.
	CircuitProbe map[string]time.Duration
	// OutageAfter is how many sends in a row through one provider may fail
	// transiently (refused connections, timeouts, 5xx) before its circuit
	// opens as unreachable (default DefaultOutageAfter); OutageProbe how
	// long it then stays open before a notice probes it (default
	// DefaultOutageProbe). See circuit.go.
	OutageAfter int
	OutageProbe time.Duration

	Owner string // lease owner; default host-pid-random
	// Now is the clock, read afresh for every claim and every notice; a
	// fixed clock pins a run to one instant (dispatch --once --at).
	Now func() time.Time
	// LeaseClock is the clock leases run on (their expiry, extension and
	// the rescue of expired ones); default Now. A run pinned by Now to a
	// past instant keeps its leases on the wall clock, or other replicas
	// would rescue what it is still sending.
	LeaseClock func() time.Time
	Jitter     func() float64 // in [0,1); default math/rand
	Logger     *slog.Logger
	Observer   Observer
	// Sleep waits d or until ctx ends (rate limits); default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Dispatcher claims, re-checks, renders, sends and records notices.
type Dispatcher struct {
	cfg      Config
	limiters map[string]*limiter // by provider
	fallback fallbackCursor
	wake     chan struct{}
	zones    sync.Map // time zone name → *time.Location
	breaker  breaker
	// collection is what this dispatcher let through against the
	// collection limits and has not yet seen written back (collection.go).
	collection collectionLedger

	// Failures that repeat through a database outage, each said once:
	// claims, re-checks before sending, outcome writes, sends held for them.
	claimOutage, recheckOutage, writeOutage, sendHold outage.Once
	// writes watches the outcome writes of the run (see writesFlowing).
	writes writeWatch
	// busyLog paces the WARN of sends deferred for a busy provider.
	busyLog *outage.Every

	mu         sync.Mutex
	lastRescue time.Time // lease clock at the last rescue of expired leases
	giveUp     time.Time // when a stopping dispatcher's outcome writes give up (see giveUpAt)
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
	cfg.ShutdownGrace = cmp.Or(cfg.ShutdownGrace, DefaultShutdownGrace)
	cfg.WriteStall = cmp.Or(cfg.WriteStall, DefaultWriteStall)
	cfg.BusyWait = cmp.Or(cfg.BusyWait, DefaultBusyWait)
	cfg.BusyRetry = cmp.Or(cfg.BusyRetry, DefaultBusyRetry)
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
	if cfg.LeaseClock == nil {
		cfg.LeaseClock = cfg.Now
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
	cfg.OutageAfter = cmp.Or(cfg.OutageAfter, DefaultOutageAfter)
	cfg.OutageProbe = cmp.Or(cfg.OutageProbe, DefaultOutageProbe)
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
	if err := checkCollection(&cfg); err != nil {
		return nil, err
	}
	return &Dispatcher{cfg: cfg, limiters: limiters, wake: make(chan struct{}, 1),
		breaker: breaker{open: map[string]*circuit{}, failing: map[string]int{}}, busyLog: outage.NewEvery()}, nil
}

// Counts tallies how a dispatch run left the notices it handled, by status
// (sent, pending for retries and deferrals, suppressed, failed).
type Counts map[string]int

// RunOnce sends everything sendable, claim after claim, each as of a fresh
// reading of the clock, until a claim made after every outcome was written
// comes back empty. Notices deferred or retried move to a later time, so
// with a fixed clock they are not claimed again in the same run. When ctx
// ends it stops claiming and drains (see run).
func (d *Dispatcher) RunOnce(ctx context.Context) (Counts, error) {
	d.loadCircuits()
	return d.run(ctx, true)
}

// Start dispatches until ctx ends, then drains: it returns when every
// notice it claimed has its outcome written, or with an error saying how
// many outcomes it gave up on (the database stayed away for a lease after
// it was told to stop). Idle, it waits until the earliest pending notice
// is due (at most Interval) or Wake is called.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.loadCircuits()
	_, err := d.run(ctx, false)
	return err
}
