package notify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/notify"
	"duebell/repo"
	"duebell/repo/storetest"
)

func TestTokenBucketReservesWithinMaxWait(t *testing.T) {
	t.Parallel()
	t0 := sh(11, 21, 9, 0)
	b := notify.NewTokenBucket(2, 2) // 2 a second, burst 2
	want := []struct {
		at   time.Duration // after t0
		ok   bool
		when time.Duration
	}{
		{0, true, 0}, {0, true, 0}, // the burst
		{0, true, 500 * time.Millisecond}, {0, true, time.Second}, // promised to waiting senders
		{0, false, 1500 * time.Millisecond}, // beyond maxWait: not taken
		{0, false, 1500 * time.Millisecond}, // so the next asker sees the same
		{2 * time.Second, true, 2 * time.Second},
		{10 * time.Second, true, 10 * time.Second}, {10 * time.Second, true, 10 * time.Second}, // refilled, capped at burst
		{10 * time.Second, true, 10*time.Second + 500*time.Millisecond},
	}
	for i, w := range want {
		when, ok := b.Reserve(t0.Add(w.at), time.Second)
		if ok != w.ok || !when.Equal(t0.Add(w.when)) {
			t.Errorf("reserve %d at +%v = +%v %v, want +%v %v", i, w.at, when.Sub(t0), ok, w.when, w.ok)
		}
	}
}

// fakeClock is the dispatcher's clock; its sleep records each wait and,
// when advance is set, moves the clock on by it.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	advance bool
	waits   []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// add moves the clock on by d (a test's step, not a wait).
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	if c.advance {
		c.t = c.t.Add(d)
	}
	return nil
}

// clockedSender records the clock's time at each send.
type clockedSender struct {
	clock *fakeClock
	mu    sync.Mutex
	at    []time.Time
}

func (s *clockedSender) Provider() string { return "clocked" }

func (s *clockedSender) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, s.clock.Now())
	return notify.Result{ProviderMsgID: "c-" + m.To}, nil
}

// seedSMS queues n SMS-only reminders for n customers, due 2026-11-24.
func seedSMS(t *testing.T, r *repo.Repo, n int) {
	t.Helper()
	for i := range n {
		ref := "c" + string(rune('a'+i))
		storetest.Customer(t, r, ref)
		storetest.Plan(t, r, "p"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 24)})
	}
	if _, err := r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}
}

var smsOnlyStages = []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"}}}

func TestRateLimitSpacesSends(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	clock := &fakeClock{t: at, advance: true}
	sender := &clockedSender{clock: clock}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Workers, c.Now, c.Sleep = 1, clock.Now, clock.Sleep
		c.RateLimits, c.RateWait = map[string]float64{"clocked": 1}, 2*time.Second
	})
	seedSMS(t, b.r, 4)
	if c := b.dispatch(t, at); c["sent"] != 4 {
		t.Fatalf("counts %v", c)
	}
	want := []time.Time{at, at.Add(time.Second), at.Add(2 * time.Second), at.Add(3 * time.Second)}
	if !slices.EqualFunc(sender.at, want, time.Time.Equal) {
		t.Fatalf("sends at %v, want one a second from %v", sender.at, at)
	}
	// The attempt log and sent_at say when each try was made, after its
	// wait for the rate limit, not when the worker picked the notice up.
	var sent []repo.Notification
	if err := b.r.DB().Select(&sent, `SELECT * FROM notifications ORDER BY sent_at`); err != nil {
		t.Fatal(err)
	}
	for i, n := range sent {
		if as := b.attempts(t, n.ID); len(as) != 1 || !as[0].StartedAt.Equal(want[i]) || n.SentAt == nil ||
			n.SentAt.Before(want[i]) || n.SentAt.After(want[i].Add(time.Second)) {
			t.Errorf("notice %d: attempts %+v sent_at %v, want started at %v", n.ID, as, n.SentAt, want[i])
		}
	}
}

func TestRateLimitDefersWhatCannotGoSoon(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	clock := &fakeClock{t: at} // sleeping does not move it: every worker asks at the same instant
	sender := &clockedSender{clock: clock}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Now, c.Sleep = clock.Now, clock.Sleep
		c.RateLimits, c.RateWait = map[string]float64{"clocked": 1}, 2*time.Second
	})
	seedSMS(t, b.r, 6)
	if c := b.dispatch(t, at); c["sent"] != 3 || c["pending"] != 3 {
		t.Fatalf("counts %v, want 3 sent (now, +1s, +2s) and 3 deferred", c)
	}
	slices.Sort(clock.waits)
	if !slices.Equal(clock.waits, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("waits %v, want 1s and 2s", clock.waits)
	}
	for _, n := range b.pending(t) {
		if !n.NextAttemptAt.Equal(at.Add(3*time.Second)) || n.Attempts != 0 || !strings.Contains(n.StatusReason, "rate limit") {
			t.Errorf("deferred notice: next %v attempts %d reason %q", n.NextAttemptAt, n.Attempts, n.StatusReason)
		}
		if len(b.attempts(t, n.ID)) != 0 {
			t.Errorf("a deferral was logged as a delivery attempt")
		}
	}
	clock.t = at.Add(3 * time.Second)
	if c := b.dispatch(t, at.Add(3*time.Second)); c["sent"] != 3 {
		t.Fatalf("when the tokens free: %v", c)
	}
}

// A notice that passed the send-window check at 19:59:58 but must wait for
// its rate-limit token past 20:00 does not go out after the window closed:
// it waits, without an attempt, for the next opening.
func TestRateLimitWaitDoesNotCarryASendPastTheWindow(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 19, 59).Add(58 * time.Second)
	clock := &fakeClock{t: at, advance: true}
	sender := &clockedSender{clock: clock}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Workers, c.Now, c.Sleep = 1, clock.Now, clock.Sleep
		c.RateLimits, c.RateWait = map[string]float64{"clocked": 1}, 5*time.Second
	})
	seedSMS(t, b.r, 3)
	if c := b.dispatch(t, at); c["sent"] != 2 || c["pending"] != 1 {
		t.Fatalf("counts %v, want 2 sent (19:59:58, 19:59:59) and 1 waiting for the window", c)
	}
	for _, s := range sender.at {
		if !s.Before(sh(11, 21, 20, 0)) {
			t.Errorf("sent at %v, after the window closed at 20:00", s.In(shanghaiLoc))
		}
	}
	waitsForNextOpening(t, b)
}

// busySender is a provider all of whose sessions are taken: a send waits
// for one until its StartBy instant and then gives up untried.
type busySender struct {
	mu      sync.Mutex
	startBy []time.Time
}

func (s *busySender) Provider() string { return "busy" }

func (s *busySender) Send(ctx context.Context, _ notify.Message) (notify.Result, error) {
	t, ok := notify.StartBy(ctx)
	if !ok {
		return notify.Result{}, errors.New("no StartBy: the wait could outlast the send window")
	}
	s.mu.Lock()
	s.startBy = append(s.startBy, t)
	s.mu.Unlock()
	select {
	case <-time.After(time.Until(t)):
	case <-ctx.Done():
	}
	return notify.Result{}, fmt.Errorf("no session free: %w", notify.ErrNotStarted)
}

// A notice that passed the send-window check at 19:59:59.8 and then waits
// for its provider (every SMTP session busy) stops waiting when the window
// closes at 20:00: it waits, without an attempt, for the next opening.
func TestSenderWaitDoesNotCarryASendPastTheWindow(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 19, 59).Add(59800 * time.Millisecond)
	clock := &fakeClock{t: at}
	sender := &busySender{}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Now, c.Sleep = clock.Now, clock.Sleep
	})
	seedSMS(t, b.r, 1)
	before := time.Now()
	if c := b.dispatch(t, at); c["pending"] != 1 {
		t.Fatalf("counts %v, want the notice waiting for the window", c)
	}
	after := time.Now()
	if len(sender.startBy) != 1 || sender.startBy[0].Before(before.Add(200*time.Millisecond)) ||
		sender.startBy[0].After(after.Add(200*time.Millisecond)) {
		t.Errorf("the sender was told to start by %v, want 200ms after the dispatch began (%v)", sender.startBy, before)
	}
	waitsForNextOpening(t, b)
}

// waitsForNextOpening checks that the one notice the send window closed on
// on 21 Nov waits, untried, for its opening at 09:00 on the 22nd.
func waitsForNextOpening(t *testing.T, b *bundle) {
	t.Helper()
	p := b.pending(t)
	if len(p) != 1 || !p[0].NextAttemptAt.Equal(sh(11, 22, 9, 0)) || p[0].Attempts != 0 ||
		p[0].StatusReason != "waiting for send window" || len(b.attempts(t, p[0].ID)) != 0 {
		t.Fatalf("the notice the window closed on: %+v, want pending until 09:00 the next day, no attempt", p)
	}
}
