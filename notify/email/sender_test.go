package email_test

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/internal/smtptest"
	"duebell/notify"
	"duebell/notify/email"

	"github.com/emersion/go-sasl"
)

const (
	from     = "notice@shop.example"
	fromName = "乐分期"
	to       = "zhangsan@example.com"
)

func setup(t *testing.T, opts ...smtptest.Option) (*smtptest.Server, email.Config) {
	t.Helper()
	srv := smtptest.Start(t, opts...)
	return srv, email.Config{
		Host:     srv.Host(),
		Port:     srv.Port(),
		TLS:      email.TLSNone,
		From:     from,
		FromName: fromName,
		Timeout:  5 * time.Second,
		PoolSize: email.DefaultPoolSize,
	}
}

func newSender(t *testing.T, cfg email.Config) *email.Sender {
	t.Helper()
	s, err := email.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func notice(id int64) notify.Message {
	return notify.Message{
		NotificationID: id,
		To:             to,
		ToName:         "张三",
		Subject:        "您的分期账单将于3天后到期",
		Text:           "张三您好：第2期 ¥1,234.56 将于 2025-07-01 到期。\n还款：https://pay.shop.example/r/abc",
		HTML:           "<p>张三您好：第2期 <b>¥1,234.56</b> 将于 2025-07-01 到期。</p>",
	}
}

func only(t *testing.T, srv *smtptest.Server) smtptest.Message {
	t.Helper()
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

func TestSendDelivers(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	s := newSender(t, cfg)
	n := notice(42)

	res, err := s.Send(context.Background(), n)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if s.Provider() != "smtp" {
		t.Errorf("Provider = %q", s.Provider())
	}
	if want := "<duebell.42@shop.example>"; res.ProviderMsgID != want {
		t.Errorf("ProviderMsgID = %q, want %q", res.ProviderMsgID, want)
	}

	got := only(t, srv)
	if got.From != from || len(got.To) != 1 || got.To[0] != to {
		t.Errorf("envelope %q -> %q", got.From, got.To)
	}
	if id := got.Header.Get("Message-Id"); id != res.ProviderMsgID {
		t.Errorf("Message-ID header %q, result %q", id, res.ProviderMsgID)
	}
	if subj, err := got.Subject(); err != nil || subj != n.Subject {
		t.Errorf("Subject = %q, %v", subj, err)
	}
	fromAddrs, err := got.Header.AddressList("From")
	if err != nil || len(fromAddrs) != 1 || fromAddrs[0].Name != fromName || fromAddrs[0].Address != from {
		t.Errorf("From = %v, %v", fromAddrs, err)
	}
	toAddrs, err := got.Header.AddressList("To")
	if err != nil || len(toAddrs) != 1 || toAddrs[0].Name != "张三" || toAddrs[0].Address != to {
		t.Errorf("To = %v, %v", toAddrs, err)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q", ct)
	}
	if text, err := got.Text(); err != nil || text != n.Text {
		t.Errorf("text part = %q, %v", text, err)
	}
	if html, err := got.HTML(); err != nil || html != n.HTML {
		t.Errorf("html part = %q, %v", html, err)
	}
	if ua := got.Header.Get("User-Agent"); strings.Contains(ua, "go-mail") {
		t.Errorf("User-Agent = %q", ua)
	}
}

// EHLO gives the configured name (a relay, or a receiving server on port
// 25, checks that it is a fully qualified domain name), else the host's.
func TestSendGivesTheConfiguredHELOName(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()
	for _, helo := range []string{"mail1.shop.example", ""} {
		srv, cfg := setup(t)
		cfg.HELO = helo
		if _, err := newSender(t, cfg).Send(context.Background(), notice(1)); err != nil {
			t.Fatal(err)
		}
		if got, want := only(t, srv).Helo, cmp.Or(helo, host); got != want {
			t.Errorf("EHLO %q with email.helo %q, want %q", got, helo, want)
		}
	}
}

func TestSendTextOnly(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	n := notice(1)
	n.HTML = ""

	if _, err := newSender(t, cfg).Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := only(t, srv)
	if got.HasPart("text/html") {
		t.Error("text-only notice has an HTML part")
	}
	// A single-part body ends with the line break that ends DATA.
	if text, err := got.Text(); err != nil || strings.TrimSuffix(text, "\n") != n.Text {
		t.Errorf("text = %q, %v", text, err)
	}
}

func TestMessageIDStablePerNotice(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	s := newSender(t, cfg)
	for _, id := range []int64{7, 7, 8} {
		if _, err := s.Send(context.Background(), notice(id)); err != nil {
			t.Fatalf("Send(%d): %v", id, err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 3 {
		t.Fatalf("got %d messages", len(msgs))
	}
	first, retry, other := msgs[0].Header.Get("Message-Id"), msgs[1].Header.Get("Message-Id"), msgs[2].Header.Get("Message-Id")
	if first != "<duebell.7@shop.example>" || retry != first {
		t.Errorf("resend of notice 7: %q then %q", first, retry)
	}
	if other == first {
		t.Errorf("notices 7 and 8 share Message-ID %q", other)
	}

	// Notice 7 of another database (queued at another time) has another
	// Message-ID; the same notice sent again keeps its own.
	queued := func(at time.Time) notify.Message { n := notice(7); n.Queued = at; return n }
	t1, t2 := time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC), time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, n := range []notify.Message{queued(t1), queued(t1), queued(t2)} {
		if _, err := s.Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	msgs = srv.Messages()[3:]
	a, again, b := msgs[0].Header.Get("Message-Id"), msgs[1].Header.Get("Message-Id"), msgs[2].Header.Get("Message-Id")
	if want := "<duebell.7." + strconv.FormatInt(t1.UnixMicro(), 36) + "@shop.example>"; a != want || again != a || b == a || b == first {
		t.Errorf("notice 7 queued at two times: %q, %q again, %q; want %q twice, then another", a, again, b, want)
	}
}

func TestSendAuth(t *testing.T) {
	t.Parallel()
	t.Run("good password", func(t *testing.T) {
		t.Parallel()
		srv, cfg := setup(t, smtptest.WithAuth("mailer", "s3cret"))
		cfg.Username, cfg.Password = "mailer", "s3cret"
		if _, err := newSender(t, cfg).Send(context.Background(), notice(1)); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := only(t, srv); got.AuthUser != "mailer" {
			t.Errorf("AuthUser = %q", got.AuthUser)
		}
	})
	t.Run("bad password", func(t *testing.T) {
		t.Parallel()
		srv, cfg := setup(t, smtptest.WithAuth("mailer", "s3cret"))
		cfg.Username, cfg.Password = "mailer", "wrong"
		_, err := newSender(t, cfg).Send(context.Background(), notice(1))
		// 535 says the relay refuses our account: every notice would fail
		// alike, so it is the account class (retryable once fixed).
		if err == nil || notify.IsPermanent(err) || notify.ErrorClass(err) != notify.ClassAccount || notify.ErrorCode(err) != "535" {
			t.Fatalf("err = %v (class %q, code %q), want account 535", err, notify.ErrorClass(err), notify.ErrorCode(err))
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server stored %d messages", n)
		}
	})
	// A relay that offers LOGIN only (Microsoft 365 among others): auth
	// "auto" finds it, over TLS or to a loopback relay without, a mechanism
	// named in the config is used as named, and one the relay does not
	// offer fails every message alike, which is the account's class, not a
	// transient failure with no code.
	for _, tc := range []struct {
		name, auth string
		tls        bool
		class      notify.Class
	}{
		{"LOGIN found by auto over STARTTLS", "auto", true, ""},
		{"LOGIN named over a loopback relay", "login", false, ""},
		{"PLAIN named, relay offers LOGIN", "plain", true, notify.ClassAccount},
		{"auto finds LOGIN on a loopback relay without TLS", "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := []smtptest.Option{smtptest.WithAuth("mailer", "s3cret"), smtptest.WithAuthMechanisms(sasl.Login)}
			if tc.tls {
				opts = append(opts, smtptest.WithStartTLS())
			}
			srv, cfg := setup(t, opts...)
			if tc.tls {
				cfg.TLS, cfg.TLSConfig = email.TLSStartTLS, &tls.Config{RootCAs: srv.RootCAs(), MinVersion: tls.VersionTLS12}
			}
			cfg.Username, cfg.Password, cfg.Auth = "mailer", "s3cret", tc.auth
			_, err := newSender(t, cfg).Send(context.Background(), notice(1))
			if tc.class == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if got := only(t, srv); got.AuthUser != "mailer" {
					t.Errorf("AuthUser = %q", got.AuthUser)
				}
				return
			}
			if notify.ErrorClass(err) != tc.class || notify.ErrorCode(err) != "auth_mechanism" {
				t.Fatalf("err = %v (class %q, code %q), want %s auth_mechanism", err, notify.ErrorClass(err), notify.ErrorCode(err), tc.class)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server stored %d messages", n)
			}
		})
	}
	t.Run("unknown mechanism", func(t *testing.T) {
		t.Parallel()
		_, cfg := setup(t)
		cfg.Username, cfg.Password, cfg.Auth = "mailer", "s3cret", "digest-md5"
		if _, err := email.New(cfg); err == nil || !strings.Contains(err.Error(), "smtp auth") {
			t.Fatalf("New: %v, want the auth mechanism refused", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Parallel()
		srv, cfg := setup(t, smtptest.WithAuth("mailer", "s3cret"))
		_, err := newSender(t, cfg).Send(context.Background(), notice(1))
		if err == nil {
			t.Fatal("Send without AUTH succeeded")
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server stored %d messages", n)
		}
	})
}

func TestSendErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opt   smtptest.Option
		class notify.Class
		code  string
	}{
		{"rcpt 550", smtptest.WithReject(550, "<zhangsan@example.com>: mailbox unavailable"), notify.ClassPermanent, "550"},
		// The address has no mailbox (Gmail's, Exchange Online's words):
		// the customer's email opt-out is set until the address changes.
		{"rcpt 550 5.1.1", smtptest.WithReject(550, "5.1.1 The email account that you tried to reach does not exist"), notify.ClassNoMailbox, "550"},
		{"rcpt 550 5.1.10", smtptest.WithReject(550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient zhangsan@example.com not found"), notify.ClassNoMailbox, "550"},
		// A policy refusal, a bad address syntax or a later status code
		// says nothing lasting about the mailbox.
		{"rcpt 550 5.7.1", smtptest.WithReject(550, "5.7.1 recipient refused by policy"), notify.ClassPermanent, "550"},
		{"rcpt 553 5.1.3", smtptest.WithReject(553, "5.1.3 bad recipient address syntax"), notify.ClassPermanent, "553"},
		{"rcpt 550 5.1.100", smtptest.WithReject(550, "5.1.100 not a status code we know"), notify.ClassPermanent, "550"},
		{"rcpt 451", smtptest.WithReject(451, "4.1.1 greylisted, try again"), notify.ClassTransient, "451"},
		{"data 554", smtptest.WithRejectData(554, "message rejected as spam"), notify.ClassPermanent, "554"},
		{"data 554 5.1.1", smtptest.WithRejectData(554, "5.1.1 message refused"), notify.ClassPermanent, "554"},
		{"data 452", smtptest.WithRejectData(452, "insufficient storage"), notify.ClassTransient, "452"},
	} {
		// The same classes whether the envelope is pipelined or not.
		for _, pipe := range []string{"pipelined", "unpipelined"} {
			t.Run(tc.name+" "+pipe, func(t *testing.T) {
				t.Parallel()
				opts := []smtptest.Option{tc.opt}
				if pipe == "unpipelined" {
					opts = append(opts, smtptest.WithoutPipelining())
				}
				srv, cfg := setup(t, opts...)
				_, err := newSender(t, cfg).Send(context.Background(), notice(1))
				if err == nil {
					t.Fatal("Send succeeded")
				}
				if notify.ErrorClass(err) != tc.class || notify.IsPermanent(err) != tc.class.Permanent() ||
					notify.ErrorCode(err) != tc.code {
					t.Errorf("err = %v: class %q code %q, want %s %q",
						err, notify.ErrorClass(err), notify.ErrorCode(err), tc.class, tc.code)
				}
				if strings.Contains(err.Error(), "zhangsan") {
					t.Errorf("error leaks the recipient: %v", err)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("the relay kept %d messages", n)
				}
			})
		}
	}
}

func TestSendServerDown(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t)
	srv.Close()
	_, err := newSender(t, cfg).Send(context.Background(), notice(1))
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
}

// A relay that read the whole message and never answers its final "." may
// have taken it: the failure is transient and unanswered (the dispatcher
// logs the try's outcome as unknown), with a pipelining relay and without.
// A relay that cannot be reached, or refuses the recipient, had nothing.
func TestSendUnansweredAfterTheMessage(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]smtptest.Option{"pipelined": nil, "one command at a time": {smtptest.WithoutPipelining()}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, cfg := setup(t, opts...)
			cfg.Timeout = 200 * time.Millisecond
			release := srv.HoldData()
			_, err := newSender(t, cfg).Send(context.Background(), notice(1))
			release()
			if err == nil || notify.IsPermanent(err) || !notify.IsUnanswered(err) || notify.ErrorCode(err) != "timeout" {
				t.Fatalf("err = %v (code %q), want transient timeout, unanswered", err, notify.ErrorCode(err))
			}
			if strings.Contains(err.Error(), "@example") {
				t.Errorf("error names the recipient: %v", err)
			}
		})
	}
	srv, cfg := setup(t, smtptest.WithReject(451, "try again later"))
	if _, err := newSender(t, cfg).Send(context.Background(), notice(1)); err == nil || notify.IsUnanswered(err) || notify.IsOutage(err) {
		t.Errorf("refused recipient: err = %v, want transient, neither unanswered nor an outage", err)
	}
	srv.Close()
	if _, err := newSender(t, cfg).Send(context.Background(), notice(1)); err == nil || notify.IsUnanswered(err) || !notify.IsOutage(err) {
		t.Errorf("relay down: err = %v, want transient, an outage, not unanswered", err)
	}
}

// A relay that answers 421 before any transaction will not serve now: the
// failure counts towards its unreachable circuit, as a refused connection
// does (an audit: every email failed after its retries, the circuit never
// opened, since only a 421 within a transaction counted).
func TestRelayClosingAtHelloIsAnOutage(t *testing.T) {
	t.Parallel()
	_, cfg := setup(t, smtptest.WithRefuseSession(421, "4.3.2 service not available, closing"))
	_, err := newSender(t, cfg).Send(context.Background(), notice(1))
	if err == nil || notify.IsPermanent(err) || !notify.IsOutage(err) || notify.ErrorCode(err) != "421" {
		t.Fatalf("err = %v (code %q), want transient 421, an outage", err, notify.ErrorCode(err))
	}
}

// silentServer accepts connections and never greets, like a hung relay.
func silentServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestSendBoundedInTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		cfgTimeout time.Duration
		ctxTimeout time.Duration
	}{
		{"context deadline", time.Minute, 100 * time.Millisecond},
		{"config timeout", 100 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := email.Config{Host: "127.0.0.1", Port: silentServer(t), TLS: email.TLSNone, From: from, Timeout: tc.cfgTimeout}
			ctx := context.Background()
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			start := time.Now()
			_, err := newSender(t, cfg).Send(ctx, notice(1))
			if err == nil || notify.IsPermanent(err) {
				t.Fatalf("err = %v, want transient", err)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("Send took %v", elapsed)
			}
		})
	}
}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t, smtptest.WithAuth("mailer", "s3cret"))
	cfg.Username, cfg.Password = "mailer", "s3cret"
	s := newSender(t, cfg)

	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := s.Send(context.Background(), notice(int64(100+i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Send: %v", err)
	}
	ids := map[string]bool{}
	for _, m := range srv.Messages() {
		ids[m.Header.Get("Message-Id")] = true
	}
	for i := range n {
		if id := fmt.Sprintf("<duebell.%d@shop.example>", 100+i); !ids[id] {
			t.Errorf("missing %s", id)
		}
	}
}

// A relay that offers no STARTTLS when it is required gets nothing in
// clear. (TLS and AUTH that work: TestPoolTLSAndAuth.)
func TestSendStartTLSRequired(t *testing.T) {
	t.Parallel()
	srv, cfg := setup(t) // no STARTTLS offered
	cfg.TLS = email.TLSStartTLS
	_, err := newSender(t, cfg).Send(context.Background(), notice(3))
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("sent in clear: %d messages", n)
	}
}
