package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"duebell/api"
	"duebell/metrics"
	"duebell/repo"
	"duebell/scheduler"
)

func runServe(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("serve", &c)
	migrate := fs.Bool("migrate", false, "apply pending migrations before starting")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, c.config, *migrate)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.lockServe(); err != nil {
		return err
	}
	if *migrate {
		if err := a.migrate(ctx); err != nil {
			return err
		}
	} else if err := a.requireMigrated(ctx); err != nil {
		return err
	}
	ln, err := a.listen()
	if err != nil {
		return err
	}
	return a.serve(ctx, ln, nil)
}

// migrate applies the pending migrations (serve --migrate) and logs each.
func (a *app) migrate(ctx context.Context) error {
	applied, err := a.repo.Migrate(ctx)
	for _, m := range applied {
		a.log.Info("migration applied", slog.String("migration", m), slog.String("database", a.where()))
	}
	return err
}

// listen binds http.listen. Commands bind it before they start work, so
// that a port in use stops them before they change anything.
func (a *app) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	return ln, nil
}

// serve runs the HTTP server, the cron scans and the dispatcher until ctx
// ends or SIGINT/SIGTERM arrives, then shuts down gracefully: the listener
// stops taking requests, running scans finish, the dispatcher claims nothing
// more, releases what it claimed but had not started, lets sends in progress
// finish within dispatch.shutdown_grace and writes every outcome before it
// returns. It serves HTTP on ln (see listen) and closes it; listening, when
// set, is told the bound address.
func (a *app) serve(ctx context.Context, ln net.Listener, listening func(addr string)) error {
	defer ln.Close() // on a return before the server took it
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg, a.repo.QueueDepth, a.log)
	metrics.WatchOldest(reg, a.repo.OldestDue, a.now, a.log)
	m.Prepare(a.metricsSetup())

	d, err := a.dispatcher(m)
	if err != nil {
		return err
	}
	// A scan that queued notices wakes the dispatcher: no polling gap.
	queued := func(r repo.ScanResult) { m.Queued(r); d.Wake() }
	events := &scheduler.EventScan{Store: a.repo, Logger: a.log,
		OnProcessed: func(r repo.EventScanResult) { queued(repo.ScanResult{Queued: r.Queued}) }}
	// Stopping, a scan gets as long as the dispatcher's drain may take on a
	// database that stopped answering (a lease), not its own 5 minutes.
	sched, err := scheduler.New(scheduler.Config{Logger: a.log, Now: a.now,
		StopWait: d.Lease(),
		Jobs: []scheduler.Job{timedScan(m, a.dueScan(queued).Job(a.cfg.Scan.Schedule)),
			(&scheduler.Retention{Store: a.repo, Keep: a.cfg.Retention.Keep.Duration, Batch: a.cfg.Retention.Batch,
				Logger: a.log}).Job(a.cfg.Retention.Schedule),
			timedScan(m, events.Job(a.cfg.Scan.ChannelEventsSchedule))}})
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	wake := d.Wake
	if a.quietRequests {
		wake = func() {}
	}
	handler, err := a.httpHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), m.Receipt, wake)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}

	var wg sync.WaitGroup
	var dispatchErr error // outcomes the drain could not write: exit 1
	wg.Go(func() { sched.Start(ctx) })
	wg.Go(func() { dispatchErr = d.Start(ctx) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	a.log.Info("duebell serving", slog.String("listen", ln.Addr().String()), slog.String("schema", a.repo.Schema()),
		slog.String("scan_schedule", a.cfg.Scan.Schedule))
	if cal := a.cfg.HolidayCalendar(); cal != nil && !cal.Covers(a.now().Year()) {
		a.log.Warn("calendar.file has no dates for this year: holidays are not kept quiet until it does",
			slog.String("file", a.cfg.Calendar.File), slog.Int("year", a.now().Year()))
	}
	if listening != nil {
		listening(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err = <-serveErr:
		stop()
	}
	a.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		a.log.Warn("http shutdown", slog.String("error", serr.Error()))
	}
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	if dispatchErr != nil {
		return fmt.Errorf("dispatch: %w", dispatchErr)
	}
	return nil
}

// httpHandler is the API plus link verification and metrics; wake is
// called when a request queued notices (see wakingStore).
func (a *app) httpHandler(metricsHandler http.Handler, onReceipt func(provider, outcome string), wake func()) (http.Handler, error) {
	tokens := make([]api.Token, len(a.cfg.Admin.Tokens))
	for i, t := range a.cfg.Admin.Tokens {
		tokens[i] = api.Token{Name: t.Name, Token: t.Token, Role: api.Role(t.Role)}
	}
	cfg := a.apiConfig()
	cfg.Tokens, cfg.Ready, cfg.Links, cfg.Receipts = tokens, a.ready, a.links, a.receipts(onReceipt)
	cfg.Repo = wakingStore{Store: cfg.Repo, wake: wake}
	cfg.Extra = func(mux *http.ServeMux) { mux.Handle("GET /metrics", metricsHandler) }
	return api.New(cfg)
}

// apiConfig is what the API and `duebell import` share: the store, the
// clock and the settings that validate what lenders push.
func (a *app) apiConfig() api.Config {
	return api.Config{
		Repo: a.repo, Logger: a.log, Now: a.now,
		DefaultTimezone: a.cfg.Defaults.Timezone, DefaultLocale: a.cfg.Defaults.Locale,
		PaymentConfirmChannels: a.cfg.Policy.PaymentReceived, MaxBodyBytes: a.cfg.HTTP.MaxBodyBytes,
		ConsolePlainHTTP: a.cfg.HTTP.ConsolePlainHTTP,
		ImportMaxBytes:   a.cfg.HTTP.ImportMaxBytes, AllowedDomains: a.cfg.Links.AllowedDomains,
		Collection: a.cfg.CollectionLimits(),
	}
}

// wakingStore is the store the API and the console write through in serve:
// a resend, a bulk resend or a payment's confirmation that queued a notice
// wakes this process's dispatcher, which would otherwise claim it at its
// next idle poll (dispatch.interval, 5 s by default) — a borrower on the
// phone with support gets the resend in about a second. Other replicas
// still find it at their next poll.
type wakingStore struct {
	api.Store
	wake func()
}

func (s wakingStore) Resend(ctx context.Context, in repo.ResendInput) (repo.ResendResult, error) {
	res, err := s.Store.Resend(ctx, in)
	if err == nil && !res.Replayed {
		s.wake()
	}
	return res, err
}

func (s wakingStore) ResendMatching(ctx context.Context, in repo.BulkResendInput) (repo.BulkResendResult, error) {
	res, err := s.Store.ResendMatching(ctx, in)
	if err == nil && !res.DryRun && res.Count > 0 {
		s.wake()
	}
	return res, err
}

func (s wakingStore) RecordPayment(ctx context.Context, in repo.PaymentInput) (repo.PaymentResult, error) {
	res, err := s.Store.RecordPayment(ctx, in)
	if err == nil && res.Queued > 0 {
		s.wake()
	}
	return res, err
}
