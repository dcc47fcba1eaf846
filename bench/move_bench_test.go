package bench

import (
	"context"
	"testing"
	"time"

	"duebell/repo/move"
	"duebell/repo/repotest"
)

// BenchmarkMove moves an SQLite store into PostgreSQL (duebell move): the
// size installments seeded on the file and a morning's scan queued, two
// notices each, copied into a fresh schema. Reports the seconds a move
// takes and the rows a second it copies.
func BenchmarkMove(b *testing.B) {
	n := size(b)
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	var rows int64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := queuedSQLite(b, n, at)
		r := repotest.New(b)
		b.StartTimer()
		start := time.Now()
		tables, err := move.Copy(context.Background(), s.DB(), r, s.Schema(), nil)
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range tables {
			rows += t.Rows
		}
		var notices int
		if err := r.DB().Get(&notices, `SELECT count(*) FROM notifications`); err != nil || notices != 2*n {
			b.Fatalf("%d notices moved, %v; want %d", notices, err, 2*n)
		}
	}
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "move-s")
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(n), "installments")
}
