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

// Sends are paced 1/rate apart from the first, not let through a rate's
// worth at once: a provider's limit control counting any one second (a
// sliding window) never sees more than the rate (+1). With the burst at the
// rate, the first second after an idle spell or a restart took twice the
// rate (an audit: 98 SMS at 50 a second).
func TestRateLimitSpacesSends(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	clock := &fakeClock{t: at, advance: true}
	sender := &clockedSender{clock: clock}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Workers, c.Now, c.Sleep = 1, clock.Now, clock.Sleep
		c.RateLimits, c.RateWait = map[string]float64{"clocked": 4}, 2*time.Second
	})
	seedSMS(t, b.r, 8)
	if c := b.dispatch(t, at); c["sent"] != 8 {
		t.Fatalf("counts %v", c)
	}
	var want []time.Time
	for i := range 8 {
		want = append(want, at.Add(time.Duration(i)*250*time.Millisecond))
	}
	if !slices.EqualFunc(sender.at, want, time.Time.Equal) {
		t.Fatalf("sends at %v, want one every 250 ms from %v", sender.at, at)
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
	// Each deferred notice has a turn of its own, one token's time after
	// the other's: they come back one at a time, each to a free token, not
	// all at +3s, where two of the three would be deferred again.
	var turns []time.Time
	for _, n := range b.pending(t) {
		turns = append(turns, n.NextAttemptAt)
		if n.Attempts != 0 || !strings.Contains(n.StatusReason, "rate limit") {
			t.Errorf("deferred notice: attempts %d reason %q", n.Attempts, n.StatusReason)
		}
		if len(b.attempts(t, n.ID)) != 0 {
			t.Errorf("a deferral was logged as a delivery attempt")
		}
	}
	slices.SortFunc(turns, time.Time.Compare)
	if want := []time.Time{at.Add(3 * time.Second), at.Add(4 * time.Second), at.Add(5 * time.Second)}; !slices.EqualFunc(turns, want, time.Time.Equal) {
		t.Errorf("deferred to %v, want %v", turns, want)
	}
	for _, turn := range turns { // each, claimed at its turn, finds its token
		clock.t = turn
		if c := b.dispatch(t, turn); c["sent"] != 1 || c["pending"] != 0 {
			t.Fatalf("at its turn %v: %v", turn, c)
		}
	}
	if len(clock.waits) != 2 {
		t.Errorf("a notice back at its turn waited: %v", clock.waits)
	}
}

// notifyingSender is a scripted sender that says so on sent at each send.
type notifyingSender struct {
	*scriptedSender
	sent chan<- struct{}
}

func (n notifyingSender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	res, err := n.scriptedSender.Send(ctx, m)
	n.sent <- struct{}{}
	return res, err
}

// A rate-limited SMS gateway holds at most half the workers waiting for
// its tokens: the others send the emails claimed with the SMS meanwhile.
// Before, every worker ended up waiting for an SMS token, and the emails of
// a morning went out at the SMS gateway's rate.
func TestRateLimitedProviderLeavesWorkersForTheOthers(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	clock := &fakeClock{t: at}
	emails, waiting, release := make(chan struct{}, 10), make(chan struct{}, 10), make(chan struct{})
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = &clockedSender{clock: clock}
		c.Workers, c.Now = 4, clock.Now
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			waiting <- struct{}{}
			select { // the token frees when the test says so
			case <-release:
			case <-ctx.Done():
			}
			return clock.Sleep(ctx, d)
		}
		c.RateLimits, c.RateWait = map[string]float64{"clocked": 1}, time.Minute
	})
	b.cfg.Senders["email"] = notifyingSender{b.email, emails}
	for i := range 10 {
		ref := fmt.Sprintf("c%d", i)
		storetest.Customer(t, b.r, ref)
		storetest.Plan(t, b.r, "p"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 24)})
	}
	both := []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms", "email"}}}
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), both); err != nil {
		t.Fatal(err)
	}
	type result struct {
		counts notify.Counts
		err    error
	}
	done := make(chan result, 1)
	go func() {
		d, err := notify.New(b.cfg)
		if err != nil {
			done <- result{err: err}
			return
		}
		counts, err := d.RunOnce(context.Background())
		done <- result{counts, err}
	}()
	timeout := time.After(20 * time.Second)
	for range 10 {
		select {
		case <-emails:
		case r := <-done:
			t.Fatalf("dispatch ended before every email went: %v %v", r.counts, r.err)
		case <-timeout:
			t.Fatalf("the emails did not go out while SMS waited for tokens (%d sent)", len(b.email.messages()))
		}
	}
	// Two workers wait for SMS tokens (half of 4), no more. The second may
	// reach its wait after the emails went (a loaded machine).
	for i := range 2 {
		select {
		case <-waiting:
		case <-timeout:
			t.Fatalf("%d workers wait for SMS tokens, want 2 (half of 4)", i)
		}
	}
	if n := len(waiting); n != 0 {
		t.Errorf("%d workers wait for SMS tokens, want 2 (half of 4)", 2+n)
	}
	close(release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The SMS the two waiting workers could not take are deferred, each to a
	// turn of its own (how many depends on when the waits end), untried.
	deferred := b.pending(t)
	if r.counts["sent"]+len(deferred) != 20 || len(b.email.messages()) != 10 {
		t.Fatalf("counts %v, %d deferred, %d emails; want every notice sent or deferred, every email sent",
			r.counts, len(deferred), len(b.email.messages()))
	}
	turns := map[time.Time]bool{}
	for _, n := range deferred {
		if n.Channel != "sms" || n.Attempts != 0 || !strings.Contains(n.StatusReason, "rate limit") || turns[n.NextAttemptAt] {
			t.Errorf("deferred: %s attempts %d reason %q at %v", n.Channel, n.Attempts, n.StatusReason, n.NextAttemptAt)
		}
		turns[n.NextAttemptAt] = true
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

// dispatch --once from cron on the real clock still sends a rate-limited
// backlog whole: it waits for the turns it gave the SMS its waiting workers
// could not take, as it used to wait for their tokens, and ends when the
// last has gone. (The clock is real: the tokens free as time passes.)
func TestRunOnceWaitsForTheRateLimitTurnsItGave(t *testing.T) {
	t.Parallel()
	at, t0 := sh(11, 21, 10, 0), time.Now()
	sms := &namedSender{&scriptedSender{}, "gateway"}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sms
		c.Workers, c.Now = 4, func() time.Time { return at.Add(time.Since(t0)) }
		c.RateLimits = map[string]float64{"gateway": 40}
	})
	smsNotices(t, b, func() (refs []string) {
		for i := range 60 {
			refs = append(refs, fmt.Sprintf("c%d", i))
		}
		return refs
	}()...)
	if c := runOnce(t, b.cfg); c["sent"] != 60 {
		t.Fatalf("counts %v, want all 60 SMS sent in the one run", c)
	}
	if n, left := len(sms.messages()), len(b.pending(t)); n != 60 || left != 0 {
		t.Fatalf("the gateway got %d SMS and %d wait, want 60 and none", n, left)
	}
}
