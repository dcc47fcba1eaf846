package repo_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// shanghai returns the instant of a Shanghai wall-clock time.
func shanghai(y int, m time.Month, d, h int) time.Time {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	return time.Date(y, m, d, h, 0, 0, 0, loc)
}

var due24 = []repo.Date{repo.NewDate(2026, 11, 24)}

type row struct {
	Stage, Channel, Status, Reason string
}

func notices(t *testing.T, r *repo.Repo) []row {
	t.Helper()
	var out []struct {
		Stage   string `db:"stage"`
		Channel string `db:"channel"`
		Status  string `db:"status"`
		Reason  string `db:"status_reason"`
	}
	if err := r.DB().Select(&out, `SELECT stage, channel, status, status_reason FROM notifications ORDER BY installment_id, stage_offset, channel DESC`); err != nil {
		t.Fatal(err)
	}
	rows := make([]row, len(out))
	for i, o := range out {
		rows[i] = row{o.Stage, o.Channel, o.Status, o.Reason}
	}
	return rows
}

func scan(t *testing.T, r *repo.Repo, at time.Time) repo.ScanResult {
	t.Helper()
	res, err := r.QueueDueReminders(context.Background(), at, scheduler.DefaultStages())
	if err != nil {
		t.Fatalf("scan at %v: %v", at, err)
	}
	return res
}

func equalRows(t *testing.T, got, want []row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("notifications:\n got %v\nwant %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("notifications:\n got %v\nwant %v", got, want)
		}
	}
}

func TestScanQueuesEachStageOncePerChannel(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1")
	repotest.Plan(t, r, "p1", "c1", due24)

	if res := scan(t, r, shanghai(2026, 11, 20, 10)); res.Total() != 0 {
		t.Fatalf("four days before the due date nothing is due, queued %v", res.Queued)
	}
	res := scan(t, r, shanghai(2026, 11, 21, 10))
	if res.Total() != 2 {
		t.Fatalf("queued %v, want due_soon by sms and email", res.Queued)
	}
	for i := 0; i < 3; i++ {
		if res := scan(t, r, shanghai(2026, 11, 21, 10+i)); res.Total() != 0 {
			t.Fatalf("re-scan queued again: %v", res.Queued)
		}
	}
	equalRows(t, notices(t, r), []row{{"due_soon", "sms", "pending", ""}, {"due_soon", "email", "pending", ""}})
}

func TestScanAfterDowntimeQueuesOnlyLatestStage(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1")
	repotest.Customer(t, r, "c2")
	repotest.Plan(t, r, "p1", "c1", due24)
	repotest.Plan(t, r, "p2", "c2", due24)

	// p1 got its due_soon queued (not yet sent) before the outage.
	if _, err := r.DB().Exec(`UPDATE plans SET status = 'cancelled' WHERE ref = 'p2'`); err != nil {
		t.Fatal(err)
	}
	scan(t, r, shanghai(2026, 11, 21, 10))
	if _, err := r.DB().Exec(`UPDATE plans SET status = 'active' WHERE ref = 'p2'`); err != nil {
		t.Fatal(err)
	}
	// Back two days after the due date: overdue_1 only; due_today is never created,
	// and p1's stale due_soon is skipped.
	res := scan(t, r, shanghai(2026, 11, 26, 10))
	if res.Total() != 4 || res.Skipped != 2 {
		t.Fatalf("queued %v skipped %d, want overdue_1 ×2 channels ×2 plans and 2 skipped", res.Queued, res.Skipped)
	}
	equalRows(t, notices(t, r), []row{
		{"due_soon", "sms", "skipped", "superseded by overdue_1"},
		{"due_soon", "email", "skipped", "superseded by overdue_1"},
		{"overdue_1", "sms", "pending", ""}, {"overdue_1", "email", "pending", ""},
		{"overdue_1", "sms", "pending", ""}, {"overdue_1", "email", "pending", ""},
	})
	// A week and more later: overdue_7, and nothing else.
	if res := scan(t, r, shanghai(2026, 12, 20, 10)); res.Total() != 4 {
		t.Fatalf("queued %v, want overdue_7 for both plans", res.Queued)
	}
}

func TestScanUsesCustomerLocalDate(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "sh")
	repotest.Customer(t, r, "ny", func(c *repo.Customer) { c.Timezone = "America/New_York" })
	repotest.Plan(t, r, "p-sh", "sh", due24)
	repotest.Plan(t, r, "p-ny", "ny", due24)

	// 2026-11-20 17:00 UTC: already the 21st in Shanghai, still the 20th in New York.
	scan(t, r, time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC))
	var refs []string
	if err := r.DB().Select(&refs, `SELECT DISTINCT c.ref FROM notifications n JOIN customers c ON c.id = n.customer_id`); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0] != "sh" {
		t.Fatalf("reminded %v, want only the Shanghai customer", refs)
	}
}

func TestScanNeverRemindsSettled(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1")
	repotest.Plan(t, r, "paid", "c1", due24, func(p *repo.Plan) { p.Installments[0].Paid = 50000 })
	repotest.Plan(t, r, "waived", "c1", due24, func(p *repo.Plan) { p.Installments[0].Status = repo.InstallmentWaived })
	repotest.Plan(t, r, "cancelled", "c1", due24, func(p *repo.Plan) { p.Status = repo.PlanCancelled })
	repotest.Plan(t, r, "closed", "c1", due24, func(p *repo.Plan) { p.Status = repo.PlanClosed })
	for _, at := range []time.Time{shanghai(2026, 11, 21, 10), shanghai(2026, 11, 24, 10), shanghai(2026, 12, 24, 10)} {
		if res := scan(t, r, at); res.Total() != 0 {
			t.Fatalf("settled installments reminded at %v: %v", at, res.Queued)
		}
	}
}

func TestScanRecordsOptOutAsSuppressed(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1", func(c *repo.Customer) { c.SMSOptOut = true })
	repotest.Customer(t, r, "c2", func(c *repo.Customer) { c.Email = "" })
	repotest.Plan(t, r, "p1", "c1", due24)
	repotest.Plan(t, r, "p2", "c2", due24)
	scan(t, r, shanghai(2026, 11, 21, 10))
	equalRows(t, notices(t, r), []row{
		{"due_soon", "sms", "suppressed", "opted_out"}, {"due_soon", "email", "pending", ""},
		{"due_soon", "sms", "pending", ""}, {"due_soon", "email", "suppressed", "no_email"},
	})
}

func TestConcurrentScansCreateNothingTwice(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1")
	repotest.Plan(t, r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24), repo.NewDate(2026, 11, 10), repo.NewDate(2026, 10, 1)})

	at := shanghai(2026, 11, 21, 10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total, busy := 0, 0
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.QueueDueReminders(context.Background(), at, scheduler.DefaultStages())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, repo.ErrBusy):
				busy++
			case err != nil:
				t.Error(err)
			default:
				total += res.Total()
			}
		}()
	}
	wg.Wait()
	var n int
	if err := r.DB().Get(&n, `SELECT count(*) FROM notifications`); err != nil {
		t.Fatal(err)
	}
	// due_soon for the 24th, overdue_7 for the 10th and the 1st of October: 3 × 2 channels.
	if n != 6 || total != 6 {
		t.Fatalf("rows %d, reported %d (busy %d), want 6 once", n, total, busy)
	}
}

func TestPreviewWritesNothing(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1")
	repotest.Plan(t, r, "p1", "c1", due24)
	res, err := r.PreviewDueReminders(context.Background(), shanghai(2026, 11, 21, 10), scheduler.DefaultStages())
	if err != nil || res.Total() != 2 {
		t.Fatalf("preview = %v, %v; want 2 notices", res.Queued, err)
	}
	if rows := notices(t, r); len(rows) != 0 {
		t.Fatalf("preview wrote %v", rows)
	}
}
