package repo_test

import (
	"context"
	"testing"

	"duebell/repo/repotest"
)

// An import's own ANALYZE runs inside a chunk's transaction, blind to
// another worker's chunk not yet committed: a run killed then left plans
// recorded empty, and the re-run looked each payment's bill up by scanning
// them (an audit: over 10 minutes instead of 4 s). The next import
// refreshes such statistics before it begins.
func TestImportRefreshesStatisticsLeftEmptyByAKilledRun(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	r.DB().MustExecContext(ctx, `INSERT INTO customers (ref, name, phone, email, locale, timezone)
		VALUES ('c1', 'Borrower', '+8613800000001', 'b@example.net', 'en', 'Asia/Shanghai')`)
	// The other worker's chunk, not committed when this one analyzes.
	other, err := r.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	other.MustExecContext(ctx, `INSERT INTO plans (ref, customer_id, merchant, title, total, periods, repay_method)
		SELECT 'p' || g, (SELECT id FROM customers), 'Shop', 'Phone', 50000, 1, 'manual' FROM generate_series(1, 3000) g`)
	r.DB().MustExecContext(ctx, `ANALYZE plans`)
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	waitCounted(t, r, `SELECT n_mod_since_analyze >= 3000 FROM pg_stat_user_tables
		WHERE relname = 'plans' AND schemaname = current_schema()`)
	reltuples := func() float64 {
		var n float64
		if err := r.DB().GetContext(ctx, &n, `SELECT reltuples FROM pg_class WHERE oid = 'plans'::regclass`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := reltuples(); n > 0 {
		t.Fatalf("fixture: plans recorded with %v rows, want the empty statistics a killed run leaves", n)
	}
	if err := r.RefreshImportStats(ctx); err != nil {
		t.Fatal(err)
	}
	if n := reltuples(); n < 3000 {
		t.Errorf("plans recorded with %v rows after the import began, want 3000", n)
	}
}
