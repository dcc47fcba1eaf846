package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// appendAudit appends an audit_log row through ext (the transaction making
// the change, so the entry commits with it; or the pool, outside one): the
// SQLite form of repo.Audit. detail is stored as JSON (nil stores {}); a
// zero at means the database clock.
func appendAudit(ctx context.Context, ext sqlx.ExecerContext, at time.Time, actor, action, target string, detail any) error {
	b, err := repo.AuditDetail(action, detail)
	if err != nil {
		return err
	}
	var when *time.Time
	if !at.IsZero() {
		when = &at
	}
	if _, err := ext.ExecContext(ctx, `
		INSERT INTO audit_log (at, actor, action, target, detail)
		VALUES (coalesce($1, CAST(unixepoch('subsec') * 1000000 AS INTEGER)), $2, $3, $4, json($5))`,
		when, actor, action, target, b); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// AppendAudit writes e (its ID is ignored).
func (s *Store) AppendAudit(ctx context.Context, e repo.AuditEntry) error {
	return s.withTx(ctx, func(tx *sqlx.Tx) error {
		return appendAudit(ctx, tx, e.At, e.Actor, e.Action, e.Target, repo.AuditDetailOf(e))
	})
}

// ListAudit returns entries at or after since (zero: all), by actor when
// actor is not empty, newest first, at most limit (default 100, max 1000).
func (s *Store) ListAudit(ctx context.Context, since time.Time, actor string, limit int) ([]repo.AuditEntry, error) {
	// detail is TEXT here: read it as a string, then hand it out as JSON.
	var rows []struct {
		ID     int64     `db:"id"`
		At     time.Time `db:"at"`
		Actor  string    `db:"actor"`
		Action string    `db:"action"`
		Target string    `db:"target"`
		Detail string    `db:"detail"`
	}
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT id, at, actor, action, target, detail FROM audit_log
		WHERE at >= $1 AND ($2 = '' OR actor = $2)
		ORDER BY at DESC, id DESC LIMIT $3`, since, actor, repo.AuditListLimit(limit)); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	out := make([]repo.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = repo.AuditEntry{ID: r.ID, At: r.At, Actor: r.Actor, Action: r.Action, Target: r.Target,
			Detail: json.RawMessage(r.Detail)}
	}
	return out, nil
}
