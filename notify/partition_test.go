package notify_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"duebell/internal/syncbuf"
	"duebell/notify"
	"duebell/repo"
)

// cutOffStore is one replica's store while its host is cut off from the
// database (a network partition, its connection pooler down): its lease
// extensions and re-reads fail as in an outage, while other replicas still
// reach the database. Outcome writes go through, so the run ends. With
// noClaims its claims find nothing: a claim that failed would end a
// RunOnce with its error. claiming is held by its claims and by a test
// acting as another replica, so that a claim of this one already on its
// way cannot take back what the other just rescued. onClaim, when set, is
// told the ids of each claim that leased any.
type cutOffStore struct {
	*repo.Repo
	cut, noClaims atomic.Bool
	claiming      sync.Mutex
	onClaim       func(ids []int64)
}

// cutOff starts a partition test: a bundle whose schema holds n SMS
// notices queued at its first return (10:00 in Shanghai on Nov 21), replica
// A's store over it, which the test cuts off, and the lease clock there.
func cutOff(t *testing.T, n int) (time.Time, *bundle, *cutOffStore, *fakeClock) {
	t.Helper()
	at := sh(11, 21, 10, 0)
	b := setup(t)
	seedSMS(t, b.r, n)
	return at, b, &cutOffStore{Repo: b.r}, &fakeClock{t: at}
}

func (s *cutOffStore) ClaimNotifications(ctx context.Context, owner string, now, leaseNow time.Time, lease time.Duration,
	limit, smsCap int) ([]repo.Claim, error) {
	s.claiming.Lock()
	defer s.claiming.Unlock()
	if s.noClaims.Load() {
		return nil, nil
	}
	claims, err := s.Repo.ClaimNotifications(ctx, owner, now, leaseNow, lease, limit, smsCap)
	if len(claims) > 0 && s.onClaim != nil {
		ids := make([]int64, len(claims))
		for i, c := range claims {
			ids[i] = c.ID
		}
		s.onClaim(ids)
	}
	return claims, err
}

var errCutOff = fmt.Errorf("cut off: %w", driver.ErrBadConn)

func (s *cutOffStore) ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]int64, error) {
	if s.cut.Load() {
		return nil, errCutOff
	}
	return s.Repo.ExtendLeases(ctx, owner, now, lease)
}

func (s *cutOffStore) ReloadClaim(ctx context.Context, id int64) (repo.Claim, error) {
	if s.cut.Load() {
		return repo.Claim{}, errCutOff
	}
	return s.Repo.ReloadClaim(ctx, id)
}

// A replica cut off from the database for longer than a lease, while a
// batch it claimed is still queued behind a slow send: its leases could not
// be extended and have run out, and another replica rescued and sent the
// batch. It must not start sending the rest of the batch (README: after an
// outage longer than a lease, only what was in flight may go twice): each
// queued notice would reach the borrower a second time.
func TestReplicaCutOffPastItsLeaseStartsNoSend(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	at, b, store, clock := cutOff(t, 3)
	ctx := context.Background()

	var mu sync.Mutex
	sentByA, sentByB := map[int64]int{}, map[int64]int{}
	var first int64
	sender := senderFunc(func(m notify.Message) {
		mu.Lock()
		sentByA[m.NotificationID]++
		once := first == 0
		if once {
			first = m.NotificationID
		}
		mu.Unlock()
		if !once {
			return
		}
		// The first send hangs past the lease while the host is cut off.
		store.claiming.Lock()
		defer store.claiming.Unlock()
		store.noClaims.Store(true)
		store.cut.Store(true)
		clock.add(lease + time.Second)
		// Replica B rescues the expired leases and sends the batch.
		later := at.Add(lease + time.Second)
		if _, err := b.r.RescueExpired(ctx, later, "replica-b", nil); err != nil {
			t.Error(err)
			return
		}
		claims, err := b.r.ClaimNotifications(ctx, "replica-b", later, later, lease, 10, 0)
		if err != nil || len(claims) != 3 {
			t.Errorf("replica B claimed %d, %v; want the 3 rescued", len(claims), err)
			return
		}
		var outs []repo.Outcome
		for _, c := range claims {
			mu.Lock()
			sentByB[c.ID]++
			mu.Unlock()
			outs = append(outs, repo.Outcome{ID: c.ID, Status: repo.StatusSent, Provider: "counting",
				ProviderMsgID: "b", SentAt: &later, Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel,
					Provider: "counting", StartedAt: later, FinishedAt: later, Outcome: repo.OutcomeSent, ProviderMsgID: "b"}})
		}
		if err := b.r.FinishNotifications(ctx, "replica-b", later, outs); err != nil {
			t.Error(err)
		}
	})
	cfg := b.cfg
	cfg.Store, cfg.Owner = store, "replica-a"
	cfg.Senders = map[string]notify.Sender{"sms": sender, "email": b.email}
	cfg.Workers, cfg.Batch, cfg.Lease = 1, 10, lease
	cfg.Now, cfg.LeaseClock = func() time.Time { return at }, clock.Now
	var logs syncbuf.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	runOnce(t, cfg)
	// Each queued notice tried to extend the leases and failed: one WARN.
	if n := strings.Count(logs.String(), `level=WARN msg="extend leases failed"`); n != 1 {
		t.Errorf("%d WARN extend leases failed, want 1 for the outage:\n%s", n, logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sentByB) != 3 {
		t.Fatalf("replica B sent %v, want the 3 notices", sentByB)
	}
	for id, n := range sentByA {
		if id != first || n != 1 {
			t.Errorf("replica A sent notice %d (%d times) after its lease ran out; only notice %d was in flight",
				id, n, first)
		}
	}
	if got := statusCounts(t, b.r); got["sent"] != 3 {
		t.Errorf("statuses %v, want the 3 sent", got)
	}
}

// senderFunc is a sender that calls f for each message and accepts it.
type senderFunc func(m notify.Message)

func (senderFunc) Provider() string { return "counting" }

func (f senderFunc) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	f(m)
	return notify.Result{ProviderMsgID: "a"}, nil
}

// Re-checks that fail because the database is away (each notice that
// waited 2 s since its claim is re-read before it goes out) say so once,
// not once a notice: an outage during a burst wrote a WARN for every
// notice sent, hundreds a second, beside the one "dispatch paused".
func TestRecheckOutageWarnsOnce(t *testing.T) {
	t.Parallel()
	at, b, store, clock := cutOff(t, 5)
	store.cut.Store(true) // the claim goes through the embedded store
	var logs syncbuf.Buffer
	cfg := b.cfg
	cfg.Store = store
	cfg.Senders = map[string]notify.Sender{"sms": senderFunc(func(notify.Message) { clock.add(3 * time.Second) }),
		"email": b.email}
	cfg.Workers, cfg.Batch = 1, 10
	cfg.Now, cfg.LeaseClock = func() time.Time { return at }, clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if counts := runOnce(t, cfg); counts["sent"] != 5 {
		t.Fatalf("counts %v; want 5 sent as checked at the claim", counts)
	}
	if n := strings.Count(logs.String(), `level=WARN msg="re-check before sending failed`); n != 1 {
		t.Errorf("%d warnings for re-checks the outage failed, want 1:\n%s", n, logs.String())
	}
}

// flakyFinishStore fails the first n outcome writes as a database outage
// does (the connection refused), then writes through.
type flakyFinishStore struct {
	*repo.Repo
	left atomic.Int32
	err  error // what a failing write returns
}

func (s *flakyFinishStore) FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error {
	if s.left.Add(-1) >= 0 {
		return s.err
	}
	return s.Repo.FinishNotifications(ctx, owner, now, outs)
}

// Outcome writes retried through an outage say so once, and once more
// when they get through: not a WARN at every retry (every 2 s per group
// while the database is away). So does a database that stopped answering,
// its connections open: the writes' deadline runs out (an audit saw a WARN
// at every retry then, and never the resume).
func TestOutcomeWriteOutageWarnsOnce(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"connection lost": errCutOff,
		"no answer":       fmt.Errorf("lock notices: %w", context.DeadlineExceeded),
		"cancelled at the deadline": fmt.Errorf("receipt locks: %w",
			&pq.Error{Code: "57014", Message: "canceling statement due to user request"}),
		"rolled back at the deadline": repo.CommitError(
			cancelled(context.WithDeadline(context.Background(), time.Unix(0, 0))), sql.ErrTxDone),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testOutcomeWriteOutageWarnsOnce(t, err)
		})
	}
}

// cancelled is ctx, which has ended, without its cancel func.
func cancelled(ctx context.Context, _ context.CancelFunc) context.Context { return ctx }

func testOutcomeWriteOutageWarnsOnce(t *testing.T, writeErr error) {
	at := sh(11, 21, 10, 0)
	b := setup(t)
	store := &flakyFinishStore{Repo: b.r, err: writeErr}
	store.left.Store(3)
	seedSMS(t, b.r, 2)
	var logs syncbuf.Buffer
	cfg := b.cfg
	cfg.Store = store
	cfg.Now = func() time.Time { return at }
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if counts := runOnce(t, cfg); counts["sent"] != 2 {
		t.Fatalf("counts %v; want both sent once the writes get through", counts)
	}
	out := logs.String()
	if n := strings.Count(out, `level=WARN msg="outcome write failed, retrying"`); n != 1 {
		t.Errorf("%d WARN outcome write failed, want 1 for the outage:\n%s", n, out)
	}
	if n := strings.Count(out, `level=INFO msg="outcome writes resumed: database reachable again"`); n != 1 {
		t.Errorf("%d INFO outcome writes resumed, want 1:\n%s", n, out)
	}
	if got := statusCounts(t, b.r); got["sent"] != 2 {
		t.Errorf("statuses %v, want both sent", got)
	}
}
