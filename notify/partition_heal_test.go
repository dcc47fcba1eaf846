package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"duebell/internal/syncbuf"
	"duebell/notify"
	"duebell/repo"
)

// What a replica cut off from the database does when the network heals
// while notices of its claim are still queued, unstarted: its next lease
// extension succeeds, and must not be read as "the claim is still mine".

// phones is what borrowers received: every message a provider took, by
// notice, from either replica.
type phones struct {
	mu  sync.Mutex
	got map[int64][]string // notice id → the replicas that sent it
}

func (p *phones) deliver(id int64, by string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == nil {
		p.got = map[int64][]string{}
	}
	p.got[id] = append(p.got[id], by)
}

// received is how many notices reached a phone.
func (p *phones) received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

// onceEach checks that want notices reached a phone, each once.
func (p *phones) onceEach(t *testing.T, want int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) != want {
		t.Errorf("%d notices received (%v), want %d", len(p.got), p.got, want)
	}
	for id, by := range p.got {
		if len(by) != 1 {
			t.Errorf("notice %d received %d times, from %v", id, len(by), by)
		}
	}
}

// sentBy lists the notices replica by sent, in id order.
func (p *phones) sentBy(by string) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []int64
	for id, from := range p.got {
		if slices.Contains(from, by) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// sendFunc is replica A's provider: f decides each send.
type sendFunc func(m notify.Message) error

func (sendFunc) Provider() string { return "counting" }

func (f sendFunc) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	if err := f(m); err != nil {
		return notify.Result{}, err
	}
	return notify.Result{ProviderMsgID: "a"}, nil
}

// errHostCutOff is the provider's answer to a replica whose host is cut
// off from the network: the message never left.
var errHostCutOff = notify.Transient("", errors.New("provider unreachable: host cut off"))

// takeOver is replica B: as of at (its clock), it rescues the leases that
// ran out, claims up to limit notices and sends them. Run from a sender, so
// it reports with t.Error.
func takeOver(t *testing.T, r *repo.Repo, to *phones, at time.Time, lease time.Duration, limit int) []repo.Claim {
	ctx := context.Background()
	if _, err := r.RescueExpired(ctx, at, "replica-b", nil); err != nil {
		t.Error(err)
		return nil
	}
	claims, err := r.ClaimNotifications(ctx, "replica-b", at, at, lease, limit, 0)
	if err != nil {
		t.Error(err)
		return nil
	}
	var outs []repo.Outcome
	for _, c := range claims {
		to.deliver(c.ID, "B")
		outs = append(outs, repo.Outcome{ID: c.ID, Status: repo.StatusSent, Provider: "counting",
			ProviderMsgID: "b", SentAt: &at, Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel,
				Provider: "counting", StartedAt: at, FinishedAt: at, Outcome: repo.OutcomeSent, ProviderMsgID: "b"}})
	}
	if err := r.FinishNotifications(ctx, "replica-b", at, outs); err != nil {
		t.Error(err)
	}
	return claims
}

// replicaA is a dispatcher on store for a partition test: one worker, so
// the rest of its claim waits behind its first send; rules as of at, leases
// on clock.
func replicaA(t *testing.T, b *bundle, store notify.Store, sender notify.Sender, at time.Time, clock *fakeClock,
	lease time.Duration, logs *syncbuf.Buffer) notify.Config {
	t.Helper()
	cfg := b.cfg
	cfg.Store, cfg.Owner = store, "replica-a"
	cfg.Senders = map[string]notify.Sender{"sms": sender, "email": b.email}
	cfg.Workers, cfg.Batch, cfg.Lease = 1, 10, lease
	cfg.Now, cfg.LeaseClock = func() time.Time { return at }, clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	return cfg
}

const gaveBackLog = `level=WARN msg="leases lost to another worker while the database was out of reach; giving their notices back untried" count=2`

// The healed partition: replica A is cut off (from the database and the
// provider) for longer than a lease while two notices of its claim wait
// behind its first send; replica B rescues the three and sends them; the
// network heals before A's worker reaches the two. A's next lease
// extension succeeds, but it extends nothing: B holds them. A gives them
// back untried, writing nothing over B's results, and each borrower gets
// each notice once.
func TestHealedPartitionSendsNothingTwice(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	at, b, store, clock := cutOff(t, 3)
	to := &phones{}
	var first atomic.Int64
	sender := sendFunc(func(m notify.Message) error {
		if !first.CompareAndSwap(0, m.NotificationID) {
			to.deliver(m.NotificationID, "A")
			return nil
		}
		store.claiming.Lock()
		defer store.claiming.Unlock()
		store.noClaims.Store(true)
		store.cut.Store(true)
		clock.add(lease + time.Second)
		if got := takeOver(t, b.r, to, at.Add(lease+time.Second), lease, 10); len(got) != 3 {
			t.Errorf("replica B took over %d notices, want the 3 of A's claim", len(got))
		}
		store.cut.Store(false) // healed: A's extensions and claims reach the database again
		store.noClaims.Store(false)
		return errHostCutOff
	})
	var logs syncbuf.Buffer
	runOnce(t, replicaA(t, b, store, sender, at, clock, lease, &logs))
	to.onceEach(t, 3)
	if ids := to.sentBy("A"); len(ids) != 0 {
		t.Errorf("replica A sent %v after the network healed; B had sent them", ids)
	}
	if !strings.Contains(logs.String(), gaveBackLog) {
		t.Errorf("A's log does not say it gave the 2 queued notices back:\n%s", logs.String())
	}
	var rows []struct {
		Status string `db:"status"`
		MsgID  string `db:"provider_msg_id"`
	}
	if err := b.r.DB().Select(&rows, `SELECT status, provider_msg_id FROM notifications ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		if row.Status != repo.StatusSent || row.MsgID != "b" {
			t.Errorf("notice #%d is %s %q, want B's result (sent \"b\") kept", i+1, row.Status, row.MsgID)
		}
	}
}

// A's leases were taken over while its own clock says they are still good
// (B's clock runs ahead of A's by more than a lease): only the extension's
// answer, which names none of them, tells A that the queued notices are no
// longer its own. The one A had in flight may go twice (README: duplicates
// are bounded by the sends in flight); the queued ones do not.
func TestNoticesTakenOverWhileTheLeaseSeemsGoodAreNotSent(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	at, b, store, clock := cutOff(t, 3)
	to := &phones{}
	var first atomic.Int64
	sender := sendFunc(func(m notify.Message) error {
		to.deliver(m.NotificationID, "A")
		if !first.CompareAndSwap(0, m.NotificationID) {
			return nil
		}
		store.claiming.Lock()
		defer store.claiming.Unlock()
		clock.add(lease / 2) // due for an extension; half the lease left
		if got := takeOver(t, b.r, to, at.Add(lease+time.Second), lease, 10); len(got) != 3 {
			t.Errorf("replica B took over %d notices, want the 3 of A's claim", len(got))
		}
		return nil
	})
	var logs syncbuf.Buffer
	runOnce(t, replicaA(t, b, store, sender, at, clock, lease, &logs))
	if ids := to.sentBy("A"); len(ids) != 1 || ids[0] != first.Load() {
		t.Errorf("replica A sent %v; only notice %d was in flight when B took the claim over", ids, first.Load())
	}
	if ids := to.sentBy("B"); len(ids) != 3 {
		t.Errorf("replica B sent %v, want the 3", ids)
	}
	if !strings.Contains(logs.String(), gaveBackLog) {
		t.Errorf("A's log does not say it gave the 2 queued notices back:\n%s", logs.String())
	}
}

// Cut off past its lease, A's leases ran out, but nobody rescued them: the
// extension that gets through when the network heals names them all. A
// still starts no send on a lease that ran out (it could not know a rescue
// did not take it in the gap): it gives them back and claims them afresh,
// and each goes out once.
func TestLeaseThatRanOutIsNotSentOnAfterTheHeal(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	at, b, store, clock := cutOff(t, 3)
	var mu sync.Mutex
	claimed := map[int64]int{}
	store.onClaim = func(ids []int64) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			claimed[id]++
		}
	}
	to := &phones{}
	var first atomic.Int64
	sender := sendFunc(func(m notify.Message) error {
		to.deliver(m.NotificationID, "A")
		if !first.CompareAndSwap(0, m.NotificationID) {
			return nil
		}
		store.claiming.Lock()
		defer store.claiming.Unlock()
		store.cut.Store(true)
		clock.add(lease + time.Second)
		store.cut.Store(false) // healed before A's worker reaches the queued two
		return nil
	})
	var logs syncbuf.Buffer
	if counts := runOnce(t, replicaA(t, b, store, sender, at, clock, lease, &logs)); counts["sent"] != 3 {
		t.Fatalf("counts %v; want the 3 sent", counts)
	}
	to.onceEach(t, 3)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range claimed {
		if want := map[bool]int{true: 1, false: 2}[id == first.Load()]; n != want {
			t.Errorf("notice %d claimed %d times, want %d (the queued ones given back and claimed afresh)", id, n, want)
		}
	}
	// Said once, not again for the lapsed leases the extension after the
	// heal finds (it would read as a new failure).
	if n := strings.Count(logs.String(), `level=WARN msg="leases could not be extended and are running out`); n != 1 {
		t.Errorf("A's log says %d times that it gave the queued notices back, want once:\n%s", n, logs.String())
	}
	attemptsAgree(t, b.r)
}

// B rescued A's claim (its clock runs ahead of A's by more than a lease:
// A's own clock says the leases are still good) and A claimed the three
// notices again before B did, while its older claim of them was still in
// its hands: the first send hanging (its answer comes after the new
// claim), the other two queued. The older jobs are dropped untried (A's
// clock would have let them go out beside the new claim's), and the late
// outcome of the hanging send does not land on the new claim (the notice
// would go back to the queue while the new claim sends it, and out again):
// each notice goes out once.
func TestNoticeClaimedAgainWhileItsOlderClaimWaitsGoesOutOnce(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	at, b, store, clock := cutOff(t, 3)
	to := &phones{}
	var logs syncbuf.Buffer
	var first atomic.Int64
	sender := sendFunc(func(m notify.Message) error {
		if !first.CompareAndSwap(0, m.NotificationID) {
			to.deliver(m.NotificationID, "A")
			return nil
		}
		clock.add(lease / 2) // half the lease left, by A's clock
		if n, err := b.r.RescueExpired(context.Background(), at.Add(lease+time.Second), "replica-b", nil); err != nil || n != 3 {
			t.Errorf("replica B rescued %d (%v), want the 3 of A's claim", n, err)
		}
		// A's producer claims the three again; the older claim's queued
		// two are given back before this send answers.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), gaveBackLog) &&
			time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond) // polling for the new claim, not timing a rule
		}
		return errHostCutOff
	})
	cfg := replicaA(t, b, store, sender, at, clock, lease, &logs)
	cfg.Interval = 20 * time.Millisecond
	stop := startDispatcher(t, cfg)
	for deadline := time.Now().Add(10 * time.Second); (to.received() < 3 || statusCounts(t, b.r)["sent"] < 3) &&
		time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // polling for the sends, not timing a rule
	}
	stop()
	to.onceEach(t, 3)
	if got := statusCounts(t, b.r); got["sent"] != 3 {
		t.Errorf("statuses %v, want the 3 sent", got)
	}
	if !strings.Contains(logs.String(), gaveBackLog) {
		t.Errorf("A's log does not say it gave the older claim's 2 queued notices back:\n%s", logs.String())
	}
}

// stallingStore's claims take half a lease on clock (a database stall).
type stallingStore struct {
	*repo.Repo
	clock *fakeClock
	lease time.Duration
}

func (s *stallingStore) ClaimNotifications(ctx context.Context, owner string, now, leaseNow time.Time, lease time.Duration,
	limit, smsCap int) ([]repo.Claim, error) {
	claims, err := s.Repo.ClaimNotifications(ctx, owner, now, leaseNow, lease, limit, smsCap)
	if len(claims) > 0 {
		s.clock.add(s.lease / 2)
	}
	return claims, err
}

// A claim that took half a lease has its leases extended as soon as it is
// back, and the dispatcher counts them from that extension: the second
// notice, started three quarters of a lease after the claim began (a
// quarter after the extension), goes out on the claim, not given back as
// if its lease were running out.
func TestSlowClaimKeepsTheLeasesItsExtensionRenewed(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	const lease = 30 * time.Second
	clock := &fakeClock{t: at}
	b := setup(t)
	store := &stallingStore{Repo: b.r, clock: clock, lease: lease}
	seedSMS(t, b.r, 2)
	to := &phones{}
	sender := sendFunc(func(m notify.Message) error {
		to.deliver(m.NotificationID, "A")
		clock.add(lease / 4)
		return nil
	})
	var logs syncbuf.Buffer
	if counts := runOnce(t, replicaA(t, b, store, sender, at, clock, lease, &logs)); counts["sent"] != 2 || counts["pending"] != 0 {
		t.Fatalf("counts %v; want both sent on the claim, none given back", counts)
	}
	to.onceEach(t, 2)
	if strings.Contains(logs.String(), "running out") {
		t.Errorf("leases the extension renewed were taken for running out:\n%s", logs.String())
	}
}

// healingStore is a cutOffStore whose first failed lease extension also
// lets the lease clock run past the lease and heals the cut: the next
// extension gets through, after the queued leases ran out.
type healingStore struct {
	*cutOffStore
	clock *fakeClock
	lease time.Duration
}

func (s *healingStore) ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]int64, error) {
	if s.cut.CompareAndSwap(true, false) {
		s.clock.add(s.lease / 2)
		return nil, errCutOff
	}
	return s.cutOffStore.ExtendLeases(ctx, owner, now, lease)
}

// Leases that lapse in one failure are said once: the extension that gets
// through after it, finding them run out, does not make the notices given
// back after it read as a second failure (an audit saw the WARN again just
// after "leases extended again").
func TestLapsedLeasesAreSaidOncePerFailure(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	at, b, cut, clock := cutOff(t, 4)
	store := &healingStore{cutOffStore: cut, clock: clock, lease: lease}
	var first atomic.Int64
	sender := sendFunc(func(m notify.Message) error {
		if first.CompareAndSwap(0, m.NotificationID) {
			store.cut.Store(true)
			clock.add(lease * 7 / 10) // past two thirds of the lease, unextended
		}
		return nil
	})
	var logs syncbuf.Buffer
	counts := runOnce(t, replicaA(t, b, store, sender, at, clock, lease, &logs))
	if counts["sent"] != 4 {
		t.Fatalf("counts %v; want the 4 sent, the 3 given back claimed afresh", counts)
	}
	if n := strings.Count(logs.String(), `level=WARN msg="leases could not be extended and are running out`); n != 1 {
		t.Errorf("the lapsing leases were said %d times, want once:\n%s", n, logs.String())
	}
}
