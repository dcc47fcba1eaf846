package sqlite

import (
	"context"

	"duebell/repo"
)

// Not yet ported (repo/support.go).
func (s *Store) SearchNotifications(ctx context.Context, f repo.NoticeFilter, limit int, cursor string) (repo.NoticePage, error) {
	panic("sqlite: not ported: SearchNotifications")
}

// Not yet ported (repo/support.go).
func (s *Store) GetNotificationDetail(ctx context.Context, id int64) (repo.NoticeDetail, error) {
	panic("sqlite: not ported: GetNotificationDetail")
}

// Not yet ported (repo/support_bulk.go).
func (s *Store) ResendMatching(ctx context.Context, in repo.BulkResendInput) (repo.BulkResendResult, error) {
	panic("sqlite: not ported: ResendMatching")
}

// Not yet ported (repo/support_resend.go).
func (s *Store) Resend(ctx context.Context, in repo.ResendInput) (repo.ResendResult, error) {
	panic("sqlite: not ported: Resend")
}
