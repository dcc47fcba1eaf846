package email_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"duebell/internal/smtptest"
	"duebell/notify"
	"duebell/notify/email"
)

// fakeClock is the pool's clock in tests: time moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sendAll sends notices first..first+n-1 one after another.
func sendAll(t *testing.T, s *email.Sender, first, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Send(context.Background(), notice(int64(first+i))); err != nil {
			t.Fatalf("Send(%d): %v", first+i, err)
		}
	}
}

// deliveredOnce checks that the relay holds exactly the notices in ids, each
// once: nothing lost, nothing duplicated.
func deliveredOnce(t *testing.T, srv *smtptest.Server, ids ...int) {
	t.Helper()
	count := map[string]int{}
	for _, m := range srv.Messages() {
		count[m.Header.Get("Message-Id")]++
	}
	for _, id := range ids {
		key := fmt.Sprintf("<duebell.%d@shop.example>", id)
		if count[key] != 1 {
			t.Errorf("notice %d delivered %d times", id, count[key])
		}
		delete(count, key)
	}
	for id, n := range count {
		t.Errorf("unexpected message %s (%d times)", id, n)
	}
}

func span(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}

// eventually waits for the relay to see what a client already finished
// (it closes its side of a QUIT just after answering it).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolSequentialSendsShareOneConnection(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	sendAll(t, newSender(t, cfg), 1, 50)
	deliveredOnce(t, srv, span(1, 50)...)
	if n := srv.Connections(); n != 1 {
		t.Errorf("50 emails took %d connections, want 1", n)
	}
}

func TestPoolConcurrentWorkers(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	// No session reaches its message cap here (TestPoolSessionMessageCap
	// covers that): a retired session's connection closes on the relay's
	// side a moment after the next one opens.
	cfg.SessionMessages = 1000
	s := newSender(t, cfg)
	// Four times as many workers as sessions: the extra ones wait for a
	// session instead of opening connections of their own.
	workers, each := 4*cfg.PoolSize, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := 1 + w*each + i
				if _, err := s.Send(context.Background(), notice(int64(id))); err != nil {
					t.Errorf("Send(%d): %v", id, err)
				}
			}
		})
	}
	wg.Wait()
	deliveredOnce(t, srv, span(1, workers*each)...)
	if n := srv.PeakConnections(); n > cfg.PoolSize {
		t.Errorf("%d workers had %d connections open at once, want at most the pool size %d", workers, n, cfg.PoolSize)
	}
	if n := srv.Connections(); n > cfg.PoolSize {
		t.Errorf("%d connections for %d messages: sessions were not reused", n, workers*each)
	}
}

// The relay drops every idle connection between two sends (restart, idle
// timeout shorter than ours): the next notice still goes, exactly once, over
// a new connection.
func TestPoolRelayDroppedConnection(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	s := newSender(t, cfg)
	sendAll(t, s, 1, 1)
	srv.DropConnections()
	sendAll(t, s, 2, 2)
	deliveredOnce(t, srv, 1, 2, 3)
	if n := srv.Connections(); n != 2 {
		t.Errorf("connections = %d, want 2 (one dropped, one new)", n)
	}
}

// A message the relay refuses at the end of DATA is permanent, is not tried
// again on another connection, and its session is not reused.
func TestPoolDataRejectedNotRetried(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t, smtptest.WithRejectData(554, "message rejected as spam"))
	s := newSender(t, cfg)
	_, err := s.Send(context.Background(), notice(1))
	if !notify.IsPermanent(err) || notify.ErrorCode(err) != "554" {
		t.Fatalf("err = %v, want permanent 554", err)
	}
	if n := srv.Connections(); n != 1 {
		t.Fatalf("one rejected send used %d connections", n)
	}
	_, err = s.Send(context.Background(), notice(2))
	if !notify.IsPermanent(err) {
		t.Fatalf("second send: err = %v", err)
	}
	if n := srv.Connections(); n != 2 {
		t.Errorf("connections = %d: the session that saw the rejection was reused", n)
	}
	eventually(t, "rejected sessions closed", func() bool { return srv.OpenConnections() == 0 })
}

func TestPoolSessionMessageCap(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	cfg.SessionMessages = 10
	sendAll(t, newSender(t, cfg), 1, 25)
	deliveredOnce(t, srv, span(1, 25)...)
	if n := srv.Connections(); n != 3 {
		t.Errorf("25 emails at 10 per session took %d connections, want 3", n)
	}
}

func TestPoolIdleTimeout(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	clock := &fakeClock{now: time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)}
	cfg.IdleTimeout, cfg.Now = 30*time.Second, clock.Now
	s := newSender(t, cfg)

	sendAll(t, s, 1, 1)
	clock.Advance(29 * time.Second)
	sendAll(t, s, 2, 1)
	if n := srv.Connections(); n != 1 {
		t.Fatalf("a session idle 29s was not reused: %d connections", n)
	}
	clock.Advance(30 * time.Second)
	sendAll(t, s, 3, 1)
	if n := srv.Connections(); n != 2 {
		t.Fatalf("a session idle 30s was reused: %d connections", n)
	}
	// The stale session was QUIT, not left open.
	eventually(t, "the idle session to close", func() bool { return srv.OpenConnections() == 1 })
	deliveredOnce(t, srv, 1, 2, 3)
}

func TestPoolTLSAndAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode string
		opt  smtptest.Option
	}{
		{email.TLSStartTLS, smtptest.WithStartTLS()},
		{email.TLSImplicit, smtptest.WithImplicitTLS()},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			srv, cfg := setup(t, tc.opt, smtptest.WithAuth("mailer", "s3cret"))
			cfg.TLS = tc.mode
			cfg.Username, cfg.Password = "mailer", "s3cret"
			cfg.TLSConfig = &tls.Config{RootCAs: srv.RootCAs(), MinVersion: tls.VersionTLS12}
			s := newSender(t, cfg)
			sendAll(t, s, 1, 5)
			srv.DropConnections()
			sendAll(t, s, 6, 5) // a new session negotiates TLS and AUTH again
			deliveredOnce(t, srv, span(1, 10)...)
			for _, m := range srv.Messages() {
				if m.AuthUser != "mailer" {
					t.Errorf("message sent as %q", m.AuthUser)
				}
			}
			if n := srv.Connections(); n != 2 {
				t.Errorf("connections = %d, want 2", n)
			}
		})
	}
}

func TestPoolDKIMSignsEveryMessage(t *testing.T) {
	t.Parallel()
	key, txt := dkimKey(t, "ed25519")
	srv, cfg := setup(t)
	cfg.DKIM = &email.DKIM{Domain: "shop.example", Selector: "duebell1", Key: key}
	sendAll(t, newSender(t, cfg), 1, 3)
	opts := &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) { return []string{txt}, nil }}
	msgs := srv.Messages()
	if len(msgs) != 3 || srv.Connections() != 1 {
		t.Fatalf("%d messages over %d connections", len(msgs), srv.Connections())
	}
	for _, m := range msgs {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(m.Data), opts)
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Errorf("%s: verify: %v %+v", m.Header.Get("Message-Id"), err, vs)
		}
	}
}

// pool_size = 0: one connection per message, QUIT after each, as before
// the pool.
func TestPoolOff(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	cfg.PoolSize = 0
	sendAll(t, newSender(t, cfg), 1, 3)
	deliveredOnce(t, srv, 1, 2, 3)
	if n := srv.Connections(); n != 3 {
		t.Errorf("connections = %d, want 3", n)
	}
	eventually(t, "every connection to close", func() bool { return srv.OpenConnections() == 0 })
}

func TestCloseQuitsIdleSessions(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	s := newSender(t, cfg)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if _, err := s.Send(context.Background(), notice(int64(1+i))); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	eventually(t, "idle sessions to close", func() bool { return srv.OpenConnections() == 0 })
	// A send still in flight at shutdown goes, and its session is not kept.
	sendAll(t, s, 5, 1)
	deliveredOnce(t, srv, 1, 2, 3, 4, 5)
	eventually(t, "the last session to close", func() bool { return srv.OpenConnections() == 0 })
}

// A Send cancelled while the relay hangs on a pooled session returns at its
// deadline, not after Timeout, and that session is not used again.
func TestPoolCancelledSendDropsSession(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	cfg.Timeout = time.Minute
	s := newSender(t, cfg)
	sendAll(t, s, 1, 1)

	release := srv.HoldData()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Send(ctx, notice(2))
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("cancelled Send took %v", elapsed)
	}
	release()

	sendAll(t, s, 3, 1)
	if n := srv.Connections(); n != 2 {
		t.Errorf("connections = %d: the cancelled session was reused", n)
	}
}

// A session idle for longer than Timeout (but not IdleTimeout) is still
// reused: each Send renews the connection's deadline.
func TestPoolReuseOutlivesSendTimeout(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	cfg.Timeout = 200 * time.Millisecond
	s := newSender(t, cfg)
	sendAll(t, s, 1, 1)
	time.Sleep(2 * cfg.Timeout) // real time: the connection's deadline passes
	sendAll(t, s, 2, 1)
	deliveredOnce(t, srv, 1, 2)
	if n := srv.Connections(); n != 1 {
		t.Errorf("connections = %d, want 1", n)
	}
}

// A relay that refuses our login leaves no connection behind: go-mail
// returns without closing it, so the Sender does.
func TestRefusedLoginClosesConnection(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t, smtptest.WithAuth("mailer", "s3cret"))
	cfg.Username, cfg.Password = "mailer", "wrong"
	s := newSender(t, cfg)
	for i := range 3 {
		if _, err := s.Send(context.Background(), notice(int64(i+1))); notify.ErrorClass(err) != notify.ClassAccount {
			t.Fatalf("err = %v, want the account class", err)
		}
	}
	eventually(t, "refused connections to close", func() bool { return srv.OpenConnections() == 0 })
}

// MAIL FROM answered 421 on a pooled session (the relay is closing it): the
// relay cannot have the message, so it goes once over a new connection. A
// 550 to MAIL FROM refuses the sender every message shares (a daily quota,
// a From the account may not use): the account class, which opens the
// relay's circuit, not resent; a 552 (the declared size) refuses this
// message alone.
func TestPoolMailFromFailure(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]smtptest.Option{"pipelined": nil, "unpipelined": {smtptest.WithoutPipelining()}} {
		t.Run("421 retried on a new connection "+name, func(t *testing.T) {
			t.Parallel()
			srv, cfg := setup(t, opts...)
			s := newSender(t, cfg)
			sendAll(t, s, 1, 1)
			srv.FailNextMail(421, "closing transmission channel")
			sendAll(t, s, 2, 1)
			deliveredOnce(t, srv, 1, 2)
			if n := srv.Connections(); n != 2 {
				t.Errorf("connections = %d, want 2", n)
			}
		})
	}
	for _, tc := range []struct {
		code  int
		msg   string
		class notify.Class
	}{
		{550, "5.4.5 Daily user sending limit exceeded", notify.ClassAccount},
		{553, "5.7.1 sender address rejected: not owned by user", notify.ClassAccount},
		{552, "5.3.4 message size exceeds fixed limit", notify.ClassPermanent},
	} {
		t.Run(fmt.Sprintf("%d not retried", tc.code), func(t *testing.T) {
			t.Parallel()
			srv, cfg := setup(t)
			s := newSender(t, cfg)
			sendAll(t, s, 1, 1)
			srv.FailNextMail(tc.code, tc.msg)
			_, err := s.Send(context.Background(), notice(2))
			if notify.ErrorClass(err) != tc.class || notify.ErrorCode(err) != strconv.Itoa(tc.code) {
				t.Fatalf("err = %v (class %q), want %s %d", err, notify.ErrorClass(err), tc.class, tc.code)
			}
			deliveredOnce(t, srv, 1)
			if n := srv.Connections(); n != 1 {
				t.Errorf("connections = %d: the refused message was tried again", n)
			}
		})
	}
}

// A relay that offers PIPELINING gets each envelope (MAIL FROM, RCPT TO,
// DATA) in one piece; one that does not gets one command at a time. Both
// receive every message once, whole, on one pooled session.
func TestPipelinedEnvelope(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      []smtptest.Option
		pipelined int
	}{
		{"offered", nil, 20},
		{"not offered", []smtptest.Option{smtptest.WithoutPipelining()}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, cfg := setup(t, tc.opts...)
			sendAll(t, newSender(t, cfg), 1, 20)
			deliveredOnce(t, srv, span(1, 20)...)
			if n := srv.PipelinedEnvelopes(); n != tc.pipelined {
				t.Errorf("%d envelopes came in one piece, want %d", n, tc.pipelined)
			}
			if n := srv.Connections(); n != 1 {
				t.Errorf("20 emails took %d connections, want 1", n)
			}
			for _, m := range srv.Messages() {
				if text, err := m.Text(); err != nil || !strings.Contains(text, "https://pay.shop.example/r/abc") {
					t.Errorf("message %s arrived cut short: %q, %v", m.Header.Get("Message-Id"), text, err)
				}
			}
		})
	}
}

// sendAsync sends notice id on s in the background; its error arrives on
// the channel returned.
func sendAsync(ctx context.Context, s *email.Sender, id int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, notice(id))
		done <- err
	}()
	return done
}

// oneSessionHeld is a sender with one session, which notice 1's send holds:
// the relay keeps its DATA until release. timeout is the sender's.
func oneSessionHeld(t *testing.T, timeout time.Duration) (srv *smtptest.Server, s *email.Sender, release func(), first <-chan error) {
	t.Helper()
	srv, cfg := setup(t)
	cfg.PoolSize, cfg.Timeout = 1, timeout
	s = newSender(t, cfg)
	release = srv.HoldData()
	first = sendAsync(context.Background(), s, 1)
	eventually(t, "the first send holding the only session", func() bool { return srv.HeldData() == 1 })
	return srv, s, release, first
}

// With every session busy, a Send waits for one only until its StartBy
// instant (the close of the send window), then gives up untried: the relay
// gets nothing from it.
func TestPoolWaitEndsWhenTheWindowCloses(t *testing.T) {
	t.Parallel()
	srv, s, release, first := oneSessionHeld(t, 5*time.Second)
	start := time.Now()
	_, err := s.Send(notify.WithStartBy(context.Background(), start.Add(200*time.Millisecond)), notice(2))
	if !errors.Is(err, notify.ErrNotStarted) {
		t.Fatalf("err = %v, want ErrNotStarted", err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond || waited > 5*time.Second {
		t.Errorf("gave up after %v, want at the StartBy instant (200ms)", waited)
	}
	release()
	if err := <-first; err != nil {
		t.Fatalf("first send: %v", err)
	}
	deliveredOnce(t, srv, 1)
}

// With every session busy, a Send waiting for one gives up untried when the
// dispatcher is told to stop (notify.StartStop): a deploy behind a slow
// relay used to start new emails for the whole shutdown grace, and cut the
// last of them off mid-transfer (an audit: 8 sent twice after the restart).
func TestPoolWaitEndsWhenTheDispatcherStops(t *testing.T) {
	t.Parallel()
	srv, s, release, first := oneSessionHeld(t, 5*time.Second)
	stop := make(chan struct{})
	second := sendAsync(notify.WithStartStop(context.Background(), stop), s, 2)
	close(stop)
	select {
	case err := <-second:
		if !errors.Is(err, notify.ErrNotStarted) {
			t.Fatalf("err = %v, want ErrNotStarted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting send did not give up when the dispatcher stopped")
	}
	release()
	if err := <-first; err != nil {
		t.Fatalf("first send: %v", err)
	}
	deliveredOnce(t, srv, 1)
}

// Behind a relay slower than the wait the dispatcher allows, a send that
// would not get a session in time gives up at once instead of waiting the
// allowance out: each email used to hold a worker for the whole wait, and
// the SMS behind them went at the relay's pace (an audit: 11 a second
// behind a relay taking 3 s an email).
func TestPoolGivesUpAtOnceWhenTheSessionsAheadWouldTakeTooLong(t *testing.T) {
	t.Parallel()
	srv, s, release, first := oneSessionHeld(t, time.Minute)
	time.Sleep(300 * time.Millisecond) // the relay takes its time over the message
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	release = srv.HoldData()
	second := sendAsync(context.Background(), s, 2)
	eventually(t, "the second send holding the session", func() bool { return srv.HeldData() == 1 })
	start := time.Now()
	_, err := s.Send(notify.WithStartBy(context.Background(), start.Add(150*time.Millisecond)), notice(3))
	if took := time.Since(start); !errors.Is(err, notify.ErrNotStarted) || !strings.Contains(err.Error(), "of sends ahead") || took >= 150*time.Millisecond {
		t.Errorf("after %v: %v; want ErrNotStarted at once, the session held for about 300ms a message", took, err)
	}
	release()
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	deliveredOnce(t, srv, 1, 2)
}
