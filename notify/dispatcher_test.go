package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"duebell/internal/syncbuf"
	"duebell/link"
	"duebell/notify"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
	"duebell/scheduler"
	"duebell/templates"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m)
}

var shanghaiLoc, _ = time.LoadLocation("Asia/Shanghai")

func sh(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, shanghaiLoc) }

// scriptedSender is the provider boundary: it records messages and fails as
// told. Real providers are tested against real servers in their packages
// and in the end-to-end test.
type scriptedSender struct {
	mu   sync.Mutex
	sent []notify.Message
	errs []error // returned in order; nil when exhausted
}

func (s *scriptedSender) Provider() string { return "scripted" }

func (s *scriptedSender) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		if err != nil {
			return notify.Result{}, err
		}
	}
	s.sent = append(s.sent, m)
	return notify.Result{ProviderMsgID: "msg-" + m.To}, nil
}

func (s *scriptedSender) messages() []notify.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.Message(nil), s.sent...)
}

type bundle struct {
	r      *repo.Repo
	sms    *scriptedSender
	email  *scriptedSender
	signer *link.Signer
	cfg    notify.Config
}

func setup(t *testing.T, edit ...func(*notify.Config)) *bundle {
	t.Helper()
	b := &bundle{r: repotest.New(t), sms: &scriptedSender{}, email: &scriptedSender{}}
	var err error
	b.signer, err = link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k1", Secret: []byte("test-signing-key-0123456789abcdef")}, nil, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.Load(templates.Options{AllowedDomains: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	b.cfg = notify.Config{Store: b.r, Templates: tpl, Links: b.signer,
		Senders:     map[string]notify.Sender{"sms": b.sms, "email": b.email},
		MaxAttempts: 3, BackoffBase: time.Minute, Jitter: func() float64 { return 0.5 }, Owner: "test"}
	for _, e := range edit {
		e(&b.cfg)
	}
	return b
}

func (b *bundle) dispatch(t *testing.T, at time.Time) notify.Counts {
	t.Helper()
	cfg := b.cfg
	if cfg.Now == nil { // a test with a clock of its own drives time itself
		cfg.Now = func() time.Time { return at }
	}
	return runOnce(t, cfg)
}

// runOnce runs one dispatch --once with cfg and returns its counts.
func runOnce(t *testing.T, cfg notify.Config) notify.Counts {
	t.Helper()
	d, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	return counts
}

// seedDueSoon stores one borrower with a bill due 2026-11-24 and scans on the 21st.
func (b *bundle) seedDueSoon(t *testing.T, edit ...func(*repo.Customer)) {
	t.Helper()
	storetest.Customer(t, b.r, "c1", edit...)
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), scheduler.DefaultStages()); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) notice(t *testing.T, channel string) repo.Notification {
	t.Helper()
	var n repo.Notification
	if err := b.r.DB().Get(&n, `SELECT * FROM notifications WHERE channel = $1 ORDER BY id DESC LIMIT 1`, channel); err != nil {
		t.Fatal(err)
	}
	return n
}

// pending lists the notices waiting to be claimed, by id.
func (b *bundle) pending(t *testing.T) []repo.Notification {
	t.Helper()
	var ns []repo.Notification
	if err := b.r.DB().Select(&ns, `SELECT * FROM notifications WHERE status = 'pending' ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return ns
}

func (b *bundle) attempts(t *testing.T, id int64) []repo.Attempt {
	t.Helper()
	as, err := b.r.ListAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func TestSendsRenderedReminderWithVerifiableLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedDueSoon(t)
	at := sh(11, 21, 10, 0)
	if c := b.dispatch(t, at); c["sent"] != 2 {
		t.Fatalf("counts %v, want 2 sent", c)
	}
	sms := b.sms.messages()
	if len(sms) != 1 || sms[0].To != "+8613812345678" {
		t.Fatalf("sms sent %+v", sms)
	}
	if !strings.Contains(sms[0].Text, "还有3天") || !strings.Contains(sms[0].Text, "¥500.00") {
		t.Errorf("sms text %q lacks days until due or amount", sms[0].Text)
	}
	n := b.notice(t, "sms")
	if n.Status != "sent" || n.Body != sms[0].Text || n.Recipient != "+8613812345678" || n.ProviderMsgID == "" || n.SentAt == nil {
		t.Errorf("sms row %+v", n)
	}
	u, err := url.Parse(n.Link)
	if err != nil || !strings.Contains(sms[0].Text, n.Link) {
		t.Fatalf("link %q not in the message", n.Link)
	}
	// The compact token names the notice; its plan and installment are
	// read from the notice, as links/verify does.
	claims, err := b.signer.Verify(u.Query().Get("t"), at)
	target, terr := b.r.GetLinkTarget(context.Background(), claims.NotificationID)
	if err != nil || terr != nil || claims.NotificationID != n.ID || target.PlanRef != "p1" || target.Seq != 1 {
		t.Errorf("link claims %+v, %v; target %+v, %v", claims, err, target, terr)
	}
	as := b.attempts(t, n.ID)
	if len(as) != 1 || as[0].Outcome != "sent" || as[0].N != 1 || as[0].Provider != "scripted" {
		t.Errorf("attempts %+v", as)
	}
	em := b.email.messages()
	if len(em) != 1 || em[0].Subject == "" || em[0].HTML == "" || em[0].To != "c1@example.net" {
		t.Errorf("email %+v", em)
	}
	// Nothing is sent twice.
	if c := b.dispatch(t, at.Add(time.Hour)); len(c) != 0 {
		t.Errorf("second dispatch handled %v", c)
	}
}

func TestWaitsForCustomersSendWindowAndTellsTrueDays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedDueSoon(t)
	// 22:30 in Shanghai: outside 09:00-20:00.
	if c := b.dispatch(t, sh(11, 21, 22, 30)); c["pending"] != 2 || len(b.sms.messages()) != 0 {
		t.Fatalf("outside the window: counts %v, sent %d", c, len(b.sms.messages()))
	}
	n := b.notice(t, "sms")
	if !n.NextAttemptAt.Equal(sh(11, 22, 9, 0)) || n.Attempts != 0 || n.Status != "pending" {
		t.Fatalf("deferred notice: next %v attempts %d status %s", n.NextAttemptAt.In(shanghaiLoc), n.Attempts, n.Status)
	}
	if c := b.dispatch(t, sh(11, 22, 8, 59)); len(c) != 0 {
		t.Fatalf("claimed before the window opened: %v", c)
	}
	if c := b.dispatch(t, sh(11, 22, 9, 0)); c["sent"] != 2 {
		t.Fatalf("at opening: %v", c)
	}
	// Queued on the 21st, sent on the 22nd: it says two days, not three.
	if text := b.sms.messages()[0].Text; !strings.Contains(text, "还有2天") {
		t.Errorf("late notice text %q, want the true 2 days", text)
	}
}

func TestRechecksBeforeSending(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change string
		reason string
	}{
		{"paid", `UPDATE installments SET paid = amount, status = 'paid'`, "installment paid"},
		{"waived", `UPDATE installments SET status = 'waived'`, "installment waived"},
		{"cancelled", `UPDATE plans SET status = 'cancelled'`, "plan cancelled"},
		{"closed", `UPDATE plans SET status = 'closed'`, "plan closed"},
		{"opted out", `UPDATE customers SET sms_opt_out = true, email_opt_out = true`, "opted_out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.seedDueSoon(t)
			if _, err := b.r.DB().Exec(tc.change); err != nil {
				t.Fatal(err)
			}
			if c := b.dispatch(t, sh(11, 21, 10, 0)); c["suppressed"] != 2 {
				t.Fatalf("counts %v, want 2 suppressed", c)
			}
			if len(b.sms.messages())+len(b.email.messages()) != 0 {
				t.Fatal("a settled reminder went out")
			}
			if n := b.notice(t, "sms"); n.Status != "suppressed" || n.StatusReason != tc.reason {
				t.Errorf("status %s reason %q, want suppressed %q", n.Status, n.StatusReason, tc.reason)
			}
			attemptsAgree(t, b.r) // not tried: no attempt counted
		})
	}
}

// A reminder whose bill's due date moved later after the scan queued it
// (the lender rescheduled the bill) is not sent early as "due in 19 days":
// it waits, without an attempt, for its stage's day on the new date and
// goes out then, saying the true number of days. Sent early, its dedup key
// would have kept the scan from queueing the stage at the right time. The
// same holds for an overdue stage whose bill is no longer overdue.
func TestReminderWaitsWhenTheDueDateMovesLater(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		scanAt time.Time
		sendAt time.Time // the stage's day on the new due date, 10:00
		want   string
	}{
		{"due_soon", sh(11, 21, 8, 0), sh(12, 7, 10, 0), "还有3天（12月10日）"},
		{"overdue_1", sh(11, 25, 8, 0), sh(12, 11, 10, 0), "已逾期1天"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *notify.Config) { c.Stages = scheduler.DefaultStages() })
			storetest.Customer(t, b.r, "c1")
			storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
			b.scanStages(t, tc.scanAt, scheduler.DefaultStages())
			storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 12, 10)}) // rescheduled
			if c := b.dispatch(t, tc.scanAt.Add(2*time.Hour)); c["sent"] != 0 || len(b.sms.messages()) != 0 {
				t.Fatalf("counts %v, %d SMS: want nothing sent before the stage's day", c, len(b.sms.messages()))
			}
			n := b.notice(t, "sms")
			if n.Status != repo.StatusPending || n.Attempts != 0 || !strings.HasPrefix(n.StatusReason, "waiting: the bill's due date moved to 2026-12-10") {
				t.Fatalf("notice %s %q, %d attempts: want pending for the new date, no attempt", n.Status, n.StatusReason, n.Attempts)
			}
			if c := b.dispatch(t, tc.sendAt.Add(-24*time.Hour)); c["sent"] != 0 {
				t.Fatalf("the day before the stage: %v, want nothing sent", c)
			}
			if c := b.dispatch(t, tc.sendAt); c["sent"] != 2 {
				t.Fatalf("on the stage's day: %v, want the SMS and the email sent", c)
			}
			if sms := b.sms.messages(); len(sms) != 1 || !strings.Contains(sms[0].Text, tc.want) {
				t.Errorf("SMS %v, want it to say %q", sms, tc.want)
			}
			attemptsAgree(t, b.r)
		})
	}
}

// A reminder claimed after its bill moved past its stage (the daemon was
// down over the due date and the dispatcher claims before the first scan)
// is skipped, never sent as "due in -1 days"; the next scan queues the
// stage that applies.
func TestStaleReminderIsSkippedNotSent(t *testing.T) {
	t.Parallel()
	renamed := scheduler.DefaultStages()
	renamed[0].Name = "soon"
	for _, tc := range []struct {
		name   string
		stages []repo.Stage
		at     time.Time
		reason string
	}{
		{"later stage applies", scheduler.DefaultStages(), sh(11, 25, 10, 0), "superseded by overdue_1"},
		{"due date reached, no policy given", nil, sh(11, 24, 10, 0), "out of date: the bill's due date is 2026-11-24"},
		{"stage renamed in the policy", renamed, sh(11, 21, 10, 0), "stage no longer in the policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *notify.Config) { c.Stages = tc.stages })
			b.seedDueSoon(t)
			if c := b.dispatch(t, tc.at); c["skipped"] != 2 {
				t.Fatalf("counts %v, want 2 skipped", c)
			}
			if len(b.sms.messages())+len(b.email.messages()) != 0 {
				t.Fatal("a stale reminder went out")
			}
			n := b.notice(t, "sms")
			if n.Status != "skipped" || n.StatusReason != tc.reason || len(b.attempts(t, n.ID)) != 0 {
				t.Errorf("status %s reason %q, want skipped %q and no attempt", n.Status, n.StatusReason, tc.reason)
			}
		})
	}
	t.Run("a resend of an old reminder", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *notify.Config) { c.Stages = scheduler.DefaultStages() })
		b.seedDueSoon(t)
		b.dispatch(t, sh(11, 21, 10, 0))
		at := sh(11, 25, 10, 0)
		res, err := b.r.Resend(context.Background(), repo.ResendInput{ID: b.notice(t, "sms").ID, Reason: "lost",
			Actor: "ops", Now: at})
		if err != nil {
			t.Fatal(err)
		}
		if c := b.dispatch(t, at); c["skipped"] != 1 || len(b.sms.messages()) != 1 {
			t.Fatalf("counts %v, %d SMS; want the resend skipped, only the first SMS sent", c, len(b.sms.messages()))
		}
		if n, err := b.r.GetNotification(context.Background(), res.Notification.ID); err != nil ||
			n.StatusReason != "superseded by overdue_1" {
			t.Errorf("resend %+v (%v), want skipped: superseded by overdue_1", n, err)
		}
	})
	t.Run("a forced resend of a bill paid since", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *notify.Config) { c.Stages = scheduler.DefaultStages() })
		b.seedDueSoon(t)
		b.dispatch(t, sh(11, 21, 10, 0))
		at := sh(11, 21, 15, 0)
		res, err := b.r.Resend(context.Background(), repo.ResendInput{ID: b.notice(t, "sms").ID, Reason: "lost",
			Actor: "ops", Now: at, Force: true})
		if err != nil {
			t.Fatal(err)
		}
		pay(t, b, "p1", 50000) // after the resend was queued: a forced one is still a reminder to pay
		if c := b.dispatch(t, at); c["suppressed"] != 1 || len(b.sms.messages()) != 1 {
			t.Fatalf("counts %v, %d SMS; want the resend suppressed, only the first SMS sent", c, len(b.sms.messages()))
		}
		if n, err := b.r.GetNotification(context.Background(), res.Notification.ID); err != nil ||
			n.StatusReason != "installment paid" {
			t.Errorf("resend %+v (%v), want suppressed: installment paid", n, err)
		}
	})
	t.Run("the next scan queues the current stage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *notify.Config) { c.Stages = scheduler.DefaultStages() })
		b.seedDueSoon(t)
		at := sh(11, 25, 10, 0)
		b.dispatch(t, at)
		if _, err := b.r.QueueDueReminders(context.Background(), at, scheduler.DefaultStages()); err != nil {
			t.Fatal(err)
		}
		if c := b.dispatch(t, at.Add(time.Minute)); c["sent"] != 2 {
			t.Fatalf("counts %v, want the overdue notices sent", c)
		}
		if text := b.sms.messages()[0].Text; !strings.Contains(text, "逾期1天") {
			t.Errorf("sms %q, want the overdue wording", text)
		}
	})
}

func TestTransientErrorsBackOffThenFail(t *testing.T) {
	t.Parallel()
	boom := notify.Transient("503", errors.New("gateway unavailable"))
	b := setup(t)
	b.sms.errs = []error{boom, boom, boom, boom}
	b.seedDueSoon(t, func(c *repo.Customer) { c.Email = "" })

	at := sh(11, 21, 10, 0)
	b.dispatch(t, at)
	n := b.notice(t, "sms")
	// First retry after base·2^0 with jitter 0.5 → exactly 1 minute.
	if n.Status != "pending" || !n.NextAttemptAt.Equal(at.Add(time.Minute)) || n.LastError == "" {
		t.Fatalf("after 1st failure: %s next %v err %q", n.Status, n.NextAttemptAt.In(shanghaiLoc), n.LastError)
	}
	if c := b.dispatch(t, at.Add(59*time.Second)); len(c) != 0 {
		t.Fatalf("retried before its backoff: %v", c)
	}
	b.dispatch(t, at.Add(time.Minute))
	if n = b.notice(t, "sms"); !n.NextAttemptAt.Equal(at.Add(3 * time.Minute)) {
		t.Fatalf("2nd retry at %v, want +2m after the 2nd try", n.NextAttemptAt.In(shanghaiLoc))
	}
	b.dispatch(t, at.Add(3*time.Minute))
	n = b.notice(t, "sms")
	if n.Status != "failed" || n.Attempts != 3 {
		t.Fatalf("after max attempts: %s attempts %d", n.Status, n.Attempts)
	}
	as := b.attempts(t, n.ID)
	if len(as) != 3 || as[0].Outcome != "transient" || as[2].N != 3 || as[0].Code != "503" {
		t.Fatalf("attempt log %+v", as)
	}
	if c := b.dispatch(t, at.Add(24*time.Hour)); len(c) != 0 {
		t.Fatalf("failed notice retried: %v", c)
	}
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sms.errs = []error{notify.Permanent("400", errors.New("invalid number"))}
	b.seedDueSoon(t)
	b.dispatch(t, sh(11, 21, 10, 0))
	n := b.notice(t, "sms")
	if n.Status != "failed" || n.Attempts != 1 {
		t.Fatalf("status %s attempts %d", n.Status, n.Attempts)
	}
	if as := b.attempts(t, n.ID); len(as) != 1 || as[0].Outcome != "permanent" || as[0].Code != "400" {
		t.Fatalf("attempts %+v", as)
	}
	b.dispatch(t, sh(11, 21, 12, 0))
	if len(b.attempts(t, n.ID)) != 1 {
		t.Fatal("permanent failure retried")
	}
}

func TestCrashedWorkersClaimsAreRescuedAfterLease(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.Lease = 2 * time.Minute })
	b.seedDueSoon(t)
	at := sh(11, 21, 10, 0)
	// Worker "crashed" claims both and dies before finishing.
	claims, err := b.r.ClaimNotifications(context.Background(), "crashed", at, at, 2*time.Minute, 10, 0)
	if err != nil || len(claims) != 2 {
		t.Fatalf("claim: %d, %v", len(claims), err)
	}
	if c := b.dispatch(t, at.Add(time.Minute)); len(c) != 0 {
		t.Fatalf("took notices under a live lease: %v", c)
	}
	if c := b.dispatch(t, at.Add(2*time.Minute+time.Second)); c["sent"] != 2 {
		t.Fatalf("after lease expiry: %v", c)
	}
	n := b.notice(t, "sms")
	if n.Attempts != 2 || n.Status != "sent" || n.LeaseOwner != nil {
		t.Errorf("rescued notice: attempts %d status %s owner %v", n.Attempts, n.Status, n.LeaseOwner)
	}
	// The crashed worker's try is in the log, as a try of unknown outcome.
	as := b.attempts(t, n.ID)
	if len(as) != 2 || as[0].N != 1 || as[0].Outcome != repo.OutcomeUnknown || as[1].N != 2 || as[1].Outcome != repo.OutcomeSent {
		t.Errorf("attempts %+v, want #1 unknown (lease expired) and #2 sent", as)
	}
	// A late finish by the crashed worker cannot overwrite the rescuer's result.
	err = b.r.FinishNotifications(context.Background(), "crashed", at.Add(3*time.Minute),
		[]repo.Outcome{{ID: n.ID, Status: "failed", Reason: "stale"}})
	if err != nil {
		t.Fatal(err)
	}
	if n2 := b.notice(t, "sms"); n2.Status != "sent" {
		t.Errorf("stale finish overwrote status: %s", n2.Status)
	}
}

func TestForeignLinkInTemplateFailsRender(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "zh-CN"), 0o755); err != nil {
		t.Fatal(err)
	}
	evil := `请立即还款 https://pay-example.com.evil.io/{{.Seq}}`
	if err := os.WriteFile(filepath.Join(dir, "zh-CN", "due_soon.sms.txt"), []byte(evil), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.Load(templates.Options{Dir: dir, AllowedDomains: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(c *notify.Config) { c.Templates = tpl })
	b.seedDueSoon(t)
	b.dispatch(t, sh(11, 21, 10, 0))
	if len(b.sms.messages()) != 0 {
		t.Fatal("message with a foreign link was sent")
	}
	n := b.notice(t, "sms")
	if n.Status != "failed" || n.StatusReason != "link outside allowed domains" || !strings.Contains(n.LastError, "evil.io") {
		t.Errorf("status %s reason %q error %q", n.Status, n.StatusReason, n.LastError)
	}
	if len(b.attempts(t, n.ID)) != 0 {
		t.Error("a render failure is not a delivery attempt")
	}
	if e := b.notice(t, "email"); e.Status != "sent" {
		t.Errorf("the email (default template) should still go: %s", e.Status)
	}
}

func TestPaymentConfirmationNeverBeforePayment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	paid := sh(11, 22, 11, 0)
	if _, err := b.r.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000,
		PaidAt: paid, Now: paid, ConfirmChannels: []string{"sms"}}); err != nil {
		t.Fatal(err)
	}
	if c := b.dispatch(t, paid.Add(-time.Minute)); len(c) != 0 {
		t.Fatalf("confirmation before the payment: %v", c)
	}
	b.dispatch(t, paid)
	msgs := b.sms.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "¥500.00") {
		t.Fatalf("confirmation %+v", msgs)
	}
	if n := b.notice(t, "sms"); n.Kind != "payment_received" || n.Status != "sent" || n.Link != "" {
		t.Errorf("confirmation row %s %s link %q", n.Kind, n.Status, n.Link)
	}
}

// A bill settled by its second payment is confirmed with that payment's
// amount, not all that was paid on it.
func TestConfirmationNamesTheSettlingPayment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	storetest.Customer(t, b.r, "c1", func(c *repo.Customer) { c.Locale = "en" })
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	for _, p := range []struct {
		amount int64
		at     time.Time
	}{{20000, sh(11, 21, 10, 0)}, {30000, sh(11, 22, 10, 0)}} {
		if _, err := b.r.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: p.amount,
			PaidAt: p.at, Now: p.at, ConfirmChannels: []string{"sms"}}); err != nil {
			t.Fatal(err)
		}
	}
	b.dispatch(t, sh(11, 22, 10, 1))
	if msgs := b.sms.messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "payment of ¥300.00") {
		t.Fatalf("confirmation %+v, want the 300.00 payment named", msgs)
	}
}

// A payment charged back before its confirmation went out is not
// confirmed; paying again is, once.
func TestReversedPaymentIsNotConfirmedAndTheRepaymentIs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	ctx := context.Background()
	paid := sh(11, 22, 7, 0) // before the window: the confirmation waits for 09:00
	pay := func(amount int64, at time.Time, reason string) {
		t.Helper()
		if _, err := b.r.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: amount, Reason: reason,
			PaidAt: at, Now: at, ConfirmChannels: []string{"sms"}}); err != nil {
			t.Fatal(err)
		}
	}
	pay(50000, paid, "")
	pay(-50000, paid.Add(time.Hour), "chargeback")
	b.dispatch(t, sh(11, 22, 9, 0))
	if msgs := b.sms.messages(); len(msgs) != 0 {
		t.Fatalf("the reversed payment was confirmed: %+v", msgs)
	}
	if n := b.notice(t, "sms"); n.Status != "suppressed" || n.StatusReason != "payment reversed" {
		t.Errorf("first confirmation %s %q, want suppressed: payment reversed", n.Status, n.StatusReason)
	}
	pay(50000, sh(11, 22, 10, 0), "")
	b.dispatch(t, sh(11, 22, 10, 1))
	b.dispatch(t, sh(11, 22, 11, 0))
	if msgs := b.sms.messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "¥500.00") {
		t.Errorf("after paying again: %+v, want one confirmation", msgs)
	}
}

// A payment reported days after it was made (a book imported with its
// history, a late report) is recorded but not confirmed; one reported the
// next day is.
func TestOldPaymentsAreNotConfirmed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24), repo.NewDate(2026, 12, 24)})
	now := sh(11, 22, 10, 0)
	for seq, paid := range map[int]time.Time{1: now.Add(-notify.ConfirmWithin - time.Minute), 2: now.Add(-24 * time.Hour)} {
		if _, err := b.r.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: "p1", Seq: seq, Amount: 50000,
			PaidAt: paid, Now: now, ConfirmChannels: []string{"sms"}}); err != nil {
			t.Fatal(err)
		}
	}
	b.dispatch(t, now)
	msgs := b.sms.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "第2/2期") {
		t.Fatalf("confirmations sent %+v, want only installment 2's", msgs)
	}
	var old repo.Notification
	if err := b.r.DB().Get(&old, `SELECT * FROM notifications WHERE id <> $1`, msgs[0].NotificationID); err != nil {
		t.Fatal(err)
	}
	if old.Status != "suppressed" || old.StatusReason != "payment older than 3 days" {
		t.Errorf("old payment's confirmation %s %q, want suppressed", old.Status, old.StatusReason)
	}
}

func TestReplicasDispatchingAtOnceSendEachNoticeOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.Batch = 7 })
	var dues []repo.Date
	for i := 0; i < 30; i++ {
		dues = append(dues, repo.NewDate(2026, 11, 24))
	}
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p1", "c1", dues)
	if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), scheduler.DefaultStages()); err != nil {
		t.Fatal(err)
	}
	at := sh(11, 21, 10, 0)
	var wg sync.WaitGroup
	for _, owner := range []string{"replica-a", "replica-b", "replica-c"} {
		cfg := b.cfg
		cfg.Owner = owner
		cfg.Now = func() time.Time { return at }
		d, err := notify.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if _, err := d.RunOnce(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[int64]int{}
	for _, m := range append(b.sms.messages(), b.email.messages()...) {
		seen[m.NotificationID]++
	}
	if len(seen) != 60 {
		t.Fatalf("%d distinct notices sent, want 60", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("notice %d sent %d times", id, n)
		}
	}
}

func TestDeferralKeepsTheLastError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sms.errs = []error{notify.Transient("503", errors.New("gateway unavailable"))}
	b.seedDueSoon(t, func(c *repo.Customer) { c.Email = "" })
	// Fails at 19:59:30; its retry a minute later falls after the window closes.
	b.dispatch(t, sh(11, 21, 19, 59).Add(30*time.Second))
	b.dispatch(t, sh(11, 21, 20, 0).Add(30*time.Second))
	n := b.notice(t, "sms")
	if n.Status != "pending" || !n.NextAttemptAt.Equal(sh(11, 22, 9, 0)) || !strings.Contains(n.LastError, "gateway unavailable") {
		t.Fatalf("deferred retry: %s next %v last error %q; support must still see why it was retried",
			n.Status, n.NextAttemptAt.In(shanghaiLoc), n.LastError)
	}
}

// payingSender, at its first send, moves the lease clock past freshFor and
// pays the other notice's bill: what a slow provider or a rate limit lets
// happen between a claim and a send.
type payingSender struct {
	scriptedSender
	once  sync.Once
	clock *fakeClock
	pay   func()
}

func (s *payingSender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	s.once.Do(func() {
		s.clock.Sleep(ctx, 3*time.Second)
		s.pay()
	})
	return s.scriptedSender.Send(ctx, m)
}

// A notice that waited long since its claim is re-checked against the data
// as it is now: a bill paid meanwhile gets no reminder.
func TestNoticeWaitingSinceItsClaimIsRecheckedBeforeSending(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	lease := &fakeClock{t: time.Now(), advance: true}
	sender := &payingSender{clock: lease}
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"], c.Workers = sender, 1
		c.Now, c.LeaseClock = func() time.Time { return at }, lease.Now
	})
	seedSMS(t, b.r, 2)
	sender.pay = func() {
		if _, err := b.r.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: "pcb", Seq: 1, Amount: 50000,
			PaidAt: at, Now: at}); err != nil {
			t.Error(err)
		}
	}
	if c := b.dispatch(t, at); c["sent"] != 1 || c["suppressed"] != 1 {
		t.Fatalf("counts %v, want the first sent and the paid one suppressed", c)
	}
	if msgs := sender.messages(); len(msgs) != 1 {
		t.Errorf("sent %d, want 1", len(msgs))
	}
	var reason string
	if err := b.r.DB().Get(&reason, `SELECT status_reason FROM notifications n JOIN plans p ON p.id = n.plan_id
		WHERE p.ref = 'pcb'`); err != nil || reason != "installment paid" {
		t.Errorf("paid bill's notice: %q (%v), want suppressed: installment paid", reason, err)
	}
	attemptsAgree(t, b.r)
}

// A notice deleted by hand while it waited since its claim does not go
// out: it was sent with nothing left to record the send, and the next scan
// queued its stage again, so the borrower got the reminder twice.
func TestNoticeDeletedWhileItWaitedIsNotSent(t *testing.T) {
	t.Parallel()
	at := sh(11, 21, 10, 0)
	lease := &fakeClock{t: time.Now(), advance: true}
	sender := &payingSender{clock: lease}
	var logs syncbuf.Buffer
	b := setup(t, func(c *notify.Config) {
		c.Senders["sms"], c.Workers = sender, 1
		c.Now, c.LeaseClock = func() time.Time { return at }, lease.Now
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	seedSMS(t, b.r, 2)
	sender.pay = func() { // here: delete the other notice
		if _, err := b.r.DB().Exec(`DELETE FROM notifications WHERE plan_id = (SELECT id FROM plans WHERE ref = 'pcb')`); err != nil {
			t.Error(err)
		}
	}
	b.dispatch(t, at)
	if msgs := sender.messages(); len(msgs) != 1 {
		t.Errorf("sent %d SMS, want 1: the deleted notice went out", len(msgs))
	}
	if out := logs.String(); !strings.Contains(out, "deleted while it waited") {
		t.Errorf("the log does not say why the notice did not go out:\n%s", out)
	}
}

// garbledSender answers like a gateway whose reply PostgreSQL cannot store
// as text: an id with a NUL in it, an error page in GBK.
type garbledSender struct{ n int }

func (s *garbledSender) Provider() string { return "garbled" }

func (s *garbledSender) Send(context.Context, notify.Message) (notify.Result, error) {
	s.n++
	if s.n == 1 {
		return notify.Result{ProviderMsgID: "abc\x00def"}, nil
	}
	return notify.Result{}, notify.Transient("500", errors.New("gateway says \xd3\xc3\xbb\xa7 (GBK)"))
}

// A provider reply that is not storable text is stored cleaned: the group's
// outcomes are written, not retried for ever with every notice held.
func TestUnstorableProviderReplyIsStoredCleaned(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.Senders["sms"], c.Workers = &garbledSender{}, 1 })
	seedSMS(t, b.r, 2)
	done := make(chan notify.Counts, 1)
	go func() { done <- b.dispatch(t, sh(11, 21, 10, 0)) }()
	select {
	case c := <-done:
		if c["sent"] != 1 || c["pending"] != 1 {
			t.Errorf("counts %v, want one sent and one to retry", c)
		}
	case <-time.After(30 * time.Second): // a bound on a hang, not a rule's timing
		t.Fatal("the dispatch never finished: its outcomes could not be written")
	}
	var ids []string
	if err := b.r.DB().Select(&ids, `SELECT provider_msg_id || '|' || error FROM delivery_attempts ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != "abc\uFFFDdef|" || !strings.Contains(ids[1], "gateway says \uFFFD") {
		t.Errorf("attempts %q, want both logged with the bad bytes replaced", ids)
	}
	attemptsAgree(t, b.r)
}
