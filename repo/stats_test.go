package repo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// A book pushed into a fresh database and never analyzed (autovacuum off,
// or not yet round) gets its planner statistics from the first scan that
// joins it, before that scan is planned: without them the due-date scan
// looked up every plan's bills through a bitmap of all the bills due (10×
// slower at 100k installments, growing with the square of the book) and a
// service_closed fan-out ran over 90 s instead of 4 s at 100k customers. A
// scan over statistics that are still good does not analyze again.
func TestScansAnalyzeABookNeverAnalyzed(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		want int // notices queued: 400 customers × 5 bills, or × 1 event, × SMS and email
		scan func(ctx context.Context, r *repo.Repo, at time.Time) (int, error)
	}{
		{"due-date scan", 4000, func(ctx context.Context, r *repo.Repo, at time.Time) (int, error) {
			res, err := r.QueueDueReminders(ctx, at, scheduler.DefaultStages())
			return res.Total(), err
		}},
		{"scope-all event", 800, func(ctx context.Context, r *repo.Repo, at time.Time) (int, error) {
			if _, _, err := r.RecordEvent(ctx, repo.EventInput{Ref: "closed-" + at.Format("1504"), Kind: repo.EventServiceClosed,
				Scope: repo.ScopeAll, OccurredAt: at, Payload: repo.JSONObject(`{}`), Now: at}); err != nil {
				return 0, err
			}
			res, err := r.ProcessChannelEvents(ctx, at, 0, scheduler.DefaultEventChannels)
			return res.Total(), err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := repotest.New(t)
			ctx := context.Background()
			seedBook(t, r, 400, 5)
			analyzed := func() map[string]*time.Time {
				t.Helper()
				var rows []struct {
					Table string     `db:"relname"`
					At    *time.Time `db:"last_analyze"`
				}
				if err := r.DB().SelectContext(ctx, &rows, `SELECT relname, last_analyze FROM pg_stat_user_tables
					WHERE relname IN ('customers', 'plans', 'installments') AND schemaname = current_schema()`); err != nil {
					t.Fatal(err)
				}
				at := map[string]*time.Time{}
				for _, row := range rows {
					at[row.Table] = row.At
				}
				return at
			}
			waitCounted(t, r, `SELECT count(*) = 3 AND bool_and(n_mod_since_analyze > 0) FROM pg_stat_user_tables
				WHERE relname IN ('customers', 'plans', 'installments') AND schemaname = current_schema()`)
			for table, at := range analyzed() {
				if at != nil {
					t.Fatalf("%s analyzed before the scan", table)
				}
			}
			if n, err := tc.scan(ctx, r, at); err != nil || n != tc.want {
				t.Fatalf("scan: %d notices, %v; want %d", n, err, tc.want)
			}
			first := analyzed()
			for _, table := range []string{"customers", "plans", "installments"} {
				if first[table] == nil {
					t.Errorf("%s: no statistics after the scan", table)
				}
			}
			if _, err := tc.scan(ctx, r, at.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			for table, again := range analyzed() {
				if again == nil || first[table] == nil || !again.Equal(*first[table]) {
					t.Errorf("%s analyzed again by a scan over statistics still good: %v then %v", table, first[table], again)
				}
			}
		})
	}
}

// A scan that queues thousands of notices refreshes the statistics the
// next statements are planned with (the claim reads status and
// next_attempt_at): planned from the log's earlier statistics, with no
// pending notice in them, the claim sorted the whole queue. The planner
// must know the queue is there.
func TestBulkScanRefreshesTheQueueStatistics(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	seedBook(t, r, 3000, 1)
	r.DB().MustExecContext(ctx, `ANALYZE notifications`) // empty: the statistics of a log with no queue
	res, err := r.QueueDueReminders(ctx, time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), scheduler.DefaultStages())
	if err != nil || res.Total() != 6000 {
		t.Fatalf("scan: %d notices, %v; want 6000", res.Total(), err)
	}
	var stats struct {
		Tuples  float64 `db:"reltuples"`
		Pending bool    `db:"pending"`
		Due     bool    `db:"due"`
	}
	if err := r.DB().GetContext(ctx, &stats, `SELECT
		(SELECT reltuples FROM pg_class WHERE oid = 'notifications'::regclass) AS reltuples,
		coalesce((SELECT 'pending' = ANY (most_common_vals::text::text[]) FROM pg_stats
			WHERE schemaname = current_schema() AND tablename = 'notifications' AND attname = 'status'), false) AS pending,
		EXISTS (SELECT FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'notifications'
			AND attname = 'next_attempt_at') AS due`); err != nil {
		t.Fatal(err)
	}
	if stats.Tuples < 6000 || !stats.Pending || !stats.Due {
		t.Errorf("after queueing 6000 notices the planner sees %.0f rows, pending among status's common values: %v, "+
			"next_attempt_at's statistics: %v", stats.Tuples, stats.Pending, stats.Due)
	}
}

// seedBook writes customers borrowers in Shanghai, each with one manual
// plan of periods bills of ¥500.00 due 2026-11-24, in three statements.
func seedBook(t *testing.T, r *repo.Repo, customers, periods int) {
	t.Helper()
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO customers (ref, name, phone, email, locale, timezone)
			SELECT 'c' || g, 'Borrower ' || g, '+86138' || lpad(g::text, 8, '0'), 'b' || g || '@example.net',
			       'en', 'Asia/Shanghai'
			FROM generate_series(1, %d) g`, customers),
		fmt.Sprintf(`INSERT INTO plans (ref, customer_id, merchant, title, total, periods, repay_method)
			SELECT 'p' || id, id, 'Shop', 'Phone', %d, %d, 'manual' FROM customers`, 50000*periods, periods),
		fmt.Sprintf(`INSERT INTO installments (plan_id, seq, due_date, amount)
			SELECT p.id, s, '2026-11-24'::date, 50000 FROM plans p CROSS JOIN generate_series(1, %d) s`, periods),
	} {
		r.DB().MustExecContext(context.Background(), q)
	}
}

// waitCounted waits until query, over pg_stat_user_tables, is true:
// PostgreSQL counts the inserts a moment after they commit.
func waitCounted(t *testing.T, r *repo.Repo, query string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var counted bool
		if err := r.DB().GetContext(context.Background(), &counted, query); err != nil {
			t.Fatal(err)
		}
		if counted {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("PostgreSQL has not counted the inserts after 10 s")
		}
	}
}
