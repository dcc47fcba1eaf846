package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// RevokeConsoleSession ends the console session with id (a hash of its
// nonce) on every replica until expires, when it would have ended anyway.
// Revocations already past their expiry are deleted on the way.
func (q Common) RevokeConsoleSession(ctx context.Context, id string, expires, now time.Time) error {
	return q.withTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_revoked_sessions WHERE expires_at < $1`, now); err != nil {
			return fmt.Errorf("prune revoked sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO console_revoked_sessions (session_hash, expires_at, revoked_at) VALUES ($1, $2, $3)
			ON CONFLICT (session_hash) DO NOTHING`, id, expires, now); err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		return nil
	})
}

// ConsoleSessionRevoked reports whether the console session id was logged out.
func (q Common) ConsoleSessionRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	if err := q.db.GetContext(ctx, &revoked,
		`SELECT EXISTS (SELECT 1 FROM console_revoked_sessions WHERE session_hash = $1)`, id); err != nil {
		return false, fmt.Errorf("check revoked session: %w", err)
	}
	return revoked, nil
}
