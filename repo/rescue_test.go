package repo_test

import (
	"context"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// A rescue leaves alone an expired notice whose owner holds it right now
// (writing its outcome, or extending its lease, back from a stall longer
// than the lease) and rescues the others at once; the next rescue takes it
// if the owner let it go without finishing it. It used to wait for the
// owner's transaction, and deadlocked with it.
func TestRescueSkipsANoticeItsOwnerHolds(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	repotest.Borrowers(t, r, 2, repo.NewDate(2026, 11, 24))
	at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai, three days before
	stages := []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"}}}
	if _, err := r.QueueDueReminders(ctx, at, stages); err != nil {
		t.Fatal(err)
	}
	claimed, err := r.ClaimNotifications(ctx, "replica-a", at, at, time.Minute, 10, 0)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d (%v), want 2", len(claimed), err)
	}
	owner, err := r.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Rollback()
	if _, err := owner.ExecContext(ctx, `SELECT 1 FROM notifications WHERE id = $1 FOR UPDATE`, claimed[0].ID); err != nil {
		t.Fatal(err)
	}
	later := at.Add(2 * time.Minute)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := r.RescueExpired(rctx, later, "replica-b", nil)
	if err != nil || n != 1 {
		t.Fatalf("rescue beside the owner's lock: %d (%v), want the other notice at once", n, err)
	}
	if err := owner.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n, err := r.RescueExpired(ctx, later, "replica-b", nil); err != nil || n != 1 {
		t.Fatalf("the next rescue: %d (%v), want the notice its owner let go", n, err)
	}
	var attempts, rows int
	if err := r.DB().QueryRowContext(ctx, `SELECT sum(attempts), (SELECT count(*) FROM delivery_attempts WHERE outcome = 'unknown')
		FROM notifications`).Scan(&attempts, &rows); err != nil || attempts != 2 || rows != 2 {
		t.Errorf("attempts %d and unknown tries logged %d (%v), want 2 and 2", attempts, rows, err)
	}
}
