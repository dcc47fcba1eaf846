package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// ProcessChannelEvents processes every event that occurred by now and is not
// processed yet, oldest first, batch events per transaction, with the rules
// of repo.ApplyEvent (see repo.Repo.ProcessChannelEvents). Writers are
// serialized in the process, so no other scan interleaves (no ErrBusy).
func (s *Store) ProcessChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (repo.EventScanResult, error) {
	return s.scanEvents(ctx, now, batch, channels, false)
}

// PreviewChannelEvents reports what ProcessChannelEvents would do as of now,
// writing nothing: the same statements run in one transaction that is rolled back.
func (s *Store) PreviewChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (repo.EventScanResult, error) {
	return s.scanEvents(ctx, now, batch, channels, true)
}

func (s *Store) scanEvents(ctx context.Context, now time.Time, batch int, channels []string, dryRun bool) (repo.EventScanResult, error) {
	batch, err := repo.EventScanBatch(batch, channels)
	if err != nil {
		return repo.EventScanResult{}, err
	}
	var total repo.EventScanResult
	for {
		var res repo.EventScanResult
		var n int
		err := s.withTx(ctx, func(tx *sqlx.Tx) error {
			for {
				got, err := scanEventBatch(ctx, tx, now, batch, channels, &res)
				if err != nil {
					return err
				}
				n += got
				// A dry run sees its own marks, so it walks every batch in this
				// one transaction and rolls them all back.
				if !dryRun || got < batch {
					break
				}
			}
			if dryRun {
				return repo.ErrDryRun
			}
			return nil
		})
		switch {
		case errors.Is(err, repo.ErrDryRun):
			total.Add(res)
			return total, nil
		case err != nil:
			return total, err
		}
		total.Add(res)
		if n < batch {
			return total, nil
		}
	}
}

// scanEventBatch claims up to limit events and processes them in order.
func scanEventBatch(ctx context.Context, tx *sqlx.Tx, now time.Time, limit int, channels []string, res *repo.EventScanResult) (int, error) {
	var evs []repo.ClaimedEvent
	if err := tx.SelectContext(ctx, &evs, `
		SELECT id, ref, kind, scope, customer_id, plan_id, occurred_at, payload FROM channel_events
		WHERE processed_at IS NULL AND occurred_at <= $1
		ORDER BY occurred_at, id LIMIT $2`, now, limit); err != nil {
		return 0, fmt.Errorf("claim events: %w", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
		if err := repo.ApplyEvent(ctx, scanEventTx{tx}, now, &evs[i], channels, res); err != nil {
			return 0, fmt.Errorf("event %q: %w", evs[i].Ref, err)
		}
	}
	idJSON, err := json.Marshal(ids)
	if err != nil {
		return 0, fmt.Errorf("mark events processed: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE channel_events SET processed_at = $2
		WHERE id IN (SELECT value FROM json_each($1))`, string(idJSON), now); err != nil {
		return 0, fmt.Errorf("mark events processed: %w", err)
	}
	res.Events += len(evs)
	return len(evs), nil
}
