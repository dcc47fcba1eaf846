package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"duebell/repo"
)

// demoRefs are the demo borrowers' customer refs (what --reset removes).
var demoRefs = []string{"demo-li", "demo-han", "demo-alice", "demo-bob"}

// runDemo migrates, seeds a few borrowers whose bills fall due around
// today, queues what is due right away, and serves. With the outbox
// providers of duebell.demo.toml the notices appear as files in ./outbox.
// It prints where to look: the console, a token to sign in with, the outbox.
func runDemo(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("demo", &c)
	reset := fs.Bool("reset", false, "delete the demo borrowers and everything sent to them first, so the demo starts over")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := loadConfig(c.config)
	if err != nil {
		return err
	}
	defer a.close()
	// Its borrowers are made up, their phone numbers look real: only an
	// outbox may receive what it sends.
	for _, p := range []struct{ key, provider string }{{"sms.provider", a.cfg.SMS.Provider},
		{"email.provider", a.cfg.Email.Provider}} {
		if p.provider != "outbox" {
			return fmt.Errorf("%s is %q: the demo sends only to the outbox, never through a provider "+
				"(its borrowers are made up); run it with duebell.demo.toml, or a config whose sms.provider and "+
				"email.provider are \"outbox\"", p.key, p.provider)
		}
	}
	// A port in use stops the demo before it opens (and for SQLite
	// creates) its store, seeds or queues anything.
	ln, err := a.listen()
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := a.open(ctx, true); err != nil {
		return err
	}
	if err := a.lockServe(); err != nil {
		return err
	}
	if _, err := a.repo.Migrate(ctx); err != nil {
		return err
	}
	if *reset {
		n, err := a.repo.DeleteCustomers(ctx, demoRefs)
		if err != nil {
			return fmt.Errorf("reset demo data: %w", err)
		}
		fmt.Fprintf(out, "demo: removed %d demo borrowers and their notices from %s\n", n, a.where())
	}
	_, err = a.repo.GetCustomer(ctx, demoRefs[0])
	seededBefore := err == nil
	if err != nil && !errors.Is(err, repo.ErrNotFound) {
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
	outbox, _ := filepath.Abs(a.cfg.Outbox.Dir)
	verb := "seeded"
	if seededBefore {
		verb = "found" // and pushed again: a run on a later day moves their bills to around that day
	}
	fmt.Fprintf(out, "demo: %s %d demo borrowers in %s, queued %d notices\n", verb, len(demoRefs), a.where(), res.Total())
	if seededBefore && res.Total() == 0 {
		waiting, err := a.repo.QueueDepth(ctx)
		if err != nil {
			return err
		}
		var n int64
		for _, w := range waiting {
			n += w.Count
		}
		fmt.Fprintf(out, "demo: the demo data was already there and today's reminders were queued on an earlier run, so nothing is queued again")
		if n > 0 {
			fmt.Fprintf(out, ";\n      %d notices queued then are still to go (a retry, or a reminder held for a contact limit)", n)
		}
		fmt.Fprintf(out, ".\n      To start over: duebell demo --reset --config %s\n", c.config)
	}
	return a.serve(ctx, ln, func(addr string) {
		fmt.Fprintf(out, "\n  console   http://%s/console/   sign in with the operator token: %s\n", addr, a.demoToken("operator"))
		fmt.Fprintf(out, "  API       http://%s/api/v1/    ingest token: %s (see README: Pushing data)\n", addr, a.demoToken("ingest"))
		fmt.Fprintf(out, "  outbox    %s   (SMS in sms.jsonl, emails as .eml files)\n", outbox)
		fmt.Fprintf(out, "  metrics   http://%s/metrics\n", addr)
		fmt.Fprintf(out, "  start over: duebell demo --reset --config %s   (Ctrl-C to stop)\n\n", c.config)
	})
}

// demoToken is the first configured token with role, for the demo banner
// (the demo config's tokens are not secrets), or a hint when there is none.
func (a *app) demoToken(role string) string {
	for _, t := range a.cfg.Admin.Tokens {
		if t.Role == role {
			return t.Token
		}
	}
	return "(none: add an [[admin.tokens]] with role = \"" + role + "\")"
}

// seedDemo upserts demo borrowers through the same repo methods the API
// uses, with due dates relative to today in the default time zone, so every
// reminder stage has someone to remind. Chinese-speaking borrowers buy from
// a Chinese shop, so their SMS read as one language. Re-running it is harmless.
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
		c               repo.Customer
		due             repo.Date
		method          string
		merchant, title string
	}
	borrowers := []borrower{
		{repo.Customer{Ref: "demo-li", Name: "李雷", Phone: "+8613800000001", Email: "li.lei@example.com", Locale: "zh-CN"},
			day(3), "auto_debit", "星辰手机旗舰店", "星辰 X6 手机 6 期分期"},
		{repo.Customer{Ref: "demo-han", Name: "韩梅梅", Phone: "+8613800000002", Email: "han.meimei@example.com", Locale: "zh-CN"},
			day(0), "manual", "星辰手机旗舰店", "星辰 X6 手机 6 期分期"},
		{repo.Customer{Ref: "demo-alice", Name: "Alice Chen", Phone: "+8613800000003", Email: "alice@example.com", Locale: "en"},
			day(-1), "manual", "Demo Phone Shop", "Phone X 6-month plan"},
		{repo.Customer{Ref: "demo-bob", Name: "Bob Wang", Phone: "+8613800000004", Email: "bob@example.com", Locale: "en"},
			day(-8), "manual", "Demo Phone Shop", "Phone X 6-month plan"},
	}
	for i, b := range borrowers {
		b.c.Timezone = a.cfg.Defaults.Timezone
		if _, err := a.repo.UpsertCustomer(ctx, b.c, now); err != nil {
			return err
		}
		plan := repo.Plan{Ref: "demo-plan-" + b.c.Ref[5:], CustomerRef: b.c.Ref, Merchant: b.merchant,
			Title: b.title, Currency: "CNY", Total: 6 * 83300, Periods: 6, Status: repo.PlanActive,
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
