package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// BenchmarkQueue measures the store's part of dispatching alone: claim a
// batch, then record each notice as sent with a rendered body the size of
// a real email and its attempt row, in groups as the committers do, from
// two claimers side by side. It is the ceiling the database puts on
// BenchmarkDispatch, whose senders and loopback sinks share the machine.
func BenchmarkQueue(b *testing.B) {
	n := size(b)
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	html := strings.Repeat("<p>您的分期账单将于 2026-11-24 到期，应还 ¥500.00。</p>\n", 30)
	var done int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		seed(b, r, n, repo.NewDate(2026, 11, 24), false)
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
					claims, err := r.ClaimNotifications(context.Background(), owner, at, time.Minute, 100, 0)
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
}
