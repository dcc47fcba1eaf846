package bench

import (
	"context"
	"runtime"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// BenchmarkDueScan measures the due-date scan over freshly seeded
// installments that are all due in three days: every one gets a due_soon
// notice by SMS and email. Reports notices queued per second and the Go
// heap growth of the scan, which stays flat as the table grows because the
// work is one set-based statement in PostgreSQL.
func BenchmarkDueScan(b *testing.B) { benchDueScan(b, scheduler.DefaultStages()) }

// BenchmarkDueScanDigest is BenchmarkDueScan with digests on (the
// production default): every customer's five bills due together become one
// notice per channel, so the scan also groups and locks every notice.
func BenchmarkDueScanDigest(b *testing.B) {
	stages := scheduler.DefaultStages()
	for i := range stages {
		stages[i].DigestChannels = stages[i].Channels
	}
	benchDueScan(b, stages)
}

func benchDueScan(b *testing.B, stages []repo.Stage) {
	n := size(b)
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	var queued int
	var elapsed time.Duration
	var heap uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		seed(b, r, n, repo.NewDate(2026, 11, 24), false)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start := time.Now()
		res, err := r.QueueDueReminders(context.Background(), at, stages)
		elapsed += time.Since(start)
		b.StopTimer()
		runtime.ReadMemStats(&after)
		heap = max(heap, after.TotalAlloc-before.TotalAlloc)
		if err != nil {
			b.Fatal(err)
		}
		if res.Total() != 2*n {
			b.Fatalf("queued %d, want %d", res.Total(), 2*n)
		}
		queued += res.Total()
		// A re-scan finds everything queued and creates nothing.
		start = time.Now()
		again, err := r.QueueDueReminders(context.Background(), at.Add(time.Minute), stages)
		if err != nil || again.Total() != 0 {
			b.Fatalf("re-scan queued %d, %v", again.Total(), err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "rescan-s")
	}
	b.ReportMetric(float64(queued)/elapsed.Seconds(), "notices/s")
	b.ReportMetric(float64(n), "installments")
	b.ReportMetric(float64(heap), "go-alloc-bytes/scan")
}
