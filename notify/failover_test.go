package notify_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"duebell/internal/syncbuf"
	"duebell/notify"
	"duebell/repo"
	"duebell/repo/repotest"
)

// failoverStore is a store reached through link: the outage it takes part
// in ends with the first claim that fails for it. claimed counts the
// claims that got through.
type failoverStore struct {
	*repo.Repo
	link    *repotest.Link
	failed  atomic.Bool
	claimed atomic.Int32
}

func (s *failoverStore) ClaimNotifications(ctx context.Context, owner string, now, leaseNow time.Time, lease time.Duration,
	limit, smsCap int) ([]repo.Claim, error) {
	claims, err := s.Repo.ClaimNotifications(ctx, owner, now, leaseNow, lease, limit, smsCap)
	if err == nil {
		s.claimed.Add(1)
	} else if s.failed.CompareAndSwap(false, true) {
		s.link.Up()
	}
	return claims, err
}

// A failover while the dispatcher's pool holds idle connections: all of
// them are dead, and the driver learns it of each only when it next uses
// it. One claim fails for the outage, and the claims after it, the
// database back, get through: one "dispatch paused", one "dispatch
// resumed", not a pause for every dead connection the pool held.
func TestFailoverPausesDispatchOnce(t *testing.T) {
	t.Parallel()
	r, _, link := repotest.NewLinked(t)
	store := &failoverStore{Repo: r, link: link}
	at := sh(11, 21, 10, 0)
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Store, c.Now, c.Interval = store, func() time.Time { return at }, 20*time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	stop := startDispatcher(t, b.cfg)
	defer stop()
	// The outage must come after a first claim: on a loaded machine (the
	// whole suite on two cores) that can take more than 10 s, and an outage
	// before it met the dispatcher's start instead of a claim.
	for deadline := time.Now().Add(60 * time.Second); store.claimed.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // polling for the first claim, not timing a rule
	}
	if store.claimed.Load() == 0 {
		t.Fatalf("the dispatcher made no first claim in 60 s:\n%s", logs.String())
	}
	repotest.FillPool(t, r, 6) // between claims, the pool that served a burst holds idle connections
	link.Down()
	resumed := func() int { return strings.Count(logs.String(), `msg="dispatch resumed: database reachable again"`) }
	for deadline := time.Now().Add(30 * time.Second); resumed() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // polling for the resume, not timing a rule
	}
	stop()
	out := logs.String()
	if !store.failed.Load() {
		t.Fatalf("no claim met the outage:\n%s", out)
	}
	paused := strings.Count(out, `msg="dispatch paused: database unavailable`) // the WARN and its repeats at DEBUG
	if paused != 1 || resumed() != 1 {
		t.Errorf("%d failed claims and %d resumes for one outage that failed one claim; want 1 and 1:\n%s",
			paused, resumed(), out)
	}
}
