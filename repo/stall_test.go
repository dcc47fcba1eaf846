package repo_test

import (
	"context"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// A connection whose way to the database goes silent (packets dropped, not
// refused: a failover that moves the address, a partition) fails its
// statement within tcp_user_timeout, as an outage (so the API answers 503
// and the dispatcher pauses), instead of waiting the quarter of an hour the
// kernel takes to give up; once the way is back, the next statement goes
// through on a new connection.
func TestSilentConnectionFailsWithinTheUserTimeout(t *testing.T) {
	r, stall, resume := repotest.NewStallable(t, "tcp_user_timeout", "1000")
	ctx := context.Background()
	if _, err := r.QueueDepth(ctx); err != nil {
		t.Fatal(err)
	}
	stall()
	start := time.Now()
	failed := make(chan error, 1)
	go func() {
		_, err := r.QueueDepth(ctx)
		failed <- err
	}()
	select {
	case err := <-failed:
		if took := time.Since(start); err == nil || !repo.IsUnavailable(err) || took > 10*time.Second {
			t.Fatalf("a statement on a silent connection: %v after %v; want an outage within the 1 s timeout", err, took)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a statement on a silent connection still waits after 20 s (tcp_user_timeout is 1 s)")
	}
	resume()
	if _, err := r.QueueDepth(ctx); err != nil {
		t.Fatalf("the first statement once the way is back: %v", err)
	}
}
