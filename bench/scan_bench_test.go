package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// rawScanSQL is the floor a scan is measured against: the same notices
// (due_soon by SMS and email for every installment) written by a
// hand-written INSERT … SELECT … ON CONFLICT DO NOTHING with none of the
// scan's rules (stages by local date, paid and inactive plans, suppression,
// superseded stages). %s is the table: notifications itself, with all its
// indexes and foreign keys, or leanTableSQL's copy with only the unique key.
const rawScanSQL = `
INSERT INTO %s (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
                           channel, locale, status, not_before, next_attempt_at, created_at, updated_at)
SELECT i.id || ':due_soon:' || v.ch, p.customer_id, p.id, i.id, 'due_soon', 'due_soon', -3, v.ch, c.locale,
       'pending', $1, $1, $1, $1
FROM installments i JOIN plans p ON p.id = i.plan_id JOIN customers c ON c.id = p.customer_id
CROSS JOIN (VALUES ('sms'), ('email')) v(ch)
ON CONFLICT (dedup_key) DO NOTHING`

// leanTableSQL is notifications' columns and defaults with nothing else but
// the unique dedup key: no other index, no foreign key.
const leanTableSQL = `CREATE TABLE lean_notifications (LIKE notifications INCLUDING DEFAULTS, UNIQUE (dedup_key))`

// floorTableSQL is the least a queue a dispatcher claims from in order
// needs: leanTableSQL's table with a primary key and the claim's index of
// pending notices. Its insert against the lean one (floor-vs-lean) is the
// best speed-vs-lean any claimable queue can reach, whatever else it drops.
const floorTableSQL = `CREATE TABLE floor_notifications (LIKE notifications INCLUDING DEFAULTS, UNIQUE (dedup_key), PRIMARY KEY (id));
CREATE INDEX ON floor_notifications (next_attempt_at, id) WHERE status = 'pending'`

// BenchmarkDueScan measures the due-date scan over freshly seeded
// installments that are all due in three days: every one gets a due_soon
// notice by SMS and email. Reports notices queued per second, the Go heap
// growth of the scan, which stays flat as the table grows because the work
// is one set-based statement in PostgreSQL, and the scan's speed as a share
// of rawScanSQL's on an identical fresh schema (raw-s / scan-s) into the
// same table (speed-vs-raw) and into a table with only the unique key
// (speed-vs-lean, the yardstick: the whole cost of the log's
// indexes and foreign keys is charged to the scan), and the same for
// floorTableSQL's bare claimable queue (floor-vs-lean).
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
	var elapsed, raw, lean, floorRaw time.Duration
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

		floor := repotest.New(b)
		seed(b, floor, n, repo.NewDate(2026, 11, 24), false)
		if _, err := floor.DB().ExecContext(context.Background(), leanTableSQL+";"+floorTableSQL); err != nil {
			b.Fatal(err)
		}
		raw += timeRaw(b, floor, "notifications", at, 2*n)
		lean += timeRaw(b, floor, "lean_notifications", at, 2*n)
		floorRaw += timeRaw(b, floor, "floor_notifications", at, 2*n)
	}
	b.ReportMetric(lean.Seconds()/float64(b.N), "lean-s")
	b.ReportMetric(lean.Seconds()/elapsed.Seconds(), "speed-vs-lean")
	b.ReportMetric(lean.Seconds()/floorRaw.Seconds(), "floor-vs-lean")
	b.ReportMetric(raw.Seconds()/float64(b.N), "raw-s")
	b.ReportMetric(raw.Seconds()/elapsed.Seconds(), "speed-vs-raw")
	b.ReportMetric(float64(queued)/elapsed.Seconds(), "notices/s")
	b.ReportMetric(float64(n), "installments")
	b.ReportMetric(float64(heap), "go-alloc-bytes/scan")
}

// timeRaw runs rawScanSQL into table and checks it wrote want rows.
func timeRaw(b testing.TB, r *repo.Repo, table string, at time.Time, want int) time.Duration {
	start := time.Now()
	res, err := r.DB().ExecContext(context.Background(), fmt.Sprintf(rawScanSQL, table), at)
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if k, _ := res.RowsAffected(); k != int64(want) {
		b.Fatalf("raw insert into %s wrote %d, want %d", table, k, want)
	}
	return took
}
