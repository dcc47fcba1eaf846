package repo_test

import (
	"context"
	"testing"
	"time"

	"duebell/repo/repotest"
	"duebell/scheduler"
)

// A book pushed into a fresh database and never analyzed (autovacuum off,
// or not yet round) gets its planner statistics from the first scan before
// the scan is planned: without them the scan looked up every plan's bills
// through a bitmap of all the bills due, 10× slower at 100k and growing with
// the square of the book. A scan over statistics that are still good does
// not analyze again.
func TestScanAnalyzesABookNeverAnalyzed(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO customers (ref, name, phone, locale, timezone)
			SELECT 'c' || g, 'Borrower ' || g, '+86138' || lpad(g::text, 8, '0'), 'en', 'Asia/Shanghai'
			FROM generate_series(1, 400) g`,
		`INSERT INTO plans (ref, customer_id, merchant, title, total, periods, repay_method)
			SELECT 'p' || id, id, 'Shop', 'Phone', 250000, 5, 'manual' FROM customers`,
		`INSERT INTO installments (plan_id, seq, due_date, amount)
			SELECT p.id, s, '2026-11-24'::date, 50000 FROM plans p CROSS JOIN generate_series(1, 5) s`,
	} {
		r.DB().MustExecContext(ctx, q)
	}
	analyzed := func() (at map[string]*time.Time) {
		t.Helper()
		var rows []struct {
			Table string     `db:"relname"`
			At    *time.Time `db:"last_analyze"`
			Mod   int64      `db:"n_mod_since_analyze"`
		}
		if err := r.DB().SelectContext(ctx, &rows, `SELECT relname, last_analyze, n_mod_since_analyze
			FROM pg_stat_user_tables WHERE relname IN ('customers', 'plans', 'installments') AND schemaname = current_schema()`); err != nil {
			t.Fatal(err)
		}
		at = map[string]*time.Time{}
		for _, row := range rows {
			at[row.Table] = row.At
		}
		return at
	}
	// PostgreSQL counts the inserts a moment after they commit.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var counted int64
		if err := r.DB().GetContext(ctx, &counted, `SELECT n_mod_since_analyze FROM pg_stat_user_tables
			WHERE relname = 'installments' AND schemaname = current_schema()`); err != nil {
			t.Fatal(err)
		}
		if counted == 2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL counted %d inserted installments, want 2000", counted)
		}
	}
	for table, at := range analyzed() {
		if at != nil {
			t.Fatalf("%s analyzed before the scan", table)
		}
	}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	res, err := r.QueueDueReminders(ctx, at, scheduler.DefaultStages())
	if err != nil || res.Total() != 4000 {
		t.Fatalf("scan: %d notices, %v; want 4000", res.Total(), err)
	}
	first := analyzed()
	for _, table := range []string{"customers", "plans", "installments"} {
		if first[table] == nil {
			t.Errorf("%s: no statistics after the scan", table)
		}
	}
	if _, err := r.QueueDueReminders(ctx, at.Add(time.Minute), scheduler.DefaultStages()); err != nil {
		t.Fatal(err)
	}
	for table, again := range analyzed() {
		if again == nil || first[table] == nil || !again.Equal(*first[table]) {
			t.Errorf("%s analyzed again by a scan over statistics still good: %v then %v", table, first[table], again)
		}
	}
	var planned int
	if err := r.DB().GetContext(ctx, &planned, `SELECT count(*) FROM pg_stats
		WHERE tablename = 'installments' AND attname = 'due_date' AND schemaname = current_schema()`); err != nil || planned != 1 {
		t.Errorf("the planner's statistics of installments.due_date: %d rows, %v", planned, err)
	}
}
