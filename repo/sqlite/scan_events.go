package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

const scanEventSelect = `SELECT e.*, coalesce(c.ref, '') AS customer_ref, coalesce(p.ref, '') AS plan_ref
FROM channel_events e LEFT JOIN customers c ON c.id = e.customer_id LEFT JOIN plans p ON p.id = e.plan_id`

// RecordEvent stores a reported event, idempotently by ref (see
// repo.Repo.RecordEvent): a known ref with the same kind, scope, customer,
// plan, instant and payload (compared as JSON values, as jsonb compares)
// returns the stored event; with anything else it is ErrConflict.
func (s *Store) RecordEvent(ctx context.Context, in repo.EventInput) (repo.Event, bool, error) {
	if _, ok := repo.EventRuleOf(in.Kind); !ok {
		return repo.Event{}, false, fmt.Errorf("record event: unknown kind %q", in.Kind)
	}
	var (
		out     repo.Event
		created bool
	)
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		customerID, planID, err := scanEventTarget(ctx, tx, in)
		if err != nil {
			return err
		}
		var id int64
		err = tx.GetContext(ctx, &id, `
			INSERT INTO channel_events (ref, kind, scope, customer_id, plan_id, payload, occurred_at, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (ref) DO NOTHING RETURNING id`,
			in.Ref, in.Kind, in.Scope, customerID, planID, in.Payload, in.OccurredAt, in.Now)
		switch {
		case err == nil:
			created = true
		case errors.Is(err, sql.ErrNoRows):
			var stored struct {
				Same    bool            `db:"same"`
				Payload repo.JSONObject `db:"payload"`
			}
			if err := tx.GetContext(ctx, &stored, `
				SELECT kind = $2 AND scope = $3 AND customer_id IS $4 AND plan_id IS $5 AND occurred_at = $6 AS same, payload
				FROM channel_events WHERE ref = $1`,
				in.Ref, in.Kind, in.Scope, customerID, planID, in.OccurredAt); err != nil {
				return fmt.Errorf("compare event: %w", err)
			}
			if !stored.Same || !scanSameJSON(stored.Payload, in.Payload) {
				return fmt.Errorf("event %q was already recorded with another body: %w", in.Ref, repo.ErrConflict)
			}
		default:
			return fmt.Errorf("insert event: %w", err)
		}
		if err := tx.GetContext(ctx, &out, scanEventSelect+` WHERE e.ref = $1`, in.Ref); err != nil {
			return fmt.Errorf("load event: %w", err)
		}
		return nil
	})
	return out, created, err
}

// scanSameJSON reports whether two JSON texts hold the same value, as
// PostgreSQL compares jsonb: whitespace and key order aside, numbers by value.
func scanSameJSON(a, b repo.JSONObject) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// scanEventTarget looks up the customer and plan an event names.
func scanEventTarget(ctx context.Context, tx *sqlx.Tx, in repo.EventInput) (customerID, planID *int64, err error) {
	switch in.Scope {
	case repo.ScopeCustomer:
		var id int64
		if err := tx.GetContext(ctx, &id, `SELECT id FROM customers WHERE ref = $1`, in.CustomerRef); err != nil {
			return nil, nil, repo.NotFound(err, fmt.Sprintf("customer %q", in.CustomerRef))
		}
		return &id, nil, nil
	case repo.ScopePlan:
		var p struct {
			ID          int64  `db:"id"`
			CustomerID  int64  `db:"customer_id"`
			CustomerRef string `db:"customer_ref"`
		}
		if err := tx.GetContext(ctx, &p, `SELECT p.id, p.customer_id, c.ref AS customer_ref
			FROM plans p JOIN customers c ON c.id = p.customer_id WHERE p.ref = $1`, in.PlanRef); err != nil {
			return nil, nil, repo.NotFound(err, fmt.Sprintf("plan %q", in.PlanRef))
		}
		if in.CustomerRef != "" && in.CustomerRef != p.CustomerRef {
			return nil, nil, fmt.Errorf("plan %q belongs to another customer than %q: %w", in.PlanRef, in.CustomerRef, repo.ErrConflict)
		}
		if in.InstallmentSeq > 0 {
			var ok bool
			if err := tx.GetContext(ctx, &ok, `SELECT true FROM installments WHERE plan_id = $1 AND seq = $2`,
				p.ID, in.InstallmentSeq); err != nil {
				return nil, nil, repo.NotFound(err, fmt.Sprintf("plan %q installment %d", in.PlanRef, in.InstallmentSeq))
			}
		}
		return &p.CustomerID, &p.ID, nil
	case repo.ScopeAll:
		return nil, nil, nil
	}
	return nil, nil, fmt.Errorf("record event: unknown scope %q", in.Scope)
}

// GetEvent returns the event with ref, or an error wrapping ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, ref string) (repo.Event, error) {
	var e repo.Event
	if err := s.db.GetContext(ctx, &e, scanEventSelect+` WHERE e.ref = $1`, ref); err != nil {
		return repo.Event{}, repo.NotFound(err, fmt.Sprintf("event %q", ref))
	}
	return e, nil
}

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
