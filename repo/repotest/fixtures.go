package repotest

import (
	"context"
	"testing"

	"duebell/repo"
	"duebell/repo/storetest"
)

// Borrowers stores n borrowers b1…bn (zh-CN, Shanghai, phone and email),
// each with one active plan pb1…pbn of one installment of 500.00 due on due,
// in three set-based statements: for tests that need a queue of thousands.
func Borrowers(t testing.TB, r *repo.Repo, n int, due repo.Date) {
	t.Helper()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO customers (ref, name, phone, email, locale, timezone, created_at, updated_at)
			SELECT 'b' || g, '张三', '+86138' || lpad(g::text, 8, '0'), 'b' || g || '@example.net',
			       'zh-CN', 'Asia/Shanghai', $2, $2
			FROM generate_series(1, $1::int) g`, []any{n, storetest.Now}},
		{`INSERT INTO plans (ref, customer_id, merchant, title, currency, total, periods, status, repay_method, created_at, updated_at)
			SELECT 'p' || c.ref, c.id, '优品手机', 'iPhone 17 12期', 'CNY', 50000, 1, 'active', 'manual', $1, $1
			FROM customers c WHERE c.ref ~ '^b[0-9]+$'`, []any{storetest.Now}},
		{`INSERT INTO installments (plan_id, seq, due_date, amount)
			SELECT p.id, 1, $1::date, 50000 FROM plans p WHERE p.ref ~ '^pb[0-9]+$'`, []any{due.String()}},
	} {
		if _, err := r.DB().ExecContext(context.Background(), q.sql, q.args...); err != nil {
			t.Fatalf("fixture borrowers: %v", err)
		}
	}
}
