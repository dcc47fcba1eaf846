package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/config"
	"duebell/notify"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// logRows is how many finished notices (with their attempt rows)
// BenchmarkQueue puts in the log before it starts (DUEBELL_BENCH_LOG,
// default 0): the same run with 0 and with millions shows whether the
// per-notice work stays flat as the log grows.
func logRows(tb testing.TB) int {
	v := os.Getenv("DUEBELL_BENCH_LOG")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		tb.Fatalf("DUEBELL_BENCH_LOG=%q", v)
	}
	return n
}

// BenchmarkQueue measures the store's part of dispatching alone: claim a
// batch of the dispatcher's default size, then record each notice as sent
// with a rendered body the size of a real email and its attempt row, in
// groups as the committers do, from two claimers side by side, with the
// daemon's default per-customer SMS cap (whose counts read each claimed
// customer's log). It is the ceiling the database puts on
// BenchmarkDispatch, whose senders and loopback sinks share the machine.
func BenchmarkQueue(b *testing.B) {
	n, old := size(b), logRows(b)
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	html := strings.Repeat("<p>您的分期账单将于 2026-11-24 到期，应还 ¥500.00。</p>\n", 30)
	var done int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		seed(b, r, n, repo.NewDate(2026, 11, 24), false)
		if old > 0 {
			fillLog(b, r, old, html)
		}
		if _, err := r.QueueDueReminders(context.Background(), at, scheduler.DefaultStages()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for w := range 2 {
			wg.Go(func() {
				owner := fmt.Sprintf("bench-%d", w)
				for {
					claims, err := r.ClaimNotifications(context.Background(), owner, at, at, time.Minute, notify.DefaultBatch,
						config.DefaultMaxSMSPerCustomerPerDay)
					if err != nil {
						b.Error(err)
						return
					}
					if len(claims) == 0 {
						return
					}
					outs := make([]repo.Outcome, len(claims))
					for k, c := range claims {
						sent := at
						outs[k] = repo.Outcome{ID: c.ID, Status: repo.StatusSent, Template: c.Kind,
							Recipient: c.Customer.Email, Subject: "分期账单提醒", Body: html[:600], BodyHTML: html,
							Link: "https://pay.example.com/r/abc", Provider: "smtp", ProviderMsgID: fmt.Sprintf("<%d@x>", c.ID),
							SentAt: &sent, Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: "smtp",
								StartedAt: at, FinishedAt: at, Outcome: repo.OutcomeSent}}
					}
					if err := r.FinishNotifications(context.Background(), owner, at, outs); err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					done += len(outs)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
		b.StopTimer()
	}
	b.ReportMetric(float64(done)/elapsed.Seconds(), "notices/s")
	b.ReportMetric(float64(old), "log-rows")
}

// fillLog writes rows finished notices of past months, spread over the
// seeded customers, each with its attempt row and a stored body, the way a
// year of sending leaves the log.
func fillLog(tb testing.TB, r *repo.Repo, rows int, html string) {
	tb.Helper()
	ctx := context.Background()
	for i, q := range []string{`
		INSERT INTO notifications (dedup_key, customer_id, kind, stage, channel, locale, template, recipient,
		                           subject, body, body_html, status, attempts, not_before, next_attempt_at,
		                           provider, provider_msg_id, created_at, updated_at, sent_at)
		SELECT 'log:' || g, 1 + g % c.n, 'due_soon', 'due_soon', CASE WHEN g % 2 = 0 THEN 'sms' ELSE 'email' END,
		       'zh-CN', 'due_soon', 'b' || g || '@example.net', '分期账单提醒', left($1, 300), $1, 'sent', 1, t, t,
		       'smtp', '<log' || g || '@x>', t, t, t
		FROM generate_series(1, $2::int) g, (SELECT count(*) AS n FROM customers) c,
		     LATERAL (SELECT timestamptz '2026-10-01' - (g % 300) * interval '1 day' AS t) ts`, `
		ANALYZE notifications`, ` -- before the attempts: their foreign key checks are planned on its statistics
		INSERT INTO delivery_attempts (notification_id, n, channel, provider, started_at, finished_at, outcome, provider_msg_id)
		SELECT id, 1, channel, provider, sent_at, sent_at, 'sent', provider_msg_id FROM notifications`,
		`ANALYZE`} {
		var args []any
		if i == 0 {
			args = []any{html, rows}
		}
		if _, err := r.DB().ExecContext(ctx, q, args...); err != nil {
			tb.Fatalf("fill log: %v", err)
		}
	}
}
