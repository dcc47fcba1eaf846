package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"duebell/repo"
)

// auditSQL is repo.Dialect.AuditSQL here: instants are Unix microseconds,
// and json() stores the detail minified.
const auditSQL = `
	INSERT INTO audit_log (at, actor, action, target, detail)
	VALUES (coalesce($1, CAST(unixepoch('subsec') * 1000000 AS INTEGER)), $2, $3, $4, json($5))`

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
