package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"duebell/repo"
)

// BenchmarkDispatch50k claims and finishes (as sent, one attempt each)
// 50,000 queued SMS notices in batches of 500, as a dispatcher draining the
// queue into the outbox provider does: the store's share of its time.
// Fixtures are SQL: a queue this size through store methods would time the
// fixtures.
func BenchmarkDispatch50k(b *testing.B) {
	const n, batch = 50000, 500
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		s, err := Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
		for _, q := range []string{
			`WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < $1)
			 INSERT INTO customers (ref, phone, created_at, updated_at)
			 SELECT 'b' || x, '+86138' || printf('%08d', x), $2, $2 FROM g`,
			`INSERT INTO plans (ref, customer_id, total, periods, created_at, updated_at)
			 SELECT 'p' || id, id, 50000, 1, $2, $2 FROM customers WHERE $1 > 0`,
			`INSERT INTO installments (plan_id, seq, due_date, amount) SELECT id, 1, '2026-11-24', 50000 FROM plans WHERE $1 > 0`,
			`INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset, channel,
			                           locale, not_before, next_attempt_at, created_at, updated_at)
			 SELECT i.id || ':due_soon:sms', p.customer_id, p.id, i.id, 'due_soon', 'due_soon', -3, 'sms', 'zh-CN', $2, $2, $2, $2
			 FROM installments i JOIN plans p ON p.id = i.plan_id WHERE $1 > 0`,
		} {
			if _, err := s.db.ExecContext(ctx, q, n, at); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start, done := time.Now(), 0
		for {
			claims, err := s.ClaimNotifications(ctx, "bench", at, 5*time.Minute, batch, 10)
			if err != nil {
				b.Fatal(err)
			}
			if len(claims) == 0 {
				break
			}
			outs := make([]repo.Outcome, len(claims))
			for i, c := range claims {
				msg := fmt.Sprintf("out-%d", c.ID)
				outs[i] = repo.Outcome{ID: c.ID, Status: repo.StatusSent, Template: "due_soon", Recipient: c.Customer.Phone,
					Body: "您的账单将于11月24日到期，应还 ¥500.00", Provider: "outbox", ProviderMsgID: msg, SentAt: &at,
					Attempt: &repo.Attempt{N: c.Attempts, Channel: "sms", Provider: "outbox", StartedAt: at, FinishedAt: at,
						Outcome: repo.OutcomeSent, ProviderMsgID: msg}}
			}
			if err := s.FinishNotifications(ctx, "bench", at, outs); err != nil {
				b.Fatal(err)
			}
			done += len(claims)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if done != n {
			b.Fatalf("dispatched %d, want %d", done, n)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "notices/s")
		s.Close()
	}
}
