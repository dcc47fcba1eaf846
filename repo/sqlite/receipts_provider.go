package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// OptOutSMS sets the customer's SMS opt-out with its reason and audits it,
// in one transaction. It reports false, and audits nothing, when the
// customer had already opted out (or does not exist).
func (s *Store) OptOutSMS(ctx context.Context, in repo.OptOutSMSInput) (bool, error) {
	changed := false
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		changed = false
		var ref string
		err := tx.GetContext(ctx, &ref, `
			UPDATE customers SET sms_opt_out = 1, sms_opt_out_reason = $2, updated_at = $3
			 WHERE id = $1 AND NOT sms_opt_out
			RETURNING ref`, in.CustomerID, in.Reason, in.Now)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // opted out already, or no such customer
		}
		if err != nil {
			return err
		}
		changed = true
		e, err := in.AuditEntry(ref)
		if err != nil {
			return err
		}
		return receiptsAudit(ctx, tx, e)
	})
	if err != nil {
		return false, fmt.Errorf("opt out sms: %w", err)
	}
	return changed, nil
}

// receiptsAudit appends e to the audit log through tx, so it commits with
// the change it records. A zero e.At means now.
func receiptsAudit(ctx context.Context, tx *sqlx.Tx, e repo.AuditEntry) error {
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	detail := string(e.Detail)
	if detail == "" || detail == "null" {
		detail = "{}"
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		at, e.Actor, e.Action, e.Target, detail); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// OpenCircuit records c as open (ClosedAt ignored): a new row, or the
// provider's row reopened or updated with the new probe time and error.
// An open circuit keeps its first opened_at.
func (s *Store) OpenCircuit(ctx context.Context, c repo.Circuit) error {
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO provider_circuits (provider, channel, opened_at, probe_at, code, error, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (provider) DO UPDATE SET
				channel = excluded.channel, probe_at = excluded.probe_at, code = excluded.code,
				error = excluded.error, updated_at = excluded.updated_at, closed_at = NULL,
				opened_at = CASE WHEN provider_circuits.closed_at IS NULL THEN provider_circuits.opened_at
				                 ELSE excluded.opened_at END`,
			c.Provider, c.Channel, c.OpenedAt, c.ProbeAt, c.Code, c.Error, c.UpdatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("open circuit %s: %w", c.Provider, err)
	}
	return nil
}

// CloseCircuit marks provider's circuit closed at now, if it is open.
func (s *Store) CloseCircuit(ctx context.Context, provider string, now time.Time) error {
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `
			UPDATE provider_circuits SET closed_at = $2, updated_at = $2
			 WHERE provider = $1 AND closed_at IS NULL`, provider, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("close circuit %s: %w", provider, err)
	}
	return nil
}

// OpenCircuits lists the open circuits, by provider.
func (s *Store) OpenCircuits(ctx context.Context) ([]repo.Circuit, error) {
	var out []repo.Circuit
	if err := s.db.SelectContext(ctx, &out,
		`SELECT * FROM provider_circuits WHERE closed_at IS NULL ORDER BY provider`); err != nil {
		return nil, fmt.Errorf("open circuits: %w", err)
	}
	return out, nil
}
