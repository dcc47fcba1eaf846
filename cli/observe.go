package cli

import (
	"context"
	"time"

	"duebell/metrics"
	"duebell/notify"
	"duebell/notify/outbox"
	"duebell/scheduler"
)

// metricsSetup names the providers and scans this process runs, so their
// series exist from start-up.
func (a *app) metricsSetup() metrics.Setup {
	s := metrics.Setup{
		Providers: map[string]string{
			notify.ChannelSMS:   providerName(a.cfg.SMS.Provider),
			notify.ChannelEmail: providerName(a.cfg.Email.Provider),
		},
		Scans: []string{"due_scan", "channel_event_scan"},
	}
	if p := a.cfg.SMS.Provider; p != "outbox" {
		s.Receipts = []string{p}
	}
	return s
}

// providerName is the name the sender of configured provider p records in
// the delivery log (Sender.Provider): its own name, or the outbox's.
func providerName(p string) string {
	if p == "outbox" {
		return outbox.Provider
	}
	return p
}

// timedScan wraps a scan job so each run counts in the scan metrics.
func timedScan(m *metrics.Metrics, j scheduler.Job) scheduler.Job {
	run := j.Run
	j.Run = func(ctx context.Context, now time.Time) error {
		start := time.Now()
		err := run(ctx, now)
		m.ScanFinished(j.Name, time.Since(start), time.Now(), err)
		return err
	}
	return j
}
