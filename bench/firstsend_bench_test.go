package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// firstSendNotices is how many SMS reminders wait for the window in
// BenchmarkFirstSend.
const firstSendNotices = 1000

// BenchmarkFirstSend measures how late the first reminder of a morning goes
// out: firstSendNotices SMS due_soon notices, queued at 08:59 local, wait
// for the 09:00 opening of the send window in front of a running daemon
// dispatcher (its poll interval the default 5 s). The dispatcher's clock
// runs at wall-clock speed and reaches 09:00 half a second after it starts,
// so first-send-ms is the time from the opening to the loopback gateway
// seeing the first request, and all-sent-ms to it seeing the last (the
// burst's drain). The target is a first send within 1 s.
func BenchmarkFirstSend(b *testing.B) {
	opening := time.Date(2026, 11, 21, 9, 0, 0, 0, shanghai)
	var first, all time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		seed(b, r, firstSendNotices, repo.NewDate(2026, 11, 24), false)
		if _, err := r.QueueDueReminders(context.Background(), opening.Add(-time.Minute), stagesOn("sms")); err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		var seen []time.Time
		done := make(chan struct{})
		var start time.Time
		d := newDispatcher(b, r, func() time.Time { return opening.Add(time.Since(start) - 500*time.Millisecond) }, func() {
			mu.Lock()
			defer mu.Unlock()
			if seen = append(seen, time.Now()); len(seen) == firstSendNotices {
				close(done)
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		b.StartTimer()
		start = time.Now()
		go func() { defer close(stopped); d.Start(ctx) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			b.Fatalf("%d of %d reminders sent a minute after the window opened", len(seen), firstSendNotices)
		}
		b.StopTimer()
		cancel()
		<-stopped
		opened := start.Add(500 * time.Millisecond)
		mu.Lock()
		if seen[0].Before(opened) {
			b.Fatalf("a reminder went out %v before the window opened", opened.Sub(seen[0]))
		}
		first = max(first, seen[0].Sub(opened))
		all = max(all, seen[len(seen)-1].Sub(opened))
		mu.Unlock()
	}
	b.ReportMetric(float64(first.Milliseconds()), "first-send-ms")
	b.ReportMetric(float64(all.Milliseconds()), "all-sent-ms")
	b.ReportMetric(firstSendNotices, "notices")
}
