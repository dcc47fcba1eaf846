package sqlite

import (
	"context"
	"time"

	"duebell/repo"
)

// Not yet ported (repo/dispatch.go).
func (s *Store) RescueExpired(ctx context.Context, now time.Time) (int, error) {
	panic("sqlite: not ported: RescueExpired")
}

// Not yet ported (repo/dispatch.go).
func (s *Store) ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) (int, error) {
	panic("sqlite: not ported: ExtendLeases")
}

// Not yet ported (repo/dispatch.go).
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now time.Time, lease time.Duration, limit, smsCap int) ([]repo.Claim, error) {
	panic("sqlite: not ported: ClaimNotifications")
}

// Not yet ported (repo/dispatch.go).
func (s *Store) FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error {
	panic("sqlite: not ported: FinishNotifications")
}

// Not yet ported (repo/dispatch.go).
func (s *Store) GetNotification(ctx context.Context, id int64) (repo.Notification, error) {
	panic("sqlite: not ported: GetNotification")
}

// Not yet ported (repo/dispatch.go).
func (s *Store) ListAttempts(ctx context.Context, notificationID int64) ([]repo.Attempt, error) {
	panic("sqlite: not ported: ListAttempts")
}

// Not yet ported (repo/dispatch.go).
func (s *Store) QueueDepth(ctx context.Context) ([]repo.StatusCount, error) {
	panic("sqlite: not ported: QueueDepth")
}

// Not yet ported (repo/dispatch.go).
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	panic("sqlite: not ported: NextDue")
}

// Not yet ported (repo/collection.go).
func (s *Store) CollectionCounts(ctx context.Context, owner string, now, since time.Time, kinds []string) (map[int64]repo.CollectionCount, error) {
	panic("sqlite: not ported: CollectionCounts")
}

// Not yet ported (repo/collection.go).
func (s *Store) CollectionSent(ctx context.Context, customerID int64, since time.Time, kinds []string) ([]time.Time, error) {
	panic("sqlite: not ported: CollectionSent")
}

// Not yet ported (repo/digest.go).
func (s *Store) DigestItems(ctx context.Context, leader int64) ([]repo.DigestItem, error) {
	panic("sqlite: not ported: DigestItems")
}

// Not yet ported (repo/oldest.go).
func (s *Store) OldestDue(ctx context.Context, now time.Time, channels []string) ([]repo.ChannelAge, error) {
	panic("sqlite: not ported: OldestDue")
}
