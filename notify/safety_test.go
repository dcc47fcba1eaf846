package notify_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"duebell/internal/syncbuf"
	"duebell/notify"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
	"duebell/scheduler"

	"github.com/jmoiron/sqlx"
)

// heldSender blocks every send until release is closed (or, with
// honourCtx, until the send's context ends), and records what it took.
type heldSender struct {
	started   chan int64 // a notice id per send that began
	release   chan struct{}
	honourCtx bool

	mu   sync.Mutex
	sent map[int64]int
}

func newHeldSender() *heldSender {
	return &heldSender{started: make(chan int64, 1000), release: make(chan struct{}), sent: map[int64]int{}}
}

func (s *heldSender) Provider() string { return "held" }

func (s *heldSender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	s.started <- m.NotificationID
	if s.honourCtx {
		select {
		case <-s.release:
		case <-ctx.Done():
			return notify.Result{}, notify.Transient("", ctx.Err())
		}
	} else {
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent[m.NotificationID]++
	return notify.Result{ProviderMsgID: "held-" + m.To}, nil
}

func (s *heldSender) deliveries() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]int{}
	for k, v := range s.sent {
		out[k] = v
	}
	return out
}

// statusCounts counts the notices by status.
func statusCounts(t *testing.T, r dbHolder) map[string]int {
	t.Helper()
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := r.DB().Select(&rows, `SELECT status, count(*) AS n FROM notifications GROUP BY status`); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, row := range rows {
		out[row.Status] = row.N
	}
	return out
}

// attemptsAgree checks that every notice's attempts counter equals its
// attempt rows: no try is missing from the log.
// dbHolder is a store whose rows a test reads back: either store.
type dbHolder interface{ DB() *sqlx.DB }

func attemptsAgree(t *testing.T, r dbHolder) {
	t.Helper()
	var bad []int64
	if err := r.DB().Select(&bad, `SELECT n.id FROM notifications n
		WHERE n.attempts <> (SELECT count(*) FROM delivery_attempts a WHERE a.notification_id = n.id)`); err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("notices whose attempts disagree with their attempt rows: %v", bad)
	}
}

func startDispatcher(t *testing.T, cfg notify.Config) (stop func()) {
	t.Helper()
	d, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Start(ctx)
	}()
	return func() { cancel(); <-done }
}

func TestShutdownFinishesSendsInProgressAndReleasesTheRest(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	sender := newHeldSender()
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Workers, c.Batch = 4, 10
		c.Now = func() time.Time { return at }
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	seedSMS(t, b.r, 20)
	stop := startDispatcher(t, b.cfg)
	for range 4 { // every worker is inside a send
		<-sender.started
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Start returned while sends were still in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(sender.release)
	<-stopped

	if got := statusCounts(t, b.r); got["sent"] != 4 || got["pending"] != 16 || got["sending"] != 0 {
		t.Fatalf("after drain: %v, want the 4 in progress sent, 16 released pending, none left sending", got)
	}
	for _, n := range b.pending(t) {
		if n.Attempts != 0 || n.LeaseOwner != nil {
			t.Errorf("released notice %d: attempts %d owner %v; want untried and unleased", n.ID, n.Attempts, n.LeaseOwner)
		}
	}
	attemptsAgree(t, b.r)
	// One line says what the drain did: the 4 sends finished, and the 16
	// claimed but not started given back.
	if out := logs.String(); !strings.Contains(out, `msg="dispatcher stopped: every outcome written" sent=4 failed=0 back_in_queue=16`) {
		t.Errorf("no summary of the drain in the log:\n%s", out)
	}

	// The next deploy sends the rest, and nothing twice.
	if c := b.dispatch(t, at); c["sent"] != 16 {
		t.Fatalf("restart: %v", c)
	}
	for id, n := range sender.deliveries() {
		if n != 1 {
			t.Errorf("notice %d reached the provider %d times", id, n)
		}
	}
	if got := len(sender.deliveries()); got != 20 {
		t.Errorf("%d notices delivered, want 20", got)
	}
}

// TestEveryStopLogsTheDrain: however soon after its stop the dispatcher
// finishes (an idle one at once), it logs what the drain did. The summary
// was missing when the stop's callback (context.AfterFunc) had started but
// not yet run: seen 2 in 16 stops of a serve on a loaded machine, never in
// this process, where the callback runs first; this guards the order.
func TestEveryStopLogsTheDrain(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Now = func() time.Time { return at }
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	const runs = 200
	for range runs {
		startDispatcher(t, b.cfg)()
	}
	if n := strings.Count(logs.String(), `msg="dispatcher stopped: every outcome written" sent=0 failed=0 back_in_queue=0`); n != runs {
		t.Errorf("%d drain summaries for %d stops:\n%s", n, runs, logs.String())
	}
}

func TestShutdownGraceCutsOffSendsAndLogsThemUnknown(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	sender := newHeldSender()
	sender.honourCtx = true
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Workers, c.Batch, c.ShutdownGrace = 2, 10, 20*time.Millisecond
		c.Now, c.Logger = func() time.Time { return at }, slog.New(slog.NewTextHandler(&logs, nil))
	})
	seedSMS(t, b.r, 5)
	stop := startDispatcher(t, b.cfg)
	<-sender.started
	<-sender.started
	stop() // the provider never answers: the grace runs out

	if got := statusCounts(t, b.r); got["pending"] != 5 || got["sending"] != 0 {
		t.Fatalf("after the grace: %v, want all pending, none left sending", got)
	}
	var unknown []repo.Attempt
	if err := b.r.DB().Select(&unknown, `SELECT * FROM delivery_attempts WHERE outcome = 'unknown'`); err != nil {
		t.Fatal(err)
	}
	if len(unknown) != 2 {
		t.Fatalf("%d unknown attempts, want the 2 sends cut off", len(unknown))
	}
	attemptsAgree(t, b.r)
	for _, want := range []string{"shutdown grace over", "send cut off at shutdown, outcome unknown"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// steppingClock moves forward by step at every send: a slow provider, in
// the dispatcher's time.
type steppingClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *steppingClock) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
}

// countingSender records what it sends; with a clock, each send moves it.
type countingSender struct {
	clock   *steppingClock // nil: sends take no time
	n       atomic.Int64
	onCount map[int64]func()
	mu      sync.Mutex
	sent    map[int64]int
}

func (s *countingSender) Provider() string { return "counting" }

func (s *countingSender) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	if s.clock != nil {
		s.clock.tick()
	}
	s.mu.Lock()
	s.sent[m.NotificationID]++
	s.mu.Unlock()
	if f := s.onCount[s.n.Add(1)]; f != nil {
		f()
	}
	return notify.Result{ProviderMsgID: "n"}, nil
}

// replicaSender sends into another sender's sink without taking time.
type replicaSender struct{ to *countingSender }

func (s *replicaSender) Provider() string { return "counting" }

func (s *replicaSender) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	s.to.mu.Lock()
	s.to.sent[m.NotificationID]++
	s.to.mu.Unlock()
	return notify.Result{ProviderMsgID: "n"}, nil
}

func TestStaggeredReplicasWithALongRunSendNothingTwice(t *testing.T) {
	// Not parallel: the simulated provider moves the clock a second per send
	// in microseconds of real time, so a database statement slowed by other
	// tests spans many simulated seconds, which no real provider produces.
	clock := &steppingClock{t: sh(11, 21, 10, 0), step: time.Second}
	startB := make(chan struct{})
	// Replica A's provider is slow: each of its sends takes a second of the
	// shared clock (B's take none, so B cannot outrun a live A by being
	// scheduled more often). Both record into one sink.
	sender := &countingSender{clock: clock, sent: map[int64]int{},
		onCount: map[int64]func(){30: func() { close(startB) }}}
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Workers, c.Batch, c.Lease = 1, 24, 20*time.Second // a batch outlives a lease
		c.Now = clock.Now
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	defer func() {
		if t.Failed() {
			t.Logf("dispatcher log:\n%s", logs.String())
		}
	}()
	seedSMS(t, b.r, 52)
	// Replica A runs alone for 30 s of its clock, past its first lease;
	// then replica B starts and both drain the queue.
	var wg sync.WaitGroup
	for _, owner := range []string{"replica-a", "replica-b"} {
		cfg := b.cfg
		cfg.Owner = owner
		cfg.Senders = map[string]notify.Sender{"sms": sender, "email": b.email}
		if owner == "replica-b" {
			cfg.Senders["sms"] = &replicaSender{sender}
		}
		d, err := notify.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if owner == "replica-b" {
				<-startB
			}
			if _, err := d.RunOnce(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sender.sent) != 52 {
		t.Errorf("%d notices sent, want 52", len(sender.sent))
	}
	for id, n := range sender.sent {
		if n != 1 {
			t.Errorf("notice %d sent %d times", id, n)
		}
	}
	if got := statusCounts(t, b.r); got["sent"] != 52 {
		t.Errorf("statuses %v, want 52 sent", got)
	}
	attemptsAgree(t, b.r)
}

// sendCount records what a sender took, by notice, for the outage tests.
type sendCount struct {
	mu   sync.Mutex
	sent map[int64]int
}

func (c *sendCount) record(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent == nil {
		c.sent = map[int64]int{}
	}
	c.sent[id]++
}

// onceEach checks that want notices were sent, each once.
func (c *sendCount) onceEach(t *testing.T, want int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) != want {
		t.Errorf("%d notices sent, want %d", len(c.sent), want)
	}
	for id, n := range c.sent {
		if n != 1 {
			t.Errorf("notice %d sent %d times", id, n)
		}
	}
}

// outageStore is a test schema's store, its name, and a connection from
// outside with which a test takes the database away from the dispatcher.
func outageStore(t *testing.T) (*repo.Repo, string, *sql.DB) {
	t.Helper()
	r, schema := repotest.NewWithURL(t)
	admin, err := sql.Open("postgres", repotest.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return r, schema, admin
}

// cuttingSender, at its first send, makes the outcome write that follows
// meet a database that drops it, the way a PostgreSQL restart does: it
// locks the attempt log from outside, waits until the dispatcher's write is
// queued on that lock, terminates that backend, and lets go.
type cuttingSender struct {
	sendCount
	admin  *sql.DB
	schema string
	once   sync.Once
	done   chan struct{} // closed when the cut is over
	cut    int
	t      *testing.T
}

func (s *cuttingSender) Provider() string { return "cutting" }

func (s *cuttingSender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	s.once.Do(func() {
		tx, err := s.admin.BeginTx(ctx, nil)
		if err == nil {
			_, err = tx.ExecContext(ctx, `LOCK TABLE `+s.schema+`.delivery_attempts IN ACCESS EXCLUSIVE MODE`)
		}
		if err != nil {
			s.t.Error(err)
			close(s.done)
			return
		}
		go func() {
			defer close(s.done)
			defer tx.Rollback()
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && s.cut == 0; {
				if err := s.admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
					WHERE application_name = 'duebell/' || $1 AND wait_event_type = 'Lock'`, s.schema).Scan(&s.cut); err != nil {
					s.t.Error(err)
					return
				}
				time.Sleep(5 * time.Millisecond) // polling for the write to queue up, not timing a rule
			}
		}()
	})
	s.record(m.NotificationID)
	return notify.Result{ProviderMsgID: "c"}, nil
}

func TestDatabaseBlipDelaysTheOutcomeWriteAndLosesNothing(t *testing.T) {
	t.Parallel()
	r, schema, admin := outageStore(t)
	at := sh(11, 21, 10, 0)
	sender := &cuttingSender{admin: admin, schema: schema, t: t, done: make(chan struct{})}
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Store = r
		c.Senders["sms"] = sender
		c.Workers, c.Batch = 1, 10
		c.Now, c.Logger = func() time.Time { return at }, slog.New(slog.NewTextHandler(&logs, nil))
	})
	b.r = r
	seedSMS(t, r, 3)
	// A running daemon has its statements prepared after its first batch,
	// so the blip meets the write itself: record an outcome for no notice.
	if err := r.FinishNotifications(context.Background(), "warm-up", at, []repo.Outcome{{ID: -1, Status: repo.StatusSent}}); err != nil {
		t.Fatal(err)
	}
	if c := b.dispatch(t, at); c["sent"] != 3 {
		t.Fatalf("counts %v", c)
	}
	<-sender.done
	if sender.cut == 0 {
		t.Fatal("no connection was cut: the test did not exercise the blip")
	}
	if got := statusCounts(t, r); got["sent"] != 3 {
		t.Errorf("statuses %v, want all 3 sent despite the blip", got)
	}
	sender.onceEach(t, 3)
	attemptsAgree(t, r)
	if !strings.Contains(logs.String(), "outcome write failed, retrying") {
		t.Errorf("the failed write was not logged:\n%s", logs.String())
	}
}

func TestIdleDispatcherSendsWhenTheWindowOpensNotAtItsNextPoll(t *testing.T) {
	t.Parallel()
	// The dispatcher's clock runs at wall-clock speed from 08:59:59.6 local;
	// its poll interval is a minute, so only waking for the next due notice
	// gets the reminder out at the 09:00 opening.
	start, opening := time.Now(), sh(11, 21, 9, 0)
	clock := func() time.Time { return opening.Add(-400*time.Millisecond + time.Since(start)) }
	sender := &countingSender{sent: map[int64]int{}}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Now, c.Interval = clock, time.Minute
	})
	seedSMS(t, b.r, 1)
	stop := startDispatcher(t, b.cfg)
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for sender.n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the sink, not timing a rule
	}
	// Ten seconds of slack for a loaded machine, against the minute a
	// polling dispatcher would sleep.
	if sender.n.Load() == 0 {
		t.Fatal("the reminder did not go out within 10 s of the window opening; the dispatcher waited for its poll")
	}
}

// outageSender, at its first send, takes the database away from the
// dispatcher for outage, as a restart or a failover does: every connection
// is reset, and every new one is reset as it opens, so every statement (the
// outcome write, the lease extension, the next claim) fails until it is
// over; then the database answers again.
type outageSender struct {
	sendCount
	link   *repotest.Link
	outage time.Duration
	once   sync.Once
	over   chan struct{}
}

func (s *outageSender) Provider() string { return "outage" }

func (s *outageSender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	s.once.Do(func() {
		s.link.Down() // the outcome write that follows meets the outage
		go func() {
			defer close(s.over)
			time.Sleep(s.outage) // the outage's length, not a rule's timing
			s.link.Up()
		}()
	})
	s.record(m.NotificationID)
	return notify.Result{ProviderMsgID: "o"}, nil
}

// A database outage three leases long while outcomes are being written:
// the dispatcher keeps retrying the write until the database is back
// (an outcome given up on would leave its notice sending under a lease the
// live process keeps extending, then be sent again after a restart), never
// rescues its own notices meanwhile, and sends each notice once.
func TestDatabaseOutageLongerThanTheLeaseLosesNoOutcome(t *testing.T) {
	t.Parallel()
	r, direct, link := repotest.NewLinked(t)
	at := sh(11, 21, 10, 0)
	sender := &outageSender{link: link, outage: 3 * time.Second, over: make(chan struct{})}
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Store, c.Senders["sms"] = r, sender
		c.Workers, c.Batch, c.Lease = 1, 10, time.Second
		// Rules as of 10:00 on the 21st; leases on the wall clock, which
		// the outage spans. Claims every 50 ms: many of them meet the outage.
		c.Now, c.LeaseClock = func() time.Time { return at }, time.Now
		c.Interval = 50 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	seedSMS(t, r, 3)
	stop := startDispatcher(t, b.cfg)
	<-sender.over
	// Stopped once the outcome landed and the claims got through again (a
	// stop in the middle of a pause would leave it without its resume).
	// The outcome is read from outside, past the outage.
	resumed := func() int {
		return strings.Count(logs.String(), `level=INFO msg="dispatch resumed: database reachable again"`)
	}
	for deadline := time.Now().Add(30 * time.Second); (statusCounts(t, direct)["sent"] < 3 || resumed() == 0) &&
		time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // waiting for the outcome to land, not timing a rule
	}
	stop()
	if got := statusCounts(t, direct); got["sent"] != 3 {
		t.Errorf("statuses %v after the outage, want all 3 sent", got)
	}
	sender.onceEach(t, 3)
	attemptsAgree(t, direct)
	out := logs.String()
	if !strings.Contains(out, "outcome write failed, retrying") ||
		strings.Contains(out, "giving up") || strings.Contains(out, "expired leases rescued") {
		t.Errorf("want the write retried until it landed, nothing given up or rescued:\n%s", out)
	}
	// Claims that meet an outage say so once until a claim succeeds again
	// (an operator paging on ERROR is not woken at every claim): one
	// outage, one pause and one resume.
	paused := strings.Count(out, `level=WARN msg="dispatch paused: database unavailable`)
	if paused != 1 || resumed() != 1 || strings.Contains(out, "dispatch claim failed") {
		t.Errorf("%d pause warnings, %d resume lines for one outage; want one of each, and no claim error:\n%s",
			paused, resumed(), out)
	}
}

// A run pinned to a past instant (dispatch --once --at, replaying a missed
// morning) leases on the wall clock: a serving replica's rescue finds
// nothing of it to take while it sends.
func TestPinnedRunLeasesOnTheWallClock(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0) // days before the wall clock
	sender := newHeldSender()
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"], c.Workers = sender, 1
		c.Now, c.LeaseClock = func() time.Time { return at }, time.Now
	})
	seedSMS(t, b.r, 2)
	done := make(chan notify.Counts)
	go func() { done <- b.dispatch(t, at) }()
	<-sender.started
	n, err := b.r.RescueExpired(context.Background(), time.Now(), "serving-replica", nil)
	close(sender.release)
	if c := <-done; c["sent"] != 2 {
		t.Errorf("counts %v, want 2 sent", c)
	}
	if err != nil || n != 0 {
		t.Errorf("a replica's rescue took %d notices (%v) from the pinned run", n, err)
	}
	for id, times := range sender.deliveries() {
		if times != 1 {
			t.Errorf("notice %d sent %d times", id, times)
		}
	}
}

// A run pinned to a future instant (dispatch --once --at tomorrow 09:00)
// leases on the wall clock too: killed mid-send, its notices return after
// the lease as a serving replica counts it, not a lease after the pinned
// instant (a day, or a year, of notices stuck sending).
func TestPinnedFutureRunLeasesOnTheWallClock(t *testing.T) {
	t.Parallel()
	y, m, d := time.Now().In(shanghaiLoc).AddDate(1, 0, 0).Date()
	at := time.Date(y, m, d, 10, 0, 0, 0, shanghaiLoc) // a year after the wall clock
	sender := newHeldSender()
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"], c.Workers = sender, 1
		c.Now, c.LeaseClock = func() time.Time { return at }, time.Now
	})
	storetest.Customer(t, b.r, "cf")
	storetest.Plan(t, b.r, "pcf", "cf", []repo.Date{repo.NewDate(y, m, d+3)})
	if _, err := b.r.QueueDueReminders(context.Background(), at, smsOnlyStages); err != nil {
		t.Fatal(err)
	}
	done := make(chan notify.Counts)
	go func() { done <- b.dispatch(t, at) }()
	<-sender.started
	var leases []time.Time
	err := b.r.DB().Select(&leases, `SELECT lease_expires_at FROM notifications WHERE status = 'sending'`)
	close(sender.release)
	if c := <-done; c["sent"] != 1 {
		t.Errorf("counts %v, want 1 sent", c)
	}
	if err != nil || len(leases) != 1 {
		t.Fatalf("leases %v (%v), want the one notice sending", leases, err)
	}
	if limit := time.Now().Add(notify.DefaultLease + time.Minute); leases[0].After(limit) {
		t.Errorf("the pinned run leased until %v, want at most a lease after the wall clock (%v)", leases[0], limit)
	}
}

// pooledSender has one session, as a relay's connection limit allows: a
// send waits for it, and gives up untried at its StartBy instant or when
// the dispatcher stops (notify.StartStop), as the SMTP sender does. The session's send is held
// until release.
type pooledSender struct {
	session chan struct{}
	started chan int64
	release chan struct{}
}

func (*pooledSender) Provider() string { return "pooled" }

func (s *pooledSender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	var by <-chan time.Time
	if t, ok := notify.StartBy(ctx); ok {
		timer := time.NewTimer(time.Until(t))
		defer timer.Stop()
		by = timer.C
	}
	select {
	case s.session <- struct{}{}:
	case <-notify.StartStop(ctx):
		return notify.Result{}, fmt.Errorf("no session free before the dispatcher stopped: %w", notify.ErrNotStarted)
	case <-by:
		return notify.Result{}, fmt.Errorf("no session free in time: %w", notify.ErrNotStarted)
	}
	defer func() { <-s.session }()
	s.started <- m.NotificationID
	<-s.release
	return notify.Result{ProviderMsgID: "pooled"}, nil
}

// A deploy behind a slow relay: the sends waiting for a session when the
// dispatcher is told to stop are given back untried, like the notices not
// yet started, instead of starting one after another through the shutdown
// grace and being cut off at its end (sent twice after the restart: an
// audit counted 8 with a relay taking 5 s a message).
func TestShutdownGivesBackSendsWaitingForASession(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	sender := &pooledSender{session: make(chan struct{}, 1), started: make(chan int64, 10), release: make(chan struct{})}
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"] = sender
		c.Workers, c.Batch = 3, 10
		c.Now = func() time.Time { return at }
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	seedSMS(t, b.r, 3)
	stop := startDispatcher(t, b.cfg)
	<-sender.started // one send holds the session; two workers wait for it
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "dispatcher stopped") &&
		time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if got := statusCounts(t, b.r); got["pending"] == 2 {
			break // the two waiting were given back while the first still sends
		}
	}
	close(sender.release)
	<-stopped
	if got := statusCounts(t, b.r); got["sent"] != 1 || got["pending"] != 2 {
		t.Fatalf("after the drain: %v, want the one in progress sent and the two waiting given back", got)
	}
	for _, n := range b.pending(t) {
		if n.Attempts != 0 {
			t.Errorf("notice %d given back with %d attempts, want untried", n.ID, n.Attempts)
		}
	}
	attemptsAgree(t, b.r)
	if out := logs.String(); !strings.Contains(out, `msg="dispatcher stopped: every outcome written" sent=1 failed=0 back_in_queue=2`) {
		t.Errorf("no summary of the drain in the log:\n%s", out)
	}
}

// A relay so slow that its sessions stay busy does not hold the SMS back:
// an email that waits BusyWait for a session is deferred untried, and the
// worker goes on to the SMS behind it. Every worker used to end up waiting
// for the relay (an audit: SMS at 3 a second behind a relay taking 3 s an
// email, their gateway answering at once).
func TestSlowRelayDoesNotHoldTheSMSBack(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	relay := &pooledSender{session: make(chan struct{}, 1), started: make(chan int64, 10), release: make(chan struct{})}
	b := setup(t, func(c *notify.Config) {
		c.Senders["email"] = relay
		c.Workers, c.Batch = 2, 10
		c.BusyWait = 50 * time.Millisecond
		c.Now = func() time.Time { return at }
	})
	for _, ref := range []string{"c1", "c2", "c3"} {
		storetest.Customer(t, b.r, ref)
		storetest.Plan(t, b.r, "p-"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 24)})
	}
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), scheduler.DefaultStages()); err != nil {
		t.Fatal(err)
	}
	// The emails come first in the queue: both workers meet one.
	if _, err := b.r.DB().Exec(`UPDATE notifications SET next_attempt_at = next_attempt_at - interval '1 minute' WHERE channel = 'email'`); err != nil {
		t.Fatal(err)
	}
	done := runOnceAsync(t, b.cfg)
	<-relay.started // one email holds the relay's only session
	for deadline := time.Now().Add(10 * time.Second); len(b.sms.messages()) < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 SMS sent while the relay held its session", len(b.sms.messages()))
		}
	}
	close(relay.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var emails []repo.Notification
	if err := b.r.DB().Select(&emails, `SELECT * FROM notifications WHERE channel = 'email' AND status = 'pending' ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(emails) != 2 {
		t.Fatalf("%d emails deferred, want the 2 that found the session busy", len(emails))
	}
	for _, n := range emails {
		wait := n.NextAttemptAt.Sub(at)
		if n.Attempts != 0 || n.StatusReason != "waiting: every pooled session busy" || wait < 4*time.Minute || wait > 6*time.Minute {
			t.Errorf("deferred email %d: %d attempts, %q, next in %v; want untried, about 5 minutes on", n.ID, n.Attempts, n.StatusReason, wait)
		}
	}
	attemptsAgree(t, b.r)
}
