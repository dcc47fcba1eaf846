package repo_test

import (
	"context"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// OldestDue: a pending notice counts from its next attempt, a sending one
// from its lease's expiry, and a channel with nothing due reads 0.
func TestOldestDue(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	repotest.Customer(t, r, "c1")
	repotest.Plan(t, r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24), repo.NewDate(2026, 11, 24)})
	if _, err := r.QueueDueReminders(ctx, rcScanAt, smsOnly); err != nil {
		t.Fatal(err)
	}
	oldest := func(at time.Time) map[string]float64 {
		t.Helper()
		ages, err := r.OldestDue(ctx, at, []string{"sms", "email"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, a := range ages {
			out[a.Channel] = a.Seconds
		}
		return out
	}
	var due time.Time
	if err := r.DB().GetContext(ctx, &due, `SELECT min(next_attempt_at) FROM notifications`); err != nil {
		t.Fatal(err)
	}
	if got := oldest(due.Add(-time.Second)); got["sms"] != 0 || got["email"] != 0 || len(got) != 2 {
		t.Errorf("before anything is due: %v", got)
	}
	if got := oldest(due.Add(90 * time.Second)); got["sms"] != 90 || got["email"] != 0 {
		t.Errorf("90s after the due time: %v, want sms 90", got)
	}

	claimAt := due.Add(time.Hour)
	if claims, err := r.ClaimNotifications(ctx, "w1", claimAt, 2*time.Minute, 100, 0); err != nil || len(claims) != 2 {
		t.Fatalf("claim: %d, %v", len(claims), err)
	}
	if got := oldest(claimAt.Add(time.Minute)); got["sms"] != 0 {
		t.Errorf("while leased: %v, want 0", got)
	}
	if got := oldest(claimAt.Add(5 * time.Minute)); got["sms"] != 180 {
		t.Errorf("lease expired 3 minutes ago: %v, want sms 180", got)
	}
}
