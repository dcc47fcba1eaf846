package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"duebell/api"
	"duebell/config"
	"duebell/link"
	"duebell/notify"
	"duebell/notify/email"
	"duebell/notify/outbox"
	"duebell/repo"
	"duebell/repo/sqlite"
	"duebell/scheduler"
	"duebell/templates"
)

// app is the configured daemon: everything the commands share.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	repo  store
	tpl   *templates.Set
	links *link.Signer
	// now is the daemon's clock: time.Now, or a fake one in tests.
	now func() time.Time
	// leaseClock, when set, is the clock the dispatcher's leases run on
	// instead of now: the wall clock while --at pins now to an instant.
	leaseClock func() time.Time
	// quietRequests keeps API requests from waking serve's dispatcher (see
	// wakingStore): set by end-to-end tests in which only their own
	// dispatch --once moves notices.
	quietRequests bool
	// closers end what senders keeps open (idle SMTP sessions); close
	// runs them once the dispatcher has drained.
	closers []func() error
}

// loadConfig reads the configuration and builds the pieces that need no
// database: logger, templates, link signer.
func loadConfig(path string) (*app, error) {
	a, err := loadWith(config.Load, path)
	if err != nil {
		return nil, err
	}
	cfg := a.cfg
	a.tpl, err = templates.Load(templates.Options{Dir: cfg.Templates.Dir, AllowedDomains: cfg.Links.AllowedDomains})
	if err != nil {
		return nil, fmt.Errorf("templates.dir: %w", err)
	}
	prev := make([]link.Key, len(cfg.Links.PreviousKeys))
	for i, k := range cfg.Links.PreviousKeys {
		prev[i] = link.Key{ID: k.ID, Secret: []byte(k.Key)}
	}
	a.links, err = link.NewSigner(cfg.Links.BaseURL, link.Key{ID: cfg.Links.KeyID, Secret: []byte(cfg.Links.SigningKey)},
		prev, cfg.Links.TTL.Duration)
	if err == nil && cfg.Links.ShortBaseURL != "" {
		a.links, err = a.links.WithShortBase(cfg.Links.ShortBaseURL)
	}
	if err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	return a, nil
}

// loadWith reads the configuration at path with load (config.Load, or
// config.LoadDatabase) into an app with its logger.
func loadWith(load func(string) (*config.Config, error), path string) (*app, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no config file given (use --config or DUEBELL_CONFIG)", errUsage)
	}
	cfg, err := load(path)
	if err != nil {
		return nil, err
	}
	return &app{cfg: cfg, log: newLogger(cfg.Log), now: time.Now}, nil
}

// openApp is loadConfig plus a database connection; create lets it create
// a missing SQLite file (see openStore).
func openApp(ctx context.Context, path string, create bool) (*app, error) {
	a, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	return a, a.open(ctx, create)
}

// openDatabase is openApp for a command that works on the database alone
// (migrate): its config is checked for database.url and log only, so a
// migration job needs no provider secret or signing key.
func openDatabase(ctx context.Context, path string) (*app, error) {
	a, err := loadWith(config.LoadDatabase, path)
	if err != nil {
		return nil, err
	}
	return a, a.open(ctx, true)
}

// open connects a to its store.
func (a *app) open(ctx context.Context, create bool) (err error) {
	a.repo, err = openStore(ctx, a.cfg.Database, create)
	return err
}

// store is everything the commands read and write; both stores implement
// it: PostgreSQL (repo) and the embedded SQLite file (repo/sqlite).
type store interface {
	api.Store
	notify.Store
	scheduler.DueStore
	scheduler.EventStore
	scheduler.PurgeStore
	Close() error
	Migrate(ctx context.Context) ([]string, error)
	PendingMigrations(ctx context.Context) ([]repo.Migration, error)
	NewerMigrations(ctx context.Context) ([]int, error)
	// Schema names where the tables are: a PostgreSQL schema, or the file.
	Schema() string
	PreviewDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error)
	PreviewChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (repo.EventScanResult, error)
	QueueDepth(ctx context.Context) ([]repo.StatusCount, error)
	OldestDue(ctx context.Context, now time.Time, channels []string) ([]repo.ChannelAge, error)
	DeleteCustomers(ctx context.Context, refs []string) (int, error)
}

// openStore opens the store database.url names: sqlite:PATH is the
// embedded file, anything else PostgreSQL. A missing SQLite file is created
// only when create is set (migrate, serve --migrate, demo): every other
// command created an empty file where database.url had a typo and advised
// migrating it, and a book pushed again into that new store would have
// repeated every stage the real file had sent.
func openStore(ctx context.Context, db config.Database, create bool) (store, error) {
	if sqlite.IsURL(db.URL) {
		if !create {
			if err := sqlite.MustExist(db.URL); err != nil {
				return nil, err
			}
		}
		s, err := sqlite.Open(ctx, db.URL)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	r, err := repo.Open(ctx, db.URL, db.Schema)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (a *app) close() {
	for _, c := range a.closers {
		_ = c()
	}
	a.closers = nil
	if a.repo != nil {
		a.repo.Close()
	}
}

// openMigrated is openApp for commands that need the schema current.
func openMigrated(ctx context.Context, path string) (*app, error) {
	a, err := openApp(ctx, path, false)
	if err != nil {
		return nil, err
	}
	if err := a.requireMigrated(ctx); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// ready is /readyz: the store answers and can be written (an SQLite file's
// disk has room), and no migration is pending.
func (a *app) ready(ctx context.Context) error {
	if err := a.repo.Ping(ctx); err != nil {
		return err
	}
	return a.requireMigrated(ctx)
}

// requireMigrated refuses to work on a schema with pending migrations.
func (a *app) requireMigrated(ctx context.Context) error {
	pending, err := a.repo.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("%d migration(s) pending in %s (first: %s): run `duebell migrate` or `duebell serve --migrate`",
			len(pending), a.where(), pending[0].Name)
	}
	return nil
}

// senders builds the configured provider for each channel.
func (a *app) senders() (map[string]notify.Sender, error) {
	c := a.cfg
	var box *outbox.Outbox
	if c.Email.Provider == "outbox" || c.SMS.Provider == "outbox" {
		var err error
		if box, err = outbox.New(c.Outbox.Dir); err != nil {
			return nil, fmt.Errorf("outbox.dir: %w", err)
		}
	}
	out := map[string]notify.Sender{}
	switch c.Email.Provider {
	case "outbox":
		out[notify.ChannelEmail] = box.Email(c.Email.From, c.Email.FromName)
	default:
		ec := email.Config{Host: c.Email.Host, Port: c.Email.Port, TLS: c.Email.TLS,
			Username: c.Email.Username, Password: c.Email.Password, Auth: c.Email.Auth, From: c.Email.From, FromName: c.Email.FromName, HELO: c.Email.HELO,
			SessionMessages: c.Email.SessionMessages, IdleTimeout: c.Email.IdleTimeout.Duration, Timeout: c.Email.Timeout.Duration}
		if c.Email.PoolSize != nil {
			ec.PoolSize = *c.Email.PoolSize
		}
		if c.Email.DKIM.Enabled() {
			key, err := c.Email.DKIM.PEM()
			if err != nil {
				return nil, fmt.Errorf("email.dkim: %w", err)
			}
			ec.DKIM = &email.DKIM{Domain: c.Email.DKIM.Domain, Selector: c.Email.DKIM.Selector, Key: key}
		}
		s, err := email.New(ec)
		if err != nil {
			return nil, err // "email: …" already
		}
		a.closers = append(a.closers, s.Close)
		out[notify.ChannelEmail] = s
	}
	switch c.SMS.Provider {
	case "outbox":
		out[notify.ChannelSMS] = box.SMS()
	default:
		s, err := a.smsProvider()
		if err != nil {
			return nil, err
		}
		out[notify.ChannelSMS] = s
	}
	return out, nil
}

// dispatcher builds the dispatcher; obs may be nil.
func (a *app) dispatcher(obs notify.Observer) (*notify.Dispatcher, error) {
	senders, err := a.senders()
	if err != nil {
		return nil, err
	}
	if w, ok := obs.(senderWrapper); ok {
		for ch, s := range senders {
			senders[ch] = w.Sender(ch, s)
		}
	}
	d := a.cfg.Dispatch
	cfg := notify.Config{
		Store: a.repo, Senders: senders, Templates: a.tpl, Links: a.links,
		Window: a.cfg.Window(), KindWindows: a.cfg.KindWindows(),
		DefaultTimezone: a.cfg.Defaults.Timezone, SupportPhone: a.cfg.Support.Phone,
		Stages: a.cfg.Stages(), StageTemplates: a.cfg.StageTemplates(), StageQuiet: a.cfg.StageQuiet(), Calendar: a.cfg.HolidayCalendar(),
		Collection: a.cfg.CollectionLimits(),
		Workers:    d.Workers, Batch: d.Batch, Lease: d.Lease.Duration, MaxAttempts: d.MaxAttempts,
		BackoffBase: d.BackoffBase.Duration, BackoffMax: d.BackoffMax.Duration, Interval: d.Interval.Duration,
		ShutdownGrace: d.ShutdownGrace.Duration,
		Logger:        a.log, Observer: obs, Now: a.now, LeaseClock: a.leaseClock,
		CircuitProbe: map[string]time.Duration{notify.ChannelSMS: a.cfg.SMS.CircuitProbe.Duration,
			notify.ChannelEmail: a.cfg.Email.CircuitProbe.Duration},
	}
	a.smsDispatch(&cfg, senders[notify.ChannelSMS].Provider())
	return notify.New(cfg)
}

// senderWrapper wraps each sender (metrics counting every provider call).
type senderWrapper interface {
	Sender(channel string, s notify.Sender) notify.Sender
}

// dueScan builds the due-date scan; onQueued may be nil.
func (a *app) dueScan(onQueued func(repo.ScanResult)) *scheduler.DueScan {
	return &scheduler.DueScan{Store: a.repo, Stages: a.cfg.Stages(), Logger: a.log, OnQueued: onQueued}
}

func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// where names the database for messages: the PostgreSQL schema, or the
// SQLite file.
func (a *app) where() string {
	if sqlite.IsURL(a.cfg.Database.URL) {
		return fmt.Sprintf("file %q", a.repo.Schema())
	}
	return fmt.Sprintf("schema %q", a.repo.Schema())
}

// lockServe makes a daemon the only one on an embedded SQLite file (a
// second refuses to start rather than send beside the first); PostgreSQL
// replicas coordinate through the database and need no lock.
func (a *app) lockServe() error {
	if l, ok := a.repo.(interface{ LockServe() error }); ok {
		return l.LockServe()
	}
	return nil
}
