package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// The dispatcher's hot path (repo/dispatch.go): claim, finish, rescue and
// extend. Writers are serialized (withTx), so the PostgreSQL store's row
// locks, SKIP LOCKED and receipt advisory locks have no counterpart here:
// a write transaction owns the whole file.

// RescueExpired returns notices whose lease expired before now to the queue,
// except those owner keep holds (a live dispatcher's own), logging each lost
// try as an attempt with the outcome unknown, started when the notice was
// claimed (its updated_at until the rescue); it reports how many it
// rescued. The notices keep their next_attempt_at, so they are claimed first.
// Each lost try names the provider the notice went to, else the one its
// channel sends through (providers, by channel).
func (s *Store) RescueExpired(ctx context.Context, now time.Time, keep string, providers map[string]string) (int, error) {
	byChannel, err := json.Marshal(providers)
	if err != nil {
		return 0, fmt.Errorf("rescue expired leases: %w", err)
	}
	var n int64
	err = s.withTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO delivery_attempts (notification_id, n, channel, provider, started_at, finished_at, outcome, error)
			SELECT id, attempts, channel, coalesce(nullif(provider, ''), json_extract($3, '$.' || channel), ''), updated_at, $1, 'unknown',
				'lease expired: the worker stopped before recording the outcome; the message may have gone out'
			FROM notifications WHERE status = 'sending' AND lease_expires_at < $1 AND lease_owner <> $2
			ORDER BY id`, now, keep, string(byChannel)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `
			UPDATE notifications SET status = `+repo.RequeuedStatusSQL("dedup_key", "'pending'")+`,
				lease_owner = NULL, lease_expires_at = NULL, updated_at = $1,
				status_reason = `+repo.RequeuedReasonSQL("dedup_key", "'pending'", "'"+repo.RescuedReason+"'")+`
			WHERE status = 'sending' AND lease_expires_at < $1 AND lease_owner <> $2`, now, keep)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rescue expired leases: %w", err)
	}
	return int(n), nil
}

// ExtendLeases moves the lease of every notice owner holds to now + lease,
// never earlier than it was; it returns the ids of the notices whose leases
// it extended, in id order (see repo.Repo.ExtendLeases).
func (s *Store) ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]int64, error) {
	ids := []int64{}
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &ids, `
			UPDATE notifications SET lease_expires_at = max(coalesce(lease_expires_at, $2), $2)
			WHERE status = 'sending' AND lease_owner = $1
			RETURNING id`, owner, now.Add(lease))
	})
	if err != nil {
		return nil, fmt.Errorf("extend leases: %w", err)
	}
	slices.Sort(ids) // RETURNING keeps no order
	return ids, nil
}

// NextDue is when the earliest pending notice falls due; false when none is
// pending. It reads the first row of the claim's partial index, named (see
// dispatchLeaseSQL); the plain column, so it comes back as a time.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next time.Time
	err := s.db.GetContext(ctx, &next,
		`SELECT next_attempt_at FROM notifications INDEXED BY notifications_due
		WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 1`)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	return next, true, nil
}
