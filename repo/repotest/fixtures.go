package repotest

import (
	"context"
	"testing"
	"time"

	"duebell/repo"
)

// FixtureNow is when fixtures are written.
var FixtureNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Customer stores a borrower with a phone and an email, in Shanghai, zh-CN;
// edit changes it before it is stored.
func Customer(t testing.TB, r *repo.Repo, ref string, edit ...func(*repo.Customer)) repo.Customer {
	t.Helper()
	c := repo.Customer{Ref: ref, Name: "张三", Phone: "+8613812345678", Email: ref + "@example.net",
		Locale: "zh-CN", Timezone: "Asia/Shanghai"}
	for _, e := range edit {
		e(&c)
	}
	out, err := r.UpsertCustomer(context.Background(), c, FixtureNow)
	if err != nil {
		t.Fatalf("fixture customer %s: %v", ref, err)
	}
	return out
}

// Plan stores an active manual-repayment plan for customerRef with one
// installment of 500.00 per due date; edit changes it before it is stored.
func Plan(t testing.TB, r *repo.Repo, ref, customerRef string, dues []repo.Date, edit ...func(*repo.Plan)) repo.Plan {
	t.Helper()
	p := repo.Plan{Ref: ref, CustomerRef: customerRef, Merchant: "优品手机", Title: "iPhone 17 12期",
		Currency: "CNY", Total: int64(len(dues)) * 50000, Periods: len(dues), Status: repo.PlanActive,
		RepayMethod: "manual"}
	for i, d := range dues {
		p.Installments = append(p.Installments, repo.Installment{Seq: i + 1, DueDate: d, Amount: 50000,
			Status: repo.InstallmentPending})
	}
	for _, e := range edit {
		e(&p)
	}
	out, err := r.UpsertPlan(context.Background(), p, FixtureNow)
	if err != nil {
		t.Fatalf("fixture plan %s: %v", ref, err)
	}
	return out
}

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
			FROM generate_series(1, $1::int) g`, []any{n, FixtureNow}},
		{`INSERT INTO plans (ref, customer_id, merchant, title, currency, total, periods, status, repay_method, created_at, updated_at)
			SELECT 'p' || c.ref, c.id, '优品手机', 'iPhone 17 12期', 'CNY', 50000, 1, 'active', 'manual', $1, $1
			FROM customers c WHERE c.ref ~ '^b[0-9]+$'`, []any{FixtureNow}},
		{`INSERT INTO installments (plan_id, seq, due_date, amount)
			SELECT p.id, 1, $1::date, 50000 FROM plans p WHERE p.ref ~ '^pb[0-9]+$'`, []any{due.String()}},
	} {
		if _, err := r.DB().ExecContext(context.Background(), q.sql, q.args...); err != nil {
			t.Fatalf("fixture borrowers: %v", err)
		}
	}
}
