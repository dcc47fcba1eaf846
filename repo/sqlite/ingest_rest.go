package sqlite

import (
	"context"
	"time"

	"duebell/repo"
)

// Not yet ported (repo/ingest.go).
func (s *Store) RecordPayment(ctx context.Context, in repo.PaymentInput) (repo.PaymentResult, error) {
	panic("sqlite: not ported: RecordPayment")
}

// Not yet ported (repo/links.go).
func (s *Store) GetLinkTarget(ctx context.Context, notificationID int64) (repo.LinkTarget, error) {
	panic("sqlite: not ported: GetLinkTarget")
}

// Not yet ported (repo/console_sessions.go).
func (s *Store) RevokeConsoleSession(ctx context.Context, id string, expires, now time.Time) error {
	panic("sqlite: not ported: RevokeConsoleSession")
}

// Not yet ported (repo/console_sessions.go).
func (s *Store) ConsoleSessionRevoked(ctx context.Context, id string) (bool, error) {
	panic("sqlite: not ported: ConsoleSessionRevoked")
}

// Not yet ported (repo/audit.go).
func (s *Store) AppendAudit(ctx context.Context, e repo.AuditEntry) error {
	panic("sqlite: not ported: AppendAudit")
}

// Not yet ported (repo/audit.go).
func (s *Store) ListAudit(ctx context.Context, since time.Time, actor string, limit int) ([]repo.AuditEntry, error) {
	panic("sqlite: not ported: ListAudit")
}
