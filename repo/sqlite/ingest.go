package sqlite

import (
	"context"
	"time"

	"duebell/repo"
)

// Not yet ported (ingest.go).
func (s *Store) UpsertCustomer(ctx context.Context, c repo.Customer, now time.Time) (repo.Customer, error) {
	panic("sqlite: not ported: UpsertCustomer")
}

// Not yet ported (ingest.go).
func (s *Store) GetCustomer(ctx context.Context, ref string) (repo.Customer, error) {
	panic("sqlite: not ported: GetCustomer")
}

// Not yet ported (ingest.go).
func (s *Store) UpsertPlan(ctx context.Context, p repo.Plan, now time.Time) (repo.Plan, error) {
	panic("sqlite: not ported: UpsertPlan")
}

// Not yet ported (ingest.go).
func (s *Store) GetPlan(ctx context.Context, ref string) (repo.Plan, error) {
	panic("sqlite: not ported: GetPlan")
}

// Not yet ported (ingest.go).
func (s *Store) RecordPayment(ctx context.Context, in repo.PaymentInput) (repo.PaymentResult, error) {
	panic("sqlite: not ported: RecordPayment")
}

// Not yet ported (links.go).
func (s *Store) GetLinkTarget(ctx context.Context, notificationID int64) (repo.LinkTarget, error) {
	panic("sqlite: not ported: GetLinkTarget")
}

// Not yet ported (console_sessions.go).
func (s *Store) RevokeConsoleSession(ctx context.Context, id string, expires, now time.Time) error {
	panic("sqlite: not ported: RevokeConsoleSession")
}

// Not yet ported (console_sessions.go).
func (s *Store) ConsoleSessionRevoked(ctx context.Context, id string) (bool, error) {
	panic("sqlite: not ported: ConsoleSessionRevoked")
}

// Not yet ported (audit.go).
func (s *Store) AppendAudit(ctx context.Context, e repo.AuditEntry) error {
	panic("sqlite: not ported: AppendAudit")
}

// Not yet ported (audit.go).
func (s *Store) ListAudit(ctx context.Context, since time.Time, actor string, limit int) ([]repo.AuditEntry, error) {
	panic("sqlite: not ported: ListAudit")
}

// Not yet ported (customer_view.go).
func (s *Store) FindCustomers(ctx context.Context, q string) ([]repo.CustomerHit, error) {
	panic("sqlite: not ported: FindCustomers")
}

// Not yet ported (customer_view.go).
func (s *Store) GetCustomerView(ctx context.Context, ref string) (repo.CustomerView, error) {
	panic("sqlite: not ported: GetCustomerView")
}

// Not yet ported (demo.go).
func (s *Store) DeleteCustomers(ctx context.Context, refs []string) (int, error) {
	panic("sqlite: not ported: DeleteCustomers")
}

// Not yet ported (effect.go).
func (s *Store) EffectReport(ctx context.Context, kinds []string, since, until, now time.Time) ([]repo.EffectRow, error) {
	panic("sqlite: not ported: EffectReport")
}

// Not yet ported (overview.go).
func (s *Store) GetOverview(ctx context.Context, since, until, now time.Time, loc *time.Location) (repo.Overview, error) {
	panic("sqlite: not ported: GetOverview")
}
