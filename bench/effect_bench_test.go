package bench

import (
	"context"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// BenchmarkEffectReport measures `duebell report effect` over a log where
// every seeded installment got a due_soon SMS and email, sent, and half of
// them were paid within two days; customers with an odd id (the English
// ones) opted out of SMS, so the scan suppressed their SMS (they still got
// the email: no baseline). Three rows: SMS in zh-CN, email in zh-CN and en.
// One set-based statement: the time grows with the notices
// of the period, the Go heap with the rows of the report only.
func BenchmarkEffectReport(b *testing.B) {
	n := size(b)
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	ctx := context.Background()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		seed(b, r, n, repo.NewDate(2026, 11, 24), false)
		for _, s := range []string{
			`UPDATE customers SET sms_opt_out = true WHERE id % 2 = 1`,
		} {
			if _, err := r.DB().ExecContext(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := r.QueueDueReminders(ctx, at, scheduler.DefaultStages()); err != nil {
			b.Fatal(err)
		}
		for _, s := range []string{
			`UPDATE notifications SET status = 'sent', sent_at = next_attempt_at, attempts = 1,
				template = kind || '.' || channel || '.' || locale WHERE status = 'pending'`,
			`UPDATE installments SET paid = amount, status = 'paid', paid_at = '2026-11-22T12:00:00+08:00' WHERE id % 2 = 0`,
			`ANALYZE`,
		} {
			if _, err := r.DB().ExecContext(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		rows, err := r.EffectReport(ctx, scheduler.ReminderKinds(), at.AddDate(0, 0, -30), at.Add(time.Hour), at.AddDate(0, 0, 10))
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil || len(rows) != 3 {
			b.Fatalf("report: %d rows, %v", len(rows), err)
		}
		var sent int64
		for _, row := range rows {
			sent += row.Sent
		}
		if want := int64(n + n/2); sent < want-2 || sent > want+2 {
			b.Fatalf("report counts %d sent, want about %d", sent, want)
		}
	}
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/report")
	b.ReportMetric(float64(n+n/2)*float64(b.N)/elapsed.Seconds(), "notices/s")
}
