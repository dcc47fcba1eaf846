package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"duebell/config"
	"duebell/internal/smtptest"
	"duebell/link"
	"duebell/notify"
	"duebell/notify/email"
	"duebell/notify/sms/webhook"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/templates"
)

// BenchmarkDispatch measures the dispatcher end to end: claim, re-check,
// render with a signed link, send to a loopback SMTP server or a loopback
// SMS webhook, and record every attempt and status in PostgreSQL. For each
// channel it seeds the installments, queues their due_soon notices on that
// channel, then times dispatching all of them with the daemon's default
// workers, batch, SMTP pool and per-customer SMS cap. max-rss-MB is the whole test process's peak
// (the loopback servers and seeding included): an upper bound for the daemon.
func BenchmarkDispatch(b *testing.B) {
	for _, channel := range []string{"sms", "email"} {
		b.Run(channel, func(b *testing.B) { benchDispatch(b, channel) })
	}
}

func benchDispatch(b *testing.B, channel string) {
	n := size(b)
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	stages := stagesOn(channel)
	var sent int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		seed(b, r, n, repo.NewDate(2026, 11, 24), false)
		if _, err := r.QueueDueReminders(context.Background(), at, stages); err != nil {
			b.Fatal(err)
		}
		d := newDispatcher(b, r, func() time.Time { return at }, nil)
		b.StartTimer()
		start := time.Now()
		counts, err := d.RunOnce(context.Background())
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if counts["sent"] != n {
			b.Fatalf("sent %v, want %d", counts, n)
		}
		var attempts int
		if err := r.DB().Get(&attempts, `SELECT count(*) FROM delivery_attempts WHERE outcome = 'sent'`); err != nil || attempts != n {
			b.Fatalf("attempt rows %d, %v", attempts, err)
		}
		sent += counts["sent"]
	}
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "notices/s")
	b.ReportMetric(float64(n), "installments")
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(ru.Maxrss)/1024, "max-rss-MB")
}

// newDispatcher is a dispatcher on r with the daemon's defaults, reading the
// clock now, that sends email to a loopback SMTP server and SMS to a
// loopback webhook gateway; gateway, when set, sees every SMS request as it
// arrives; edit, when given, changes the config.
func newDispatcher(b testing.TB, r *repo.Repo, now func() time.Time, gateway func(), edit ...func(*notify.Config)) *notify.Dispatcher {
	smtp := smtptest.Start(b, smtptest.WithDiscard())
	mail, err := email.New(email.Config{Host: smtp.Host(), Port: smtp.Port(), TLS: "none", From: "billing@example.com",
		PoolSize: email.DefaultPoolSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mail.Close() })
	var ids atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gateway != nil {
			gateway()
		}
		time.Sleep(gatewayLatency)
		fmt.Fprintf(w, `{"id":"gw-%d"}`, ids.Add(1))
	}))
	b.Cleanup(gw.Close)
	sms, err := webhook.NewClient(webhook.Config{URL: gw.URL, Secret: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	signer, tpl := linksAndTemplates(b)
	cfg := notify.Config{Store: r, Templates: tpl, Links: signer,
		Senders: map[string]notify.Sender{"sms": sms, "email": mail}, Owner: "bench",
		Now: now, Logger: slog.New(slog.DiscardHandler), Workers: benchWorkers,
		SMSPerCustomerPerDay: config.DefaultMaxSMSPerCustomerPerDay}
	for _, e := range edit {
		e(&cfg)
	}
	d, err := notify.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// linksAndTemplates are a dispatcher's link signer and the default templates.
func linksAndTemplates(b testing.TB) (*link.Signer, *templates.Set) {
	signer, err := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k1", Secret: []byte("bench-signing-key-0123456789abcdef")}, nil, 72*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	tpl, err := templates.Load(templates.Options{AllowedDomains: []string{"example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	return signer, tpl
}

// Knobs for comparing runs: DUEBELL_BENCH_LATENCY (e.g. "30ms") makes the
// loopback SMS gateway answer that late, as a real provider's API does;
// DUEBELL_BENCH_WORKERS overrides the dispatcher's default workers.
var (
	gatewayLatency, _ = time.ParseDuration(os.Getenv("DUEBELL_BENCH_LATENCY"))
	benchWorkers, _   = strconv.Atoi(os.Getenv("DUEBELL_BENCH_WORKERS"))
)
