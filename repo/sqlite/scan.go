package sqlite

import (
	"context"
	"time"

	"duebell/repo"
)

// Not yet ported (repo/scan.go).
func (s *Store) QueueDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error) {
	panic("sqlite: not ported: QueueDueReminders")
}

// Not yet ported (repo/scan.go).
func (s *Store) PreviewDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error) {
	panic("sqlite: not ported: PreviewDueReminders")
}

// Not yet ported (repo/events.go).
func (s *Store) RecordEvent(ctx context.Context, in repo.EventInput) (repo.Event, bool, error) {
	panic("sqlite: not ported: RecordEvent")
}

// Not yet ported (repo/events.go).
func (s *Store) GetEvent(ctx context.Context, ref string) (repo.Event, error) {
	panic("sqlite: not ported: GetEvent")
}

// Not yet ported (repo/events_scan.go).
func (s *Store) ProcessChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (repo.EventScanResult, error) {
	panic("sqlite: not ported: ProcessChannelEvents")
}

// Not yet ported (repo/events_scan.go).
func (s *Store) PreviewChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (repo.EventScanResult, error) {
	panic("sqlite: not ported: PreviewChannelEvents")
}

// Not yet ported (repo/retention.go).
func (s *Store) PurgeFinished(ctx context.Context, before time.Time, batch int) (repo.Purged, error) {
	panic("sqlite: not ported: PurgeFinished")
}
