package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// OptOutInput is a provider's report that a customer cannot be reached on
// a channel: the number unsubscribed (Tencent PhoneNumberInBlacklist,
// Twilio 21610), or the email address has no mailbox (SMTP 5.1.1).
type OptOutInput struct {
	Channel        string // "sms" or "email"
	CustomerID     int64
	NotificationID int64
	// Address is the email address the mail server refused: the opt-out is
	// set only while the customer still has it (a push may have changed it
	// since the claim). Unused for SMS.
	Address        string
	Provider, Code string
	Reason         string // e.g. "unsubscribed at tencent (FailedOperation.PhoneNumberInBlacklist)"
	Now            time.Time
}

// OptOut sets the customer's opt-out of in.Channel with its reason and
// audits it, in one transaction. It reports false, and audits nothing,
// when the customer had already opted out (or, for email, no longer has
// the refused address).
func (q Common) OptOut(ctx context.Context, in OptOutInput) (bool, error) {
	var stmt string
	args := []any{in.CustomerID, in.Reason, in.Now}
	switch in.Channel {
	case "sms":
		stmt = `UPDATE customers SET sms_opt_out = true, sms_opt_out_reason = $2, updated_at = $3
			 WHERE id = $1 AND NOT sms_opt_out RETURNING ref`
	case "email":
		stmt = `UPDATE customers SET email_opt_out = true, email_opt_out_reason = $2, updated_at = $3
			 WHERE id = $1 AND NOT email_opt_out AND email = $4 RETURNING ref`
		args = append(args, in.Address)
	default:
		return false, invalidf("opt out: channel %q", in.Channel)
	}
	changed := false
	err := q.withTx(ctx, func(tx *sqlx.Tx) error {
		changed = false // a retried transaction starts over
		var ref string
		err := tx.GetContext(ctx, &ref, stmt, args...)
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
		return q.Audit(ctx, tx, e.At, e.Actor, e.Action, e.Target, e.Detail)
	})
	if err != nil {
		return false, fmt.Errorf("opt out %s: %w", in.Channel, err)
	}
	return changed, nil
}

// CircuitUnreachable is the Code of a circuit opened because the provider
// could not be reached (transient failures in a row), not for a refusal.
const CircuitUnreachable = "unreachable"

// Circuit is a provider that refused the account, or could not be reached
// (Code CircuitUnreachable), as provider_circuits keeps it.
type Circuit struct {
	Provider  string     `db:"provider" json:"provider"`
	Channel   string     `db:"channel" json:"channel"`
	OpenedAt  time.Time  `db:"opened_at" json:"opened_at"`
	ProbeAt   time.Time  `db:"probe_at" json:"probe_at"`
	Code      string     `db:"code" json:"code"`
	Error     string     `db:"error" json:"error"`
	UpdatedAt time.Time  `db:"updated_at" json:"updated_at"`
	ClosedAt  *time.Time `db:"closed_at" json:"closed_at,omitempty"`
}

// OpenCircuit records c as open (ClosedAt ignored): a new row, or the
// provider's row reopened or updated with the new probe time and error.
// An open circuit keeps its first opened_at.
func (q Common) OpenCircuit(ctx context.Context, c Circuit) error {
	if _, err := q.db.ExecContext(ctx, `
		INSERT INTO provider_circuits (provider, channel, opened_at, probe_at, code, error, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (provider) DO UPDATE SET
			channel = EXCLUDED.channel, probe_at = EXCLUDED.probe_at, code = EXCLUDED.code,
			error = EXCLUDED.error, updated_at = EXCLUDED.updated_at, closed_at = NULL,
			opened_at = CASE WHEN provider_circuits.closed_at IS NULL THEN provider_circuits.opened_at
			                 ELSE EXCLUDED.opened_at END`,
		c.Provider, c.Channel, c.OpenedAt, c.ProbeAt, c.Code, c.Error, c.UpdatedAt); err != nil {
		return fmt.Errorf("open circuit %s: %w", c.Provider, err)
	}
	return nil
}

// CloseCircuit marks provider's circuit closed at now, if it is open.
func (q Common) CloseCircuit(ctx context.Context, provider string, now time.Time) error {
	if _, err := q.db.ExecContext(ctx, `
		UPDATE provider_circuits SET closed_at = $2, updated_at = $2
		 WHERE provider = $1 AND closed_at IS NULL`, provider, now); err != nil {
		return fmt.Errorf("close circuit %s: %w", provider, err)
	}
	return nil
}

// OpenCircuits lists the open circuits, by provider.
func (q Common) OpenCircuits(ctx context.Context) ([]Circuit, error) {
	var out []Circuit
	if err := q.db.SelectContext(ctx, &out,
		`SELECT * FROM provider_circuits WHERE closed_at IS NULL ORDER BY provider`); err != nil {
		return nil, fmt.Errorf("open circuits: %w", err)
	}
	return out, nil
}
