package scheduler

import (
	"context"
	"log/slog"
	"time"

	"duebell/repo"
)

// DueStore is what the due-date scan needs from the database.
type DueStore interface {
	QueueDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error)
}

// DueScan queues due-date reminders.
type DueScan struct {
	Store  DueStore
	Stages []repo.Stage
	Logger *slog.Logger
	// OnQueued, when set, is told what each scan queued (metrics).
	OnQueued func(repo.ScanResult)
}

// Run queues what is due as of now.
func (d *DueScan) Run(ctx context.Context, now time.Time) (repo.ScanResult, error) {
	res, err := d.Store.QueueDueReminders(ctx, now, d.Stages)
	if err != nil {
		return res, err
	}
	if d.OnQueued != nil {
		d.OnQueued(res)
	}
	if d.Logger != nil && len(res.UnknownZones) > 0 {
		// Every scan says so until the customers are fixed: no reminder
		// goes to them meanwhile.
		d.Logger.Warn("customers in time zones duebell does not know get no reminders",
			slog.Any("time_zones", res.UnknownZones), slog.Time("as_of", now))
	}
	if d.Logger != nil && (res.Total() > 0 || res.Skipped > 0) {
		d.Logger.Info("due-date scan queued notices", slog.Int("queued", res.Total()), slog.Int("skipped", res.Skipped),
			slog.Time("as_of", now))
	}
	return res, nil
}

// Job wraps the scan as a scheduler job.
func (d *DueScan) Job(schedule string) Job {
	return Job{Name: "due_scan", Schedule: schedule, Run: func(ctx context.Context, now time.Time) error {
		_, err := d.Run(ctx, now)
		return err
	}}
}
