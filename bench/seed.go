// Package bench holds duebell's throughput benchmarks over a seeded
// database. Run them with `make bench`; they are not part of `make test`.
package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"duebell/repo"
	"duebell/scheduler"
)

// size is how many installments the benchmarks seed
// (DUEBELL_BENCH_INSTALLMENTS, default 100,000).
func size(tb testing.TB) int {
	if v := os.Getenv("DUEBELL_BENCH_INSTALLMENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			tb.Fatalf("DUEBELL_BENCH_INSTALLMENTS=%q", v)
		}
		return n
	}
	return 100_000
}

// seed writes n installments, five per customer and plan, all due on due,
// with set-based SQL (the fixture itself must not be the bottleneck).
func seed(tb testing.TB, r *repo.Repo, n int, due repo.Date, smtpless bool) {
	tb.Helper()
	customers := (n + 4) / 5
	ctx := context.Background()
	stmts := []string{
		fmt.Sprintf(`INSERT INTO customers (ref, name, phone, email, locale, timezone)
			SELECT 'c' || g, 'Borrower ' || g, '+86138' || lpad(g::text, 8, '0'), 'b' || g || '@example.net',
			       CASE WHEN g %% 2 = 0 THEN 'zh-CN' ELSE 'en' END, 'Asia/Shanghai'
			FROM generate_series(1, %d) g`, customers),
		`INSERT INTO plans (ref, customer_id, merchant, title, total, periods, repay_method)
			SELECT 'p' || id, id, 'Bench Shop', 'Phone 12-month plan', 250000, 5, 'manual' FROM customers`,
		fmt.Sprintf(`INSERT INTO installments (plan_id, seq, due_date, amount)
			SELECT p.id, s, '%s'::date, 50000 FROM plans p CROSS JOIN generate_series(1, 5) s
			LIMIT %d`, due, n),
		`ANALYZE`,
	}
	if smtpless {
		stmts = append(stmts[:3], `UPDATE customers SET email = ''`, `ANALYZE`)
	}
	for _, s := range stmts {
		if _, err := r.DB().ExecContext(ctx, s); err != nil {
			tb.Fatalf("seed: %v", err)
		}
	}
}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// stagesOn is the default stages, each on channel alone.
func stagesOn(channel string) []repo.Stage {
	var stages []repo.Stage
	for _, s := range scheduler.DefaultStages() {
		s.Channels = []string{channel}
		stages = append(stages, s)
	}
	return stages
}
