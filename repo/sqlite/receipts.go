package sqlite

import (
	"context"
	"time"

	"duebell/repo"
)

// Not yet ported (repo/receipts.go).
func (s *Store) RecordReceipt(ctx context.Context, in repo.Receipt, now time.Time) (repo.ReceiptResult, error) {
	panic("sqlite: not ported: RecordReceipt")
}

// Not yet ported (repo/receipts.go).
func (s *Store) ListReceipts(ctx context.Context, notificationID int64) ([]repo.Receipt, error) {
	panic("sqlite: not ported: ListReceipts")
}

// Not yet ported (repo/provider.go).
func (s *Store) OptOutSMS(ctx context.Context, in repo.OptOutSMSInput) (bool, error) {
	panic("sqlite: not ported: OptOutSMS")
}

// Not yet ported (repo/provider.go).
func (s *Store) OpenCircuit(ctx context.Context, c repo.Circuit) error {
	panic("sqlite: not ported: OpenCircuit")
}

// Not yet ported (repo/provider.go).
func (s *Store) CloseCircuit(ctx context.Context, provider string, now time.Time) error {
	panic("sqlite: not ported: CloseCircuit")
}

// Not yet ported (repo/provider.go).
func (s *Store) OpenCircuits(ctx context.Context) ([]repo.Circuit, error) {
	panic("sqlite: not ported: OpenCircuits")
}

// Not yet ported (repo/fallback.go).
func (s *Store) QueueFallbacks(ctx context.Context, now, since time.Time, stages []string, ch string) (int, error) {
	panic("sqlite: not ported: QueueFallbacks")
}
