package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"duebell/repo"
)

// runDemo migrates, seeds a few borrowers whose bills fall due around
// today, queues what is due right away, and serves. With the outbox
// providers of duebell.demo.toml the notices appear as files in ./outbox.
func runDemo(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("demo", &c)
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, c.config)
	if err != nil {
		return err
	}
	defer a.close()
	if _, err := a.repo.Migrate(ctx); err != nil {
		return err
	}
	now := time.Now()
	if err := seedDemo(ctx, a, now); err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	res, err := a.dueScan(nil).Run(ctx, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "demo: seeded 4 borrowers in schema %q, queued %d notices; sending to %s/ (Ctrl-C to stop)\n",
		a.repo.Schema(), res.Total(), a.cfg.Outbox.Dir)
	return a.serve(ctx, func(addr string) {
		fmt.Fprintf(out, "demo: API on http://%s (try GET /healthz, /metrics)\n", addr)
	})
}

// seedDemo upserts demo borrowers through the same repo methods the API
// uses, with due dates relative to today in the default time zone, so every
// reminder stage has someone to remind. Re-running it is harmless.
func seedDemo(ctx context.Context, a *app, now time.Time) error {
	loc, err := time.LoadLocation(a.cfg.Defaults.Timezone)
	if err != nil {
		return err
	}
	today := now.In(loc)
	day := func(offset int) repo.Date {
		return repo.NewDate(today.Year(), today.Month(), today.Day()+offset)
	}
	type borrower struct {
		c      repo.Customer
		due    repo.Date
		method string
	}
	borrowers := []borrower{
		{repo.Customer{Ref: "demo-li", Name: "李雷", Phone: "+8613800000001", Email: "li.lei@example.com", Locale: "zh-CN"}, day(3), "auto_debit"},
		{repo.Customer{Ref: "demo-han", Name: "韩梅梅", Phone: "+8613800000002", Email: "han.meimei@example.com", Locale: "zh-CN"}, day(0), "manual"},
		{repo.Customer{Ref: "demo-alice", Name: "Alice Chen", Phone: "+8613800000003", Email: "alice@example.com", Locale: "en"}, day(-1), "manual"},
		{repo.Customer{Ref: "demo-bob", Name: "Bob Wang", Phone: "+8613800000004", Email: "bob@example.com", Locale: "en"}, day(-8), "manual"},
	}
	for i, b := range borrowers {
		b.c.Timezone = a.cfg.Defaults.Timezone
		if _, err := a.repo.UpsertCustomer(ctx, b.c, now); err != nil {
			return err
		}
		plan := repo.Plan{Ref: "demo-plan-" + b.c.Ref[5:], CustomerRef: b.c.Ref, Merchant: "Demo Phone Shop",
			Title: "Phone X 6-month plan", Currency: "CNY", Total: 6 * 83300, Periods: 6, Status: repo.PlanActive,
			RepayMethod: b.method}
		if b.method == "auto_debit" {
			plan.CardLast4 = fmt.Sprintf("%04d", 1234+i)
		}
		for seq := 1; seq <= 6; seq++ {
			inst := repo.Installment{Seq: seq, DueDate: repo.Date{Time: b.due.AddDate(0, seq-2, 0)}, Amount: 83300,
				Status: repo.InstallmentPending}
			if seq == 1 {
				inst.Paid, inst.Status = 83300, repo.InstallmentPaid
			}
			plan.Installments = append(plan.Installments, inst)
		}
		if _, err := a.repo.UpsertPlan(ctx, plan, now); err != nil {
			return err
		}
	}
	return nil
}
