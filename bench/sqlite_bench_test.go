package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"duebell/config"
	"duebell/notify"
	"duebell/notify/outbox"
	"duebell/repo"
	"duebell/repo/sqlite"
	"duebell/scheduler"
)

// The embedded store's figures (README: Performance): a scan of 100k
// installments and a dispatch of 50k notices to the outbox provider, the
// demo's and a small shop's setup. DUEBELL_BENCH_INSTALLMENTS sets the
// scan's size; the dispatch uses a quarter as many installments (two
// notices each: SMS and email), 50k notices by default.

// BenchmarkSQLiteScan is BenchmarkDueScan on an SQLite file.
func BenchmarkSQLiteScan(b *testing.B) {
	n := size(b)
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	var queued int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openSQLite(b)
		seedSQLite(b, s, n, repo.NewDate(2026, 11, 24))
		b.StartTimer()
		start := time.Now()
		res, err := s.QueueDueReminders(context.Background(), at, scheduler.DefaultStages())
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.Total() != 2*n {
			b.Fatalf("queued %d, want %d", res.Total(), 2*n)
		}
		queued += res.Total()
		start = time.Now()
		again, err := s.QueueDueReminders(context.Background(), at.Add(time.Minute), scheduler.DefaultStages())
		if err != nil || again.Total() != 0 {
			b.Fatalf("re-scan queued %d, %v", again.Total(), err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "rescan-s")
	}
	b.ReportMetric(float64(queued)/elapsed.Seconds(), "notices/s")
	b.ReportMetric(float64(n), "installments")
}

// BenchmarkSQLiteDispatch dispatches the due_soon notices of size/4
// installments, by SMS and by email, to the outbox provider (SMS lines in
// sms.jsonl, one .eml file per email), every attempt logged in the file.
func BenchmarkSQLiteDispatch(b *testing.B) {
	n := size(b) / 4
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	var sent int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := queuedSQLite(b, n, at)
		box, err := outbox.New(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		signer, tpl := linksAndTemplates(b)
		d, err := notify.New(notify.Config{Store: s, Templates: tpl, Links: signer,
			Senders: map[string]notify.Sender{"sms": box.SMS(), "email": box.Email("billing@example.com", "Bench Shop")},
			Owner:   "bench", Now: func() time.Time { return at }, Logger: slog.New(slog.DiscardHandler), Workers: benchWorkers,
			SMSPerCustomerPerDay: config.DefaultMaxSMSPerCustomerPerDay})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		counts, err := d.RunOnce(context.Background())
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if counts["sent"] != 2*n {
			b.Fatalf("sent %v, want %d", counts, 2*n)
		}
		var attempts int
		if err := s.DB().Get(&attempts, `SELECT count(*) FROM delivery_attempts WHERE outcome = 'sent'`); err != nil || attempts != 2*n {
			b.Fatalf("attempt rows %d, %v", attempts, err)
		}
		sent += counts["sent"]
	}
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "notices/s")
	b.ReportMetric(float64(2*n), "notices")
}

// queuedSQLite is an SQLite file seeded with n installments due on Nov 24
// and scanned at at: each has its due_soon notice by SMS and by email.
func queuedSQLite(b *testing.B, n int, at time.Time) *sqlite.Store {
	s := openSQLite(b)
	seedSQLite(b, s, n, repo.NewDate(2026, 11, 24))
	if _, err := s.QueueDueReminders(context.Background(), at, scheduler.DefaultStages()); err != nil {
		b.Fatal(err)
	}
	return s
}

func openSQLite(b *testing.B) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s
}

// seedSQLite is seed for an SQLite file: n installments, five per customer
// and plan, all due on due.
func seedSQLite(tb testing.TB, s *sqlite.Store, n int, due repo.Date) {
	tb.Helper()
	customers := (n + 4) / 5
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range []string{
		fmt.Sprintf(`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d)
			INSERT INTO customers (ref, name, phone, email, locale, timezone, created_at, updated_at)
			SELECT 'c' || i, 'Borrower ' || i, '+86138' || printf('%%08d', i), 'b' || i || '@example.net',
			       CASE WHEN i %% 2 = 0 THEN 'zh-CN' ELSE 'en' END, 'Asia/Shanghai', $1, $1 FROM g`, customers),
		`INSERT INTO plans (ref, customer_id, merchant, title, total, periods, repay_method, created_at, updated_at)
			SELECT 'p' || id, id, 'Bench Shop', 'Phone 12-month plan', 250000, 5, 'manual', $1, $1 FROM customers`,
		fmt.Sprintf(`WITH s(k) AS (VALUES (1), (2), (3), (4), (5))
			INSERT INTO installments (plan_id, seq, due_date, amount)
			SELECT p.id, s.k, '%s', 50000 FROM plans p CROSS JOIN s WHERE $1 IS NOT NULL ORDER BY p.id, s.k LIMIT %d`, due, n),
		`ANALYZE`,
	} {
		var args []any
		if q != `ANALYZE` {
			args = []any{now}
		}
		if _, err := s.DB().ExecContext(context.Background(), q, args...); err != nil {
			tb.Fatalf("seed: %v", err)
		}
	}
}
