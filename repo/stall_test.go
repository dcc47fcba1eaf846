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
	failsAsOutage(t, "a statement on a silent connection (tcp_user_timeout 1 s)", 10*time.Second, func() error {
		_, err := r.QueueDepth(ctx)
		return err
	})
	resume()
	if _, err := r.QueueDepth(ctx); err != nil {
		t.Fatalf("the first statement once the way is back: %v", err)
	}
}

// A connection that goes silent while staying open (a proxy whose backend
// went away, a hung server: the other end acknowledges, so TCP_USER_TIMEOUT
// never fires) ends a statement at its context's deadline and a few
// seconds more, as an outage, instead of waiting on it for minutes: lib/pq
// cancels over a new connection and keeps waiting on the old one. An audit
// saw a dispatcher's outcome writes freeze 4 minutes so, its leases renewed
// meanwhile on new connections, nobody rescuing its notices. The next
// statement goes through on a new connection.
func TestSilentOpenConnectionEndsPastItsDeadline(t *testing.T) {
	t.Parallel()
	r, _, link := repotest.NewLinked(t)
	ctx := context.Background()
	if _, err := r.QueueDepth(ctx); err != nil {
		t.Fatal(err)
	}
	link.Hang()
	failsAsOutage(t, "a statement with a 1 s deadline on a silent open connection", 15*time.Second, func() error {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := r.QueueDepth(qctx)
		return err
	})
	if _, err := r.QueueDepth(ctx); err != nil {
		t.Fatalf("the next statement, on a new connection: %v", err)
	}
}

// A database that stops answering on every connection, new ones included
// (a hung server, a proxy with no backend: connections are accepted and
// never answered): a prepared statement on a pooled connection, and one
// that needs a new connection, each end within their deadline, lib/pq's
// cancel request (10 s) and a few seconds, as an outage. The cancel, sent
// over a connection of its own and read until the server closes it, waited
// for ever, and the statement with it; so did a new connection's startup:
// a daemon told to stop during such an outage never exited (an audit).
func TestSilentServerEndsStatementsAndNewConnections(t *testing.T) {
	t.Parallel()
	r, _, link := repotest.NewLinked(t)
	ctx := context.Background()
	at := time.Now()
	claim := func(ctx context.Context) error {
		_, err := r.ClaimNotifications(ctx, "replica-a", at, at, time.Minute, 10, 0)
		return err
	}
	if err := claim(ctx); err != nil { // prepared on the pooled connection
		t.Fatal(err)
	}
	link.Silence()
	for _, what := range []string{"a prepared statement on the pooled connection", "a statement needing a new connection"} {
		failsAsOutage(t, what+" with a 1 s deadline, on a silent server", 25*time.Second, func() error {
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return claim(qctx)
		})
	}
}

// failsAsOutage runs f and checks that it fails as an outage
// (repo.IsUnavailable) within the time given.
func failsAsOutage(t *testing.T, what string, within time.Duration, f func() error) {
	t.Helper()
	start := time.Now()
	failed := make(chan error, 1)
	go func() { failed <- f() }()
	select {
	case err := <-failed:
		if took := time.Since(start); err == nil || !repo.IsUnavailable(err) || took > within {
			t.Fatalf("%s: %v after %v; want an outage within %v", what, err, took, within)
		}
	case <-time.After(within + 15*time.Second):
		t.Fatalf("%s: still waiting after %v", what, within+15*time.Second)
	}
}
