package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/internal/smtptest"
	"duebell/notify"
	"duebell/notify/email"
	"duebell/repo"
	"duebell/repo/storetest"
)

// limitedSender is a scripted sender whose daily limit lifts when lifts says.
type limitedSender struct {
	*scriptedSender
	lifts func(refusedAt time.Time) time.Time
}

func (l limitedSender) DailyLimitLifts(_ string, refusedAt time.Time) time.Time {
	return l.lifts(refusedAt)
}

// namedSender is a scripted sender under another provider name.
type namedSender struct {
	*scriptedSender
	name string
}

func (n namedSender) Provider() string { return n.name }

// circuitWatch records the circuit changes a dispatcher reports.
type circuitWatch struct {
	mu      sync.Mutex
	changes []string
}

func (w *circuitWatch) Finished(string, string, string, time.Duration) {}
func (w *circuitWatch) CircuitOpen(provider string, open bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.changes = append(w.changes, map[bool]string{true: "open ", false: "closed "}[open]+provider)
}

// lockedBuf is a log sink safe for the dispatcher's workers.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// smsNotices queues one SMS reminder for each of refs (bills due 11-24).
func smsNotices(t *testing.T, b *bundle, refs ...string) {
	t.Helper()
	for i, ref := range refs {
		storetest.Customer(t, b.r, ref, func(c *repo.Customer) { c.Phone = fmt.Sprintf("+86138123%05d", 45670+i) })
		storetest.Plan(t, b.r, "p-"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 24)})
	}
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) smsNotices(t *testing.T) []repo.Notification {
	t.Helper()
	var ns []repo.Notification
	if err := b.r.DB().Select(&ns, `SELECT * FROM notifications WHERE channel = 'sms' ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return ns
}

// A per-number daily limit does not burn the retries within minutes: the
// notice waits for the send window after the provider's midnight, keeps its
// attempts, and says why.
func TestDailyLimitWaitsForTheProvidersNextDay(t *testing.T) {
	t.Parallel()
	midnight := func(zone *time.Location) func(time.Time) time.Time {
		return func(t time.Time) time.Time { return notify.NextMidnight(t, zone) }
	}
	for _, tc := range []struct {
		name  string
		lifts func(time.Time) time.Time
		want  time.Time
	}{
		// Beijing midnight, then the customer's 09:00 window opening.
		{"beijing day", midnight(time.FixedZone("CST", 8*3600)), sh(11, 22, 9, 0)},
		// A provider on UTC-8 rolls over at 16:00 Beijing time, inside the window.
		{"pacific day", midnight(time.FixedZone("PST", -8*3600)), sh(11, 21, 16, 0)},
		// A limit over the last 24 hours (Aliyun's per number) lifts a day
		// after the refusal, inside the window: not at 09:00, when the sends
		// it counted are still inside it.
		{"rolling 24 hours", func(t time.Time) time.Time { return t.Add(24 * time.Hour) }, sh(11, 22, 10, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			limit := notify.Classify(notify.ClassDailyLimit, "isv.DAY_LIMIT_CONTROL", errors.New("触发日发送限额"))
			b := setup(t)
			b.sms.errs = []error{limit}
			b.cfg.Senders["sms"] = limitedSender{b.sms, tc.lifts}
			smsNotices(t, b, "c1")
			b.dispatch(t, sh(11, 21, 10, 0))
			n := b.notice(t, "sms")
			if n.Status != "pending" || n.Attempts != 0 || !n.NextAttemptAt.Equal(tc.want) ||
				!strings.Contains(n.StatusReason, "daily limit at scripted (isv.DAY_LIMIT_CONTROL)") {
				t.Fatalf("notice %s attempts %d next %v reason %q; want pending, 0 attempts, next %v",
					n.Status, n.Attempts, n.NextAttemptAt, n.StatusReason, tc.want)
			}
			if as := b.attempts(t, n.ID); len(as) != 1 || as[0].Outcome != "transient" || as[0].Code != "isv.DAY_LIMIT_CONTROL" {
				t.Fatalf("attempts %+v, want the try logged", as)
			}
			if c := b.dispatch(t, tc.want.Add(-time.Minute)); c["sent"] != 0 {
				t.Fatalf("sent before the provider's day rolled over: %v", c)
			}
			b.dispatch(t, tc.want)
			if n := b.notice(t, "sms"); n.Status != "sent" || n.Attempts != 1 {
				t.Fatalf("after the rollover: %s, %d attempts", n.Status, n.Attempts)
			}
		})
	}
}

// An account-level refusal opens the provider's circuit: the other notices
// are not sent into it, none spends an attempt, an ERROR line and the metric
// say so, the console's table has it; after the probe interval one notice
// probes, and its success closes the circuit and sends the rest.
func TestAccountFailureOpensTheProviderCircuit(t *testing.T) {
	t.Parallel()
	logs := &lockedBuf{}
	watch := &circuitWatch{}
	var now time.Time
	b := setup(t, func(c *notify.Config) {
		c.Workers = 1
		c.CircuitProbe = map[string]time.Duration{"sms": 15 * time.Minute}
		c.Observer = watch
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		c.Now = func() time.Time { return now }
	})
	b.sms.errs = []error{notify.Classify(notify.ClassAccount, "isv.AMOUNT_NOT_ENOUGH", errors.New("账户余额不足"))}
	smsNotices(t, b, "c1", "c2", "c3")
	run := runsAt(t, b.cfg, &now)

	run(sh(11, 21, 10, 0))
	probeAt := sh(11, 21, 10, 15)
	ns := b.smsNotices(t)
	for _, n := range ns {
		if n.Status != "pending" || n.Attempts != 0 || !n.NextAttemptAt.Equal(probeAt) || !strings.Contains(n.StatusReason, "scripted circuit open") {
			t.Errorf("notice %d: %s, %d attempts, next %v, %q; want pending until the probe", n.ID, n.Status, n.Attempts, n.NextAttemptAt, n.StatusReason)
		}
	}
	if got := len(b.attempts(t, ns[0].ID)) + len(b.attempts(t, ns[1].ID)) + len(b.attempts(t, ns[2].ID)); got != 1 {
		t.Errorf("%d attempts logged, want 1: the others were never sent", got)
	}
	if len(b.sms.messages()) != 0 {
		t.Errorf("sent %d", len(b.sms.messages()))
	}
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"provider circuit opened`) || !strings.Contains(logs.String(), `"code":"isv.AMOUNT_NOT_ENOUGH"`) {
		t.Errorf("no ERROR line for the open circuit:\n%s", logs)
	}
	open, err := b.r.OpenCircuits(context.Background())
	if err != nil || len(open) != 1 || open[0].Provider != "scripted" || !open[0].ProbeAt.Equal(probeAt) || open[0].Code != "isv.AMOUNT_NOT_ENOUGH" {
		t.Fatalf("open circuits %+v, %v", open, err)
	}

	// A restarted dispatcher remembers the circuit.
	fresh, err := notify.New(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	now = sh(11, 21, 10, 5)
	if _, err := fresh.RunOnce(context.Background()); err != nil || len(b.sms.messages()) != 0 {
		t.Fatalf("sent %d before the probe, %v", len(b.sms.messages()), err)
	}

	run(probeAt)
	for _, n := range b.smsNotices(t) {
		if n.Status != "sent" || n.Attempts != 1 {
			t.Errorf("notice %d after the probe: %s, %d attempts", n.ID, n.Status, n.Attempts)
		}
	}
	if open, _ := b.r.OpenCircuits(context.Background()); len(open) != 0 {
		t.Errorf("circuit still recorded open: %+v", open)
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if strings.Join(watch.changes, ",") != "open scripted,open scripted,closed scripted" {
		t.Errorf("circuit changes %v", watch.changes)
	}
}

// An operator who switches provider after an account refusal (the usual
// reason to switch) is not left with the old provider's circuit: nothing
// could probe it, and it was reported open for good, an ERROR at every
// start and a critical alert. The next dispatcher closes it, once.
func TestCircuitOfAProviderNoLongerConfiguredCloses(t *testing.T) {
	t.Parallel()
	logs := &lockedBuf{}
	watch := &circuitWatch{}
	now := sh(11, 21, 10, 0)
	b := setup(t, func(c *notify.Config) {
		c.Observer = watch
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		c.Now = func() time.Time { return now }
	})
	if err := b.r.OpenCircuit(context.Background(), repo.Circuit{Provider: "aliyun", Channel: "sms",
		Code: "SignatureDoesNotMatch", OpenedAt: now, ProbeAt: now.Add(10 * time.Minute), UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	smsNotices(t, b, "c1")
	d, err := notify.New(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if open, err := b.r.OpenCircuits(context.Background()); err != nil || len(open) != 0 {
		t.Errorf("open circuits %+v (%v), want aliyun's closed: no channel sends through it", open, err)
	}
	if n := b.smsNotices(t); len(n) != 1 || n[0].Status != "sent" {
		t.Errorf("the SMS through the configured provider: %+v", n)
	}
	out := logs.String()
	if strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, `"msg":"provider circuit closed: the provider is no longer configured","provider":"aliyun"`) {
		t.Errorf("log, want one INFO closing aliyun's circuit and no ERROR:\n%s", out)
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if len(watch.changes) != 0 {
		t.Errorf("circuit changes %v, want none reported open", watch.changes)
	}
}

// refusingTogether refuses every message for the account, once n sends
// are in flight at once: a burst that meets an account out of credit.
type refusingTogether struct {
	n       int
	mu      sync.Mutex
	started int
	all     chan struct{}
}

func (*refusingTogether) Provider() string { return "scripted" }

func (r *refusingTogether) Send(ctx context.Context, _ notify.Message) (notify.Result, error) {
	r.mu.Lock()
	if r.started++; r.started == r.n {
		close(r.all)
	}
	r.mu.Unlock()
	select {
	case <-r.all:
	case <-ctx.Done():
	}
	return notify.Result{}, notify.Classify(notify.ClassAccount, "isv.AMOUNT_NOT_ENOUGH", errors.New("账户余额不足"))
}

// The sends in flight when the account is refused are refused too: the
// first opens the circuit (one ERROR); the others leave it and its probe
// time as they are, without a WARN each (an audit counted 56 "stays open"
// lines in one millisecond of a burst).
func TestSendsInFlightWhenTheCircuitOpensSayNothingMore(t *testing.T) {
	t.Parallel()
	logs := &lockedBuf{}
	at := sh(11, 21, 10, 0)
	b := setup(t, func(c *notify.Config) {
		c.Workers = 4
		c.CircuitProbe = map[string]time.Duration{"sms": 15 * time.Minute}
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		c.Now = func() time.Time { return at }
	})
	b.cfg.Senders["sms"] = &refusingTogether{n: 4, all: make(chan struct{})}
	smsNotices(t, b, "c1", "c2", "c3", "c4")
	runOnce(t, b.cfg)
	out := logs.String()
	if n := strings.Count(out, `"level":"ERROR","msg":"provider circuit opened`); n != 1 {
		t.Errorf("%d ERROR circuit opened, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "stays open") || strings.Count(out, `"level":"WARN"`) != 0 {
		t.Errorf("WARN lines for the sends in flight:\n%s", out)
	}
	open, err := b.r.OpenCircuits(context.Background())
	if err != nil || len(open) != 1 || !open[0].ProbeAt.Equal(sh(11, 21, 10, 15)) {
		t.Fatalf("open circuits %+v, %v; want one, probed at 10:15", open, err)
	}
	for _, n := range b.smsNotices(t) {
		if n.Status != "pending" || !n.NextAttemptAt.Equal(sh(11, 21, 10, 15)) {
			t.Errorf("notice %d: %s, next %v; want pending until the probe", n.ID, n.Status, n.NextAttemptAt)
		}
	}
}

// With a fallback channel on the stage, an open SMS circuit hands the
// notice to email instead of holding it.
func TestAccountFailureFallsBackToEmail(t *testing.T) {
	t.Parallel()
	b := fallbackSetup(t, nil)
	b.cfg.Senders["email"] = namedSender{b.email, "smtp"} // another provider: its circuit is closed
	b.sms.errs = []error{notify.Classify(notify.ClassAccount, "UnauthorizedOperation.ServiceSuspendDueToArrears", errors.New("欠费停服"))}
	b.dispatch(t, sh(11, 21, 10, 0))
	sms := b.notice(t, "sms")
	if sms.Status != "failed" || !strings.Contains(sms.StatusReason, "scripted circuit open (UnauthorizedOperation.ServiceSuspendDueToArrears); email fallback") {
		t.Fatalf("sms %s %q", sms.Status, sms.StatusReason)
	}
	if em := b.fallbackOf(t, sms.ID); em.Status != "sent" || len(b.email.messages()) != 1 {
		t.Fatalf("fallback email %s, %d emails", em.Status, len(b.email.messages()))
	}
}

// A number the provider reports unsubscribed gets the customer's SMS
// opt-out, with the reason, audited; a later push of the customer does not
// clear it, and the next reminder goes by email instead of failing again.
func TestUnsubscribedSetsTheSMSOptOut(t *testing.T) {
	t.Parallel()
	b := fallbackSetup(t, nil)
	b.sms.errs = []error{notify.Classify(notify.ClassUnsubscribed, "21610", errors.New("Attempt to send to unsubscribed recipient"))}
	b.dispatch(t, sh(11, 21, 10, 0))
	sms := b.notice(t, "sms")
	if sms.Status != "failed" || !strings.HasPrefix(sms.StatusReason, "unsubscribed at scripted (21610); SMS opt-out set") {
		t.Fatalf("sms %s %q", sms.Status, sms.StatusReason)
	}
	if as := b.attempts(t, sms.ID); len(as) != 1 || as[0].Outcome != "permanent" || as[0].Code != "21610" {
		t.Fatalf("attempts %+v", as)
	}
	if em := b.fallbackOf(t, sms.ID); em.Status != "sent" {
		t.Fatalf("fallback email %s", em.Status)
	}
	c, err := b.r.GetCustomer(context.Background(), "c1")
	if err != nil || !c.SMSOptOut || c.SMSOptOutReason != "unsubscribed at scripted (21610)" {
		t.Fatalf("customer %+v, %v", c, err)
	}
	audit, err := b.r.ListAudit(context.Background(), time.Time{}, "duebell", 10)
	if err != nil || len(audit) != 1 || audit[0].Action != "customer.sms_opt_out" || audit[0].Target != "customer:c1" ||
		!strings.Contains(string(audit[0].Detail), `"code": "21610"`) {
		t.Fatalf("audit %+v, %v", audit, err)
	}

	// The lender pushes the customer again without an opt-out.
	c.SMSOptOut = false
	if c, err = b.r.UpsertCustomer(context.Background(), c, sh(11, 22, 8, 0)); err != nil || !c.SMSOptOut {
		t.Fatalf("push cleared the provider's opt-out: %+v, %v", c, err)
	}
}

// runsAt makes one dispatcher on cfg, whose clock reads *now, and returns
// a run of it once at a given time.
func runsAt(t *testing.T, cfg notify.Config, now *time.Time) func(at time.Time) {
	t.Helper()
	d, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(at time.Time) {
		t.Helper()
		*now = at
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// downSender is a provider that cannot be reached while down: every send
// fails as a refused connection does.
type downSender struct {
	mu    sync.Mutex
	down  bool
	reply error // when set (and not down), every send gets it
	sent  int
}

func (*downSender) Provider() string { return "scripted" }

func (s *downSender) Send(context.Context, notify.Message) (notify.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return notify.Result{}, notify.Outage(notify.Transient("network", errors.New("dial tcp 127.0.0.1:25: connect: connection refused")))
	}
	if s.reply != nil {
		return notify.Result{}, s.reply
	}
	s.sent++
	return notify.Result{ProviderMsgID: "ok"}, nil
}

func (s *downSender) set(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// A provider that cannot be reached (a relay restarting, a gateway down)
// opens its circuit after OutageAfter transient failures in a row: the rest
// of the queue waits untried, with one ERROR, instead of each notice being
// tried against it at full speed, a WARN and an attempt each (an audit:
// 2,157 in the 2 s a relay took to restart; half an hour of outage would
// have failed the channel's whole backlog). They wait even on a stage with
// an email fallback, which an account refusal takes at once: a 5 s gateway
// blip sent 917 of 1,000 SMS by email. A failed probe keeps it open for
// another OutageProbe; a successful one closes it and the rest go.
func TestUnreachableProviderOpensTheCircuit(t *testing.T) {
	t.Parallel()
	logs := &lockedBuf{}
	var now time.Time
	sender := &downSender{down: true}
	b := setup(t, func(c *notify.Config) {
		c.Workers = 1
		c.OutageAfter = 5
		c.OutageProbe = 30 * time.Second
		c.Fallbacks = map[string]string{"due_soon": "email"} // not taken for a provider back in seconds
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		c.Now = func() time.Time { return now }
	})
	b.cfg.Senders["sms"] = sender
	refs := make([]string, 30)
	for i := range refs {
		refs[i] = fmt.Sprintf("c%d", i)
	}
	smsNotices(t, b, refs...)
	run := runsAt(t, b.cfg, &now)
	tried := func() (n int) {
		t.Helper()
		for _, n2 := range b.smsNotices(t) {
			n += n2.Attempts
		}
		return n
	}

	run(sh(11, 21, 10, 0))
	if n := tried(); n != 5 {
		t.Errorf("%d attempts spent against the unreachable provider, want 5", n)
	}
	probeAt := sh(11, 21, 10, 0).Add(30 * time.Second)
	waiting := 0
	for _, n := range b.smsNotices(t) {
		if n.Attempts == 0 && n.Status == "pending" && n.NextAttemptAt.Equal(probeAt) &&
			strings.Contains(n.StatusReason, "scripted circuit open (provider unreachable)") {
			waiting++
		}
	}
	if waiting != 25 || len(b.email.messages()) != 0 {
		t.Errorf("%d notices wait untried for the probe at %v, %d went by email; want 25 waiting, none by email",
			waiting, probeAt, len(b.email.messages()))
	}
	out := logs.String()
	if n := strings.Count(out, `"level":"ERROR","msg":"provider circuit opened: provider unreachable`); n != 1 {
		t.Errorf("%d ERROR lines for the circuit, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, `"level":"WARN","msg":"send failed, transient"`); n != 4 {
		t.Errorf("%d WARN lines for the failed sends, want the 4 before the circuit opened", n)
	}
	open, err := b.r.OpenCircuits(context.Background())
	if err != nil || len(open) != 1 || open[0].Code != repo.CircuitUnreachable {
		t.Fatalf("open circuits %+v, %v; want scripted, unreachable", open, err)
	}

	// Still down at the probe: one more try, open for another 30 s.
	run(probeAt)
	if n := tried(); n != 6 {
		t.Errorf("%d attempts after a failed probe, want 6", n)
	}
	// Back: the next probe succeeds, the circuit closes, everything goes.
	sender.set(false)
	run(probeAt.Add(30 * time.Second))
	sent := 0
	for _, n := range b.smsNotices(t) {
		switch {
		case n.Status == "sent":
			sent++
		case n.Status != "pending" || n.Attempts == 0: // a try's backoff may not have run out yet
			t.Errorf("notice %d: %s, %d attempts, %q", n.ID, n.Status, n.Attempts, n.StatusReason)
		}
	}
	if sent < 24 || sender.sent != sent {
		t.Errorf("%d notices sent (%d sends) once the provider was back, want at least the 24 never tried", sent, sender.sent)
	}
	if open, _ := b.r.OpenCircuits(context.Background()); len(open) != 0 {
		t.Errorf("circuit still open: %+v", open)
	}
}

// A provider whose circuit is open (unreachable) that then answers 429 is
// at work: each 429 is logged as a reply about the message (a storm of
// them through the open circuit went unlogged while they used up the
// notices' attempts), and decides nothing about the circuit.
func TestRepliesThroughAnOpenCircuitAreLogged(t *testing.T) {
	t.Parallel()
	logs := &lockedBuf{}
	var now time.Time
	sender := &downSender{down: true}
	b := setup(t, func(c *notify.Config) {
		c.Workers, c.OutageAfter, c.OutageProbe = 1, 3, 30*time.Second
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		c.Now = func() time.Time { return now }
	})
	b.cfg.Senders["sms"] = sender
	smsNotices(t, b, "c1", "c2", "c3", "c4", "c5", "c6")
	run := runsAt(t, b.cfg, &now)
	run(sh(11, 21, 10, 0))
	warns := func() int { return strings.Count(logs.String(), `"level":"WARN","msg":"send failed, transient"`) }
	before := warns()
	if open, err := b.r.OpenCircuits(context.Background()); err != nil || len(open) != 1 {
		t.Fatalf("open circuits %+v, %v; want the unreachable one", open, err)
	}

	sender.mu.Lock()
	sender.down, sender.reply = false, notify.Transient("429", errors.New("429 Too Many Requests"))
	sender.mu.Unlock()
	run(sh(11, 21, 10, 0).Add(30 * time.Second))
	if n := strings.Count(logs.String(), `"code":"429"`); n == 0 || warns() <= before {
		t.Errorf("429s through the open circuit: %d lines naming the code, WARN lines %d → %d; want them logged:\n%s",
			n, before, warns(), logs.String())
	}
	if open, _ := b.r.OpenCircuits(context.Background()); len(open) != 1 {
		t.Errorf("a 429 decided the circuit: %+v", open)
	}
}

// A relay that answers every message with a 4xx (greylisting, a mailbox
// provider's rate limit for our sender) is at work: its replies retry the
// notices but never open the unreachable circuit, which would hold every
// email behind an ERROR that says the relay cannot be reached. When the
// relay then goes away, refused connections open it as before.
func TestRelayRepliesDoNotOpenTheOutageCircuit(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithReject(451, "4.7.1 Greylisted, try again later"))
	mail, err := email.New(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone,
		From: "billing@example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mail.Close() })
	logs := &lockedBuf{}
	var now time.Time
	b := setup(t, func(c *notify.Config) {
		c.Workers, c.OutageAfter = 1, 5
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		c.Now = func() time.Time { return now }
	})
	b.cfg.Senders["email"] = mail
	for i := range 12 {
		ref := fmt.Sprintf("c%d", i)
		storetest.Customer(t, b.r, ref)
		storetest.Plan(t, b.r, "p-"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 24)})
	}
	emailOnly := []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"email"}}}
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), emailOnly); err != nil {
		t.Fatal(err)
	}
	run := runsAt(t, b.cfg, &now)
	attempts := func() (n int) {
		t.Helper()
		if err := b.r.DB().Get(&n, `SELECT count(*) FROM delivery_attempts`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	circuitLines := func() int {
		return strings.Count(logs.String(), `"level":"ERROR","msg":"provider circuit opened: provider unreachable`)
	}

	at := sh(11, 21, 10, 0)
	run(at)
	if n := attempts(); n != 12 {
		t.Errorf("%d tries, want every one of the 12 emails tried", n)
	}
	if open, err := b.r.OpenCircuits(context.Background()); err != nil || len(open) != 0 || circuitLines() != 0 {
		t.Fatalf("a relay answering 451 opened the circuit: %+v %v\n%s", open, err, logs.String())
	}
	for _, n := range b.pending(t) {
		if n.Attempts != 1 || n.StatusReason != "retrying after transient error" {
			t.Errorf("notice %d: %d attempts, %q", n.ID, n.Attempts, n.StatusReason)
		}
	}

	srv.Close() // the relay goes away: its connections are refused
	run(at.Add(time.Minute))
	if n := attempts(); n != 12+5 {
		t.Errorf("%d tries, want 5 more against the relay that is gone", n)
	}
	open, err := b.r.OpenCircuits(context.Background())
	if err != nil || len(open) != 1 || open[0].Code != repo.CircuitUnreachable || circuitLines() != 1 {
		t.Fatalf("open circuits %+v, %v, %d ERROR lines; want one, unreachable", open, err, circuitLines())
	}
}
