package repo_test

import (
	"context"
	"sync"
	"testing"

	"duebell/repo"
	"duebell/repo/repotest"
)

func TestFallbacksAreQueuedOnceUnderConcurrentSweeps(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1", func(c *repo.Customer) { c.SMSOptOut = true })
	repotest.Customer(t, r, "c2", func(c *repo.Customer) { c.SMSOptOut, c.EmailOptOut = true, true })
	repotest.Plan(t, r, "p1", "c1", due24)
	repotest.Plan(t, r, "p2", "c2", due24)
	if _, err := r.QueueDueReminders(context.Background(), rcScanAt, smsOnly); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	counts := make(chan int, 8)
	for range 8 {
		wg.Go(func() {
			n, err := r.QueueFallbacks(context.Background(), rcSendAt, rcScanAt, []string{"due_soon"}, "email")
			if err != nil {
				t.Error(err)
			}
			counts <- n
		})
	}
	wg.Wait()
	close(counts)
	total := 0
	for n := range counts {
		total += n
	}
	var rows []struct {
		Ref    string `db:"ref"`
		Status string `db:"status"`
		Reason string `db:"status_reason"`
	}
	if err := r.DB().Select(&rows, `SELECT c.ref, n.status, n.status_reason FROM notifications n
		JOIN customers c ON c.id = n.customer_id WHERE n.fallback_of IS NOT NULL ORDER BY c.ref`); err != nil {
		t.Fatal(err)
	}
	// c2 opted out of both: the fallback is logged, suppressed.
	if total != 2 || len(rows) != 2 || rows[0].Status != "pending" || rows[1].Status != "suppressed" || rows[1].Reason != "opted_out" {
		t.Fatalf("queued %d; fallbacks %+v", total, rows)
	}
	// A later sweep over the same notices queues nothing more.
	if n, err := r.QueueFallbacks(context.Background(), rcSendAt, rcScanAt, []string{"due_soon"}, "email"); err != nil || n != 0 {
		t.Fatalf("second sweep queued %d, %v", n, err)
	}
	if _, err := r.QueueFallbacks(context.Background(), rcSendAt, rcSendAt, []string{"due_soon"}, "sms"); err == nil {
		t.Error("an SMS fallback for SMS was accepted")
	}
}
