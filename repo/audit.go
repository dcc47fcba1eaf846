package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// AuditEntry is one row of the audit log: who did what to which target.
type AuditEntry struct {
	ID     int64           `db:"id" json:"id"`
	At     time.Time       `db:"at" json:"at"`
	Actor  string          `db:"actor" json:"actor"`
	Action string          `db:"action" json:"action"`
	Target string          `db:"target" json:"target"`
	Detail json.RawMessage `db:"detail" json:"detail"`
}

// auditSQL appends an audit_log row ($1 when, NULL for the database clock;
// $5 the detail as JSON text).
const auditSQL = `
	INSERT INTO audit_log (at, actor, action, target, detail)
	VALUES (coalesce($1, now()), $2, $3, $4, $5::jsonb)`

// Audit appends an audit_log row through ext (the transaction making the
// change, so the entry commits with it). detail is stored as JSON; nil
// stores {}. A zero at means the database clock.
func (q Common) Audit(ctx context.Context, ext sqlx.ExecerContext, at time.Time, actor, action, target string, detail any) error {
	b, err := AuditDetail(action, detail)
	if err != nil {
		return err
	}
	var when *time.Time
	if !at.IsZero() {
		when = &at
	}
	if _, err := ext.ExecContext(ctx, q.d.AuditSQL, when, actor, action, target, b); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// AppendAudit writes e (its ID is ignored).
func (q Common) AppendAudit(ctx context.Context, e AuditEntry) error {
	return q.withTx(ctx, func(tx *sqlx.Tx) error {
		return q.Audit(ctx, tx, e.At, e.Actor, e.Action, e.Target, AuditDetailOf(e))
	})
}

// ListAudit returns entries at or after since (zero: all), by actor when
// actor is not empty, newest first, at most limit (default 100, max 1000).
func (r *Repo) ListAudit(ctx context.Context, since time.Time, actor string, limit int) ([]AuditEntry, error) {
	limit = AuditListLimit(limit)
	out := []AuditEntry{}
	if err := r.db.SelectContext(ctx, &out, `
		SELECT id, at, actor, action, target, detail FROM audit_log
		WHERE at >= $1 AND ($2 = '' OR actor = $2)
		ORDER BY at DESC, id DESC LIMIT $3`, since, actor, limit); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
