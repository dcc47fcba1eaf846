package sqlite

import (
	"context"
	"time"

	"duebell/repo"
)

// Not yet ported (repo/customer_view.go).
func (s *Store) FindCustomers(ctx context.Context, q string) ([]repo.CustomerHit, error) {
	panic("sqlite: not ported: FindCustomers")
}

// Not yet ported (repo/customer_view.go).
func (s *Store) GetCustomerView(ctx context.Context, ref string) (repo.CustomerView, error) {
	panic("sqlite: not ported: GetCustomerView")
}

// Not yet ported (repo/demo.go).
func (s *Store) DeleteCustomers(ctx context.Context, refs []string) (int, error) {
	panic("sqlite: not ported: DeleteCustomers")
}

// Not yet ported (repo/effect.go).
func (s *Store) EffectReport(ctx context.Context, kinds []string, since, until, now time.Time) ([]repo.EffectRow, error) {
	panic("sqlite: not ported: EffectReport")
}

// Not yet ported (repo/overview.go).
func (s *Store) GetOverview(ctx context.Context, since, until, now time.Time, loc *time.Location) (repo.Overview, error) {
	panic("sqlite: not ported: GetOverview")
}
