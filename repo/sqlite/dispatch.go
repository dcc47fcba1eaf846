package sqlite

import (
	"context"
	"time"

	"duebell/repo"
)

// Not yet ported (dispatch.go).
func (s *Store) RescueExpired(ctx context.Context, now time.Time) (int, error) {
	panic("sqlite: not ported: RescueExpired")
}

// Not yet ported (dispatch.go).
func (s *Store) ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) (int, error) {
	panic("sqlite: not ported: ExtendLeases")
}

// Not yet ported (dispatch.go).
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now time.Time, lease time.Duration, limit, smsCap int) ([]repo.Claim, error) {
	panic("sqlite: not ported: ClaimNotifications")
}

// Not yet ported (dispatch.go).
func (s *Store) FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error {
	panic("sqlite: not ported: FinishNotifications")
}

// Not yet ported (dispatch.go).
func (s *Store) GetNotification(ctx context.Context, id int64) (repo.Notification, error) {
	panic("sqlite: not ported: GetNotification")
}

// Not yet ported (dispatch.go).
func (s *Store) ListAttempts(ctx context.Context, notificationID int64) ([]repo.Attempt, error) {
	panic("sqlite: not ported: ListAttempts")
}

// Not yet ported (dispatch.go).
func (s *Store) QueueDepth(ctx context.Context) ([]repo.StatusCount, error) {
	panic("sqlite: not ported: QueueDepth")
}

// Not yet ported (dispatch.go).
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	panic("sqlite: not ported: NextDue")
}

// Not yet ported (collection.go).
func (s *Store) CollectionCounts(ctx context.Context, owner string, now, since time.Time, kinds []string) (map[int64]repo.CollectionCount, error) {
	panic("sqlite: not ported: CollectionCounts")
}

// Not yet ported (collection.go).
func (s *Store) CollectionSent(ctx context.Context, customerID int64, since time.Time, kinds []string) ([]time.Time, error) {
	panic("sqlite: not ported: CollectionSent")
}

// Not yet ported (digest.go).
func (s *Store) DigestItems(ctx context.Context, leader int64) ([]repo.DigestItem, error) {
	panic("sqlite: not ported: DigestItems")
}

// Not yet ported (oldest.go).
func (s *Store) OldestDue(ctx context.Context, now time.Time, channels []string) ([]repo.ChannelAge, error) {
	panic("sqlite: not ported: OldestDue")
}

// Not yet ported (fallback.go).
func (s *Store) QueueFallbacks(ctx context.Context, now, since time.Time, stages []string, ch string) (int, error) {
	panic("sqlite: not ported: QueueFallbacks")
}

// Not yet ported (receipts.go).
func (s *Store) RecordReceipt(ctx context.Context, in repo.Receipt, now time.Time) (repo.ReceiptResult, error) {
	panic("sqlite: not ported: RecordReceipt")
}

// Not yet ported (receipts.go).
func (s *Store) ListReceipts(ctx context.Context, notificationID int64) ([]repo.Receipt, error) {
	panic("sqlite: not ported: ListReceipts")
}

// Not yet ported (provider.go).
func (s *Store) OptOutSMS(ctx context.Context, in repo.OptOutSMSInput) (bool, error) {
	panic("sqlite: not ported: OptOutSMS")
}

// Not yet ported (provider.go).
func (s *Store) OpenCircuit(ctx context.Context, c repo.Circuit) error {
	panic("sqlite: not ported: OpenCircuit")
}

// Not yet ported (provider.go).
func (s *Store) CloseCircuit(ctx context.Context, provider string, now time.Time) error {
	panic("sqlite: not ported: CloseCircuit")
}

// Not yet ported (provider.go).
func (s *Store) OpenCircuits(ctx context.Context) ([]repo.Circuit, error) {
	panic("sqlite: not ported: OpenCircuits")
}
