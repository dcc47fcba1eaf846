package bench

import (
	"context"
	"testing"
	"time"

	"duebell/notify"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// smsRate is the SMS gateway's limit in BenchmarkRateLimitedMorning: a
// provider account's limit control, far below what the dispatcher could send.
const smsRate = 200

// BenchmarkRateLimitedMorning is a morning whose every bill is reminded by
// SMS and email, with the SMS gateway limited to smsRate a second
// (sms.rate_per_second): `serve`'s dispatcher runs until every email has
// gone, on a clock that runs from the morning's 10:00. It reports the
// emails a second meanwhile, which should not fall to the SMS rate, and the
// SMS a second, which should not pass it.
func BenchmarkRateLimitedMorning(b *testing.B) {
	n := size(b) / 5
	var emails, sms int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		seed(b, r, n, repo.NewDate(2026, 11, 24), false)
		at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
		if _, err := r.QueueDueReminders(context.Background(), at, scheduler.DefaultStages()); err != nil {
			b.Fatal(err)
		}
		var start time.Time
		d := newDispatcher(b, r, func() time.Time { return at.Add(time.Since(start)) }, nil, func(c *notify.Config) {
			c.RateLimits = map[string]float64{"webhook": smsRate}
		})
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		start = time.Now()
		go func() { done <- d.Start(ctx) }()
		var counts struct{ Email, SMS int }
		for counts.Email < n {
			time.Sleep(50 * time.Millisecond)
			if err := r.DB().Get(&counts, `SELECT count(*) FILTER (WHERE channel = 'email') AS email,
				count(*) FILTER (WHERE channel = 'sms') AS sms FROM notifications WHERE status = 'sent'`); err != nil {
				b.Fatal(err)
			}
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("after 10 minutes %d of %d emails sent", counts.Email, n)
			}
		}
		elapsed += time.Since(start)
		b.StopTimer()
		stop()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		emails += counts.Email
		sms += counts.SMS
	}
	b.ReportMetric(float64(emails)/elapsed.Seconds(), "emails/s")
	b.ReportMetric(float64(sms)/elapsed.Seconds(), "sms/s")
	b.ReportMetric(smsRate, "sms-limit/s")
	b.ReportMetric(float64(n), "installments")
}
