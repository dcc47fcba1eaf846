package scheduler

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"duebell/repo"
)

// PurgeStore is what the retention cleaner needs from the database.
type PurgeStore interface {
	PurgeFinished(ctx context.Context, before time.Time, batch int) (repo.Purged, error)
}

// Defaults of the retention cleaner.
const (
	DefaultRetentionKeep  = 400 * 24 * time.Hour // a year and a month: disputes outlive a plan
	DefaultRetentionBatch = 5000
)

// Retention keeps the delivery log from growing forever: finished notices
// (sent, delivered, undelivered, suppressed, failed, skipped) last changed
// more than Keep ago are removed with their attempts, receipts and
// idempotency keys, Batch rows per transaction, on one replica at a time.
// Pending and in-flight notices are never removed, whatever their age.
type Retention struct {
	Store  PurgeStore
	Keep   time.Duration // default DefaultRetentionKeep
	Batch  int           // default DefaultRetentionBatch
	Logger *slog.Logger
}

// Run removes what is older than Keep as of now.
func (c *Retention) Run(ctx context.Context, now time.Time) (repo.Purged, error) {
	keep := cmp.Or(c.Keep, DefaultRetentionKeep)
	p, err := c.Store.PurgeFinished(ctx, now.Add(-keep), cmp.Or(c.Batch, DefaultRetentionBatch))
	if err == nil && c.Logger != nil && p.Total() > 0 {
		c.Logger.Info("retention removed old delivery log rows", slog.Int("notifications", p.Notifications),
			slog.Int("attempts", p.Attempts), slog.Int("receipts", p.Receipts),
			slog.Int("idempotency_keys", p.IdempotencyKeys), slog.Duration("keep", keep))
	}
	return p, err
}

// Job wraps the cleaner as a scheduler job.
func (c *Retention) Job(schedule string) Job {
	return Job{Name: "retention", Schedule: schedule, Run: func(ctx context.Context, now time.Time) error {
		_, err := c.Run(ctx, now)
		return err
	}}
}
