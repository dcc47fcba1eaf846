package scheduler

import (
	"context"
	"log/slog"
	"time"

	"duebell/repo"
)

// EventStore is what the channel-event scan needs from the database.
type EventStore interface {
	ProcessChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (repo.EventScanResult, error)
}

// DefaultEventChannels are the channels every channel-event notice goes out on.
var DefaultEventChannels = []string{"sms", "email"}

// EventScan turns reported payment-channel events into side effects and
// notices (see repo.ProcessChannelEvents).
type EventScan struct {
	Store    EventStore
	Batch    int      // events per transaction; default repo.DefaultEventBatch
	Channels []string // default DefaultEventChannels
	Logger   *slog.Logger
	// OnProcessed, when set, is told what each scan did (metrics).
	OnProcessed func(repo.EventScanResult)
}

// Run processes every event that occurred by now.
func (e *EventScan) Run(ctx context.Context, now time.Time) (repo.EventScanResult, error) {
	channels := e.Channels
	if channels == nil {
		channels = DefaultEventChannels
	}
	res, err := e.Store.ProcessChannelEvents(ctx, now, e.Batch, channels)
	if err != nil {
		return res, err
	}
	if e.OnProcessed != nil {
		e.OnProcessed(res)
	}
	if e.Logger != nil && res.Events > 0 {
		e.Logger.Info("channel-event scan processed events", slog.Int("events", res.Events),
			slog.Int("queued", res.Total()), slog.Int("plans_changed", res.PlansChanged),
			slog.Int("reminders_suppressed", res.Suppressed), slog.Int("superseded", res.Superseded),
			slog.Time("as_of", now))
	}
	if e.Logger != nil && res.Ignored > 0 {
		e.Logger.Warn("channel-event scan ignored events it cannot act on (unknown kind or incomplete scope)",
			slog.Int("ignored", res.Ignored))
	}
	return res, nil
}

// Job wraps the scan as a scheduler job.
func (e *EventScan) Job(schedule string) Job {
	return Job{Name: "channel_event_scan", Schedule: schedule, Run: func(ctx context.Context, now time.Time) error {
		_, err := e.Run(ctx, now)
		return err
	}}
}
