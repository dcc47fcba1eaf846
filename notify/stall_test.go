package notify_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
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
	ctx := context.Background()

	var mu sync.Mutex
	sentByA, sentByB := map[int64]int{}, map[int64]int{}
	var first int64
	sender := senderFunc(func(m notify.Message) {
		mu.Lock()
		defer mu.Unlock()
		sentByA[m.NotificationID]++
		if first == 0 { // in flight when the database goes silent
			first = m.NotificationID
			store.noClaims.Store(true)
			store.cut.Store(true)
		}
	})
	cfg := b.cfg
	cfg.Store, cfg.Owner = store, "replica-a"
	cfg.Senders = map[string]notify.Sender{"sms": sender, "email": b.email}
	cfg.Workers, cfg.Batch, cfg.Lease = 1, 10, lease
	cfg.WriteStall = time.Nanosecond // any outcome not yet written holds the next send: no race with the committer
	cfg.Now, cfg.LeaseClock = func() time.Time { return at }, clock.Now
	var logs syncbuf.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	d, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := d.RunOnce(ctx)
		done <- err
	}()

	// Replica A holds its next send (or, without the hold, sends the batch).
	held := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logs.String(), "outcome writes stalled") || len(sentByA) == 5
	}
	for deadline := time.Now().Add(10 * time.Second); !held(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("replica A neither held its sends nor sent the batch:\n%s", logs.String())
		}
	}
	// The silence outlasts the leases; replica B rescues the batch and
	// sends it. Then A's database answers again.
	store.claiming.Lock()
	clock.add(lease + time.Second)
	later := at.Add(lease + time.Second)
	if _, err := b.r.RescueExpired(ctx, later, "replica-b"); err != nil {
		t.Fatal(err)
	}
	claims, err := b.r.ClaimNotifications(ctx, "replica-b", later, later, lease, 10, 0)
	if err != nil || len(claims) != 5 {
		t.Fatalf("replica B claimed %d, %v; want the 5 rescued", len(claims), err)
	}
	var outs []repo.Outcome
	for _, c := range claims {
		mu.Lock()
		sentByB[c.ID]++
		mu.Unlock()
		outs = append(outs, repo.Outcome{ID: c.ID, Status: repo.StatusSent, Provider: "counting", ProviderMsgID: "b",
			SentAt: &later, Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: "counting",
				StartedAt: later, FinishedAt: later, Outcome: repo.OutcomeSent, ProviderMsgID: "b"}})
	}
	if err := b.r.FinishNotifications(ctx, "replica-b", later, outs); err != nil {
		t.Fatal(err)
	}
	store.claiming.Unlock()
	store.cut.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("replica A's run: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	for id, n := range sentByA {
		if id != first || n != 1 {
			t.Errorf("replica A sent notice %d (%d times) after its database went silent; only notice %d was in flight",
				id, n, first)
		}
	}
	if len(sentByB) != 5 {
		t.Errorf("replica B sent %v, want the 5 rescued", sentByB)
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
