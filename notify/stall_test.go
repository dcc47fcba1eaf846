package notify_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"duebell/internal/syncbuf"
	"duebell/notify"
	"duebell/repo"
)

// silentStore is a cutOffStore whose outcome writes fail too while it is
// cut: the replica's database went silent (a partition, a hung server)
// with a batch of its claims in hand.
type silentStore struct{ *cutOffStore }

func (s silentStore) FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error {
	if s.cut.Load() {
		return errCutOff
	}
	return s.Repo.FinishNotifications(ctx, owner, now, outs)
}

// A replica whose database goes silent while it holds a claimed batch
// starts no send once its outcome writes stall: it used to go on sending
// the whole batch on leases that still looked good, none of those outcomes
// could be written, and when the silence outlasted the leases another
// replica rescued the batch and sent it all again (an audit: 375
// duplicates in one partition). Only what was in flight at the cut may go
// twice, as after a crash.
func TestReplicaWhoseDatabaseWentSilentHoldsItsSends(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	at, b, cut, clock := cutOff(t, 5)
	store := silentStore{cut}
	to := &phones{}
	var first atomic.Int64
	sender := sendFunc(func(m notify.Message) error {
		to.deliver(m.NotificationID, "A")
		if first.CompareAndSwap(0, m.NotificationID) { // in flight when the database goes silent
			store.noClaims.Store(true)
			store.cut.Store(true)
		}
		return nil
	})
	var logs syncbuf.Buffer
	cfg := replicaA(t, b, store, sender, at, clock, lease, &logs)
	cfg.WriteStall = time.Nanosecond // any outcome not yet written holds the next send: no race with the committer
	done := runOnceAsync(t, cfg)

	// Replica A holds its next send (or, without the hold, sends the batch).
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "outcome writes stalled") &&
		to.received() < 5; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("replica A neither held its sends nor sent the batch:\n%s", logs.String())
		}
	}
	// The silence outlasts the leases; replica B rescues the batch and
	// sends it. Then A's database answers again.
	store.claiming.Lock()
	clock.add(lease + time.Second)
	if got := takeOver(t, b.r, to, at.Add(lease+time.Second), lease, 10); len(got) != 5 {
		t.Errorf("replica B took over %d notices, want the 5 of A's claim", len(got))
	}
	store.claiming.Unlock()
	store.cut.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("replica A's run: %v", err)
	}

	if ids := to.sentBy("A"); len(ids) != 1 || ids[0] != first.Load() {
		t.Errorf("replica A sent %v after its database went silent; only notice %d was in flight", ids, first.Load())
	}
	if ids := to.sentBy("B"); len(ids) != 5 {
		t.Errorf("replica B sent %v, want the 5 rescued", ids)
	}
	if got := statusCounts(t, b.r); got["sent"] != 5 {
		t.Errorf("statuses %v, want the 5 sent", got)
	}
	out := logs.String()
	if n := strings.Count(out, `level=WARN msg="outcome writes stalled; holding sends`); n != 1 {
		t.Errorf("%d WARN outcome writes stalled, want 1 for the outage:\n%s", n, out)
	}
	if !strings.Contains(out, `level=INFO msg="sends resumed: outcome writes go through again"`) {
		t.Errorf("no INFO that sends resumed once the writes went through:\n%s", out)
	}
}

// slowStore is a cutOffStore whose first outcome write takes 300 ms, as a
// busy database's group commit can, and goes through.
type slowStore struct{ *cutOffStore }

func (s slowStore) FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error {
	if s.cut.CompareAndSwap(false, true) {
		time.Sleep(300 * time.Millisecond)
	}
	return s.Repo.FinishNotifications(ctx, owner, now, outs)
}

// Outcome writes slower than WriteStall but going through (a busy
// database: a loaded host's group commits took over 250 ms) hold the
// sends as back-pressure, at DEBUG: no WARN that the writes stalled and no
// INFO that sends resumed, which an audit counted 94 times in a run whose
// database answered all along. Every notice is sent once.
func TestBriefWriteStallHoldsSendsWithoutAWarning(t *testing.T) {
	t.Parallel()
	at, b, cut, clock := cutOff(t, 5)
	store := slowStore{cut}
	to := &phones{}
	sender := sendFunc(func(m notify.Message) error {
		to.deliver(m.NotificationID, "A")
		return nil
	})
	var logs syncbuf.Buffer
	cfg := replicaA(t, b, store, sender, at, clock, 30*time.Second, &logs)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.WriteStall = time.Nanosecond // any outcome not yet written holds the next send
	if err := <-runOnceAsync(t, cfg); err != nil {
		t.Fatal(err)
	}
	if ids := to.sentBy("A"); len(ids) != 5 {
		t.Errorf("sent %v, want the 5 notices once each", ids)
	}
	out := logs.String()
	if !strings.Contains(out, `level=DEBUG msg="outcome writes slow; holding a send"`) {
		t.Errorf("no send was held while the writes stalled:\n%s", out)
	}
	if strings.Contains(out, "level=WARN") || strings.Contains(out, "sends resumed") {
		t.Errorf("a brief stall logged a WARN or a resume:\n%s", out)
	}
}

// runOnceAsync runs a dispatcher on cfg once, in the background; the run's
// error arrives on the channel returned.
func runOnceAsync(t *testing.T, cfg notify.Config) <-chan error {
	t.Helper()
	d, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := d.RunOnce(context.Background())
		done <- err
	}()
	return done
}

// countingStore fails outcome writes and lease extensions while cut, and
// counts the tries made after the dispatcher said it gave up.
type countingStore struct {
	*cutOffStore
	gaveUp         atomic.Bool
	triesAfterward atomic.Int32
}

func (s *countingStore) try() error {
	if s.gaveUp.Load() {
		s.triesAfterward.Add(1)
	}
	return errCutOff
}

func (s *countingStore) FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error {
	if s.cut.Load() {
		return s.try()
	}
	return s.Repo.FinishNotifications(ctx, owner, now, outs)
}

func (s *countingStore) ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]int64, error) {
	if s.cut.Load() {
		return nil, s.try()
	}
	return s.Repo.ExtendLeases(ctx, owner, now, lease)
}

// giveUpWatch notes in store when the log says the writes gave up.
type giveUpWatch struct {
	store *countingStore
	logs  *syncbuf.Buffer
}

func (w giveUpWatch) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "giving up") {
		w.store.gaveUp.Store(true)
	}
	return w.logs.Write(p)
}

// A dispatcher told to stop while the database is away gives its outcome
// writes a lease, then gives up on what is left without trying it again,
// and returns: each further try against a database that does not answer
// costs its statement's deadline, and a stopped serve went on trying
// group after group, and extending leases, for minutes (a re-verification
// audit).
func TestStoppedDispatcherGivesUpItsWritesAfterALease(t *testing.T) {
	t.Parallel()
	at, b, cut, clock := cutOff(t, 10)
	store := &countingStore{cutOffStore: cut}
	ctx, stop := context.WithCancel(context.Background())
	var first atomic.Int64
	sender := sendFunc(func(m notify.Message) error {
		if first.CompareAndSwap(0, m.NotificationID) { // the database goes away; a deploy stops the dispatcher
			store.noClaims.Store(true)
			store.cut.Store(true)
			stop()
		}
		return nil
	})
	var logs syncbuf.Buffer
	cfg := replicaA(t, b, store, sender, at, clock, time.Second, &logs)
	cfg.Workers, cfg.LeaseClock = 2, time.Now
	cfg.Logger = slog.New(slog.NewTextHandler(giveUpWatch{store: store, logs: &logs}, nil))
	d, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = d.Start(ctx)
	if took := time.Since(start); err == nil || !strings.Contains(err.Error(), "could not be written") || took > 10*time.Second {
		t.Fatalf("Start returned %v after %v; want the outcomes given up on, about a lease (1 s) after the stop", err, took)
	}
	if !strings.Contains(logs.String(), "giving up") {
		t.Errorf("no ERROR saying the writes gave up:\n%s", logs.String())
	}
	if n := store.triesAfterward.Load(); n != 0 {
		t.Errorf("%d writes or extensions tried after the dispatcher gave up:\n%s", n, logs.String())
	}
}

// slowRescueStore's rescue takes 20 s on the lease clock, as one waiting on
// another replica's locks did; it notes the lease clock each claim gets.
type slowRescueStore struct {
	*repo.Repo
	clock    *fakeClock
	mu       sync.Mutex
	leaseNow []time.Time
}

func (s *slowRescueStore) RescueExpired(ctx context.Context, now time.Time, keep string, providers map[string]string) (int, error) {
	s.clock.add(20 * time.Second)
	return s.Repo.RescueExpired(ctx, now, keep, providers)
}

func (s *slowRescueStore) ClaimNotifications(ctx context.Context, owner string, now, leaseNow time.Time, lease time.Duration,
	limit, smsCap int) ([]repo.Claim, error) {
	s.mu.Lock()
	s.leaseNow = append(s.leaseNow, leaseNow)
	s.mu.Unlock()
	return s.Repo.ClaimNotifications(ctx, owner, now, leaseNow, lease, limit, smsCap)
}

// A claim's leases run from the claim, not from before the rescue that
// preceded it: a rescue that waited 30 s on another replica's locks (an
// audit) left a claim whose 30 s leases ran out as it committed, and
// another replica rescued and logged tries nobody made.
func TestClaimLeasesRunFromTheClaimNotTheRescueBeforeIt(t *testing.T) {
	t.Parallel()
	at, b, _, clock := cutOff(t, 3)
	store := &slowRescueStore{Repo: b.r, clock: clock}
	cfg := b.cfg
	cfg.Store, cfg.Now, cfg.LeaseClock, cfg.Lease = store, func() time.Time { return at }, clock.Now, 30*time.Second
	runOnce(t, cfg)
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.leaseNow) == 0 || !store.leaseNow[0].Equal(at.Add(20*time.Second)) {
		t.Fatalf("claims leased from %v, want the first from %v, after the rescue", store.leaseNow, at.Add(20*time.Second))
	}
	if got := statusCounts(t, b.r); got["sent"] != 3 {
		t.Errorf("statuses %v, want the 3 sent", got)
	}
}
