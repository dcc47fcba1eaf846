package notify_test

import (
	"context"
	"strings"
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
