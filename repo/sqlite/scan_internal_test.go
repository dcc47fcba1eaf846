package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"duebell/repo"
)

// TestScanDueAtScale checks that the due-date scan stays set-based on
// SQLite: 20,000 bills, then a later stage superseding every notice.
func TestScanDueAtScale(t *testing.T) {
	if os.Getenv("SCAN_SCALE") == "" {
		t.Skip("set SCAN_SCALE=1 to time the scan at scale (SCAN_DIGEST=1: with digests)")
	}
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const n = 20000
	if _, err := s.db.Exec(`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $1)
		INSERT INTO customers (ref, phone, email, created_at, updated_at) SELECT 'c' || i, '+861380000' || i, 'c' || i || '@x', $2, $2 FROM k`, n, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO plans (ref, customer_id, total, periods, created_at, updated_at, currency)
		SELECT 'p' || id, id, 100, 1, $1, $1, CASE WHEN id % 2 = 0 THEN 'CNY' ELSE 'USD' END FROM customers`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO installments (plan_id, seq, due_date, amount) SELECT id, 1, '2026-11-24', 100 FROM plans`); err != nil {
		t.Fatal(err)
	}
	var digest []string
	if os.Getenv("SCAN_DIGEST") != "" {
		digest = []string{"sms"}
	}
	stages := []repo.Stage{
		{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms", "email"}, DigestChannels: digest},
		{Name: "due_today", OffsetDays: 0, Kind: "due_today", Channels: []string{"sms", "email"}, DigestChannels: digest},
	}
	for _, at := range []time.Time{time.Date(2026, 11, 21, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)} {
		start := time.Now()
		res, err := s.QueueDueReminders(ctx, at, stages)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("scan at %v: %d queued, %d skipped in %v", at, res.Total(), res.Skipped, time.Since(start))
		if res.Total() != 2*n {
			t.Fatalf("queued %d, want %d", res.Total(), 2*n)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("scan took %v", d)
		}
	}
}
