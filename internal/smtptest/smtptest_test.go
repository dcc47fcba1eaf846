package smtptest

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const multipartMsg = "From: =?utf-8?q?=E8=B4=A2=E5=8A=A1?= <bill@shop.example>\r\n" +
	"To: a@b.example\r\n" +
	"Subject: =?UTF-8?b?5Y2z5bCG5Yiw5pyf?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=XYZ\r\n" +
	"\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"=E4=BD=A0=E5=A5=BD\r\nline two\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+5L2g5aW9PC9wPg==\r\n" +
	"--XYZ--\r\n"

func TestServerRecordsAndDecodes(t *testing.T) {
	t.Parallel()
	srv := Start(t)

	err := send(srv.Addr(), nil, "bill@shop.example", []string{"a@b.example"}, strings.NewReader(multipartMsg))
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "bill@shop.example" || len(m.To) != 1 || m.To[0] != "a@b.example" {
		t.Errorf("envelope = %q -> %q", m.From, m.To)
	}
	if subj, err := m.Subject(); err != nil || subj != "即将到期" {
		t.Errorf("subject = %q, %v", subj, err)
	}
	if from, err := m.DecodedHeader("From"); err != nil || !strings.HasPrefix(from, "财务") {
		t.Errorf("from = %q, %v", from, err)
	}
	if text, err := m.Text(); err != nil || text != "你好\nline two" {
		t.Errorf("text = %q, %v", text, err)
	}
	if html, err := m.HTML(); err != nil || html != "<p>你好</p>" {
		t.Errorf("html = %q, %v", html, err)
	}
	if m.HasPart("image/png") {
		t.Error("HasPart(image/png) = true")
	}
}

// A discarding sink counts what it accepted and keeps none of it.
func TestServerDiscard(t *testing.T) {
	t.Parallel()
	srv := Start(t, WithDiscard())
	for range 3 {
		if err := send(srv.Addr(), nil, "bill@shop.example", []string{"a@b.example"}, strings.NewReader(multipartMsg)); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	if n, kept := srv.Accepted(), len(srv.Messages()); n != 3 || kept != 0 {
		t.Errorf("accepted %d, kept %d; want 3 and 0", n, kept)
	}
}

func TestServerAuth(t *testing.T) {
	t.Parallel()
	srv := Start(t, WithAuth("u", "p"))
	body := "Subject: hi\r\n\r\nhello\r\n"

	err := send(srv.Addr(), nil, "x@y.example", []string{"a@b.example"}, strings.NewReader(body))
	if code := smtpCode(err); code != 502 {
		t.Errorf("no auth: err = %v, want 502", err)
	}
	err = send(srv.Addr(), sasl.NewPlainClient("", "u", "wrong"), "x@y.example", []string{"a@b.example"}, strings.NewReader(body))
	if code := smtpCode(err); code != 535 {
		t.Errorf("bad password: err = %v, want 535", err)
	}
	err = send(srv.Addr(), sasl.NewPlainClient("", "u", "p"), "x@y.example", []string{"a@b.example"}, strings.NewReader(body))
	if err != nil {
		t.Fatalf("good password: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].AuthUser != "u" {
		t.Fatalf("messages = %+v", msgs)
	}
}

func TestServerReject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  Option
		code int
	}{
		{"rcpt 550", WithReject(550, "no such user"), 550},
		{"rcpt 451", WithReject(451, "try later"), 451},
		{"data 554", WithRejectData(554, "content rejected"), 554},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := Start(t, tc.opt)
			err := send(srv.Addr(), nil, "x@y.example", []string{"a@b.example"}, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
			if code := smtpCode(err); code != tc.code {
				t.Errorf("err = %v, want code %d", err, tc.code)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("stored %d messages, want 0", n)
			}
		})
	}
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	t.Run("starttls", func(t *testing.T) {
		t.Parallel()
		srv := Start(t, WithStartTLS())
		c, err := smtp.DialStartTLS(srv.Addr(), &tls.Config{RootCAs: srv.RootCAs(), ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		if err := c.SendMail("x@y.example", []string{"a@b.example"}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatalf("send: %v", err)
		}
		if n := len(srv.Messages()); n != 1 {
			t.Errorf("stored %d messages, want 1", n)
		}
	})
	t.Run("implicit", func(t *testing.T) {
		t.Parallel()
		srv := Start(t, WithImplicitTLS())
		c, err := smtp.DialTLS(srv.Addr(), &tls.Config{RootCAs: srv.RootCAs(), ServerName: "localhost"})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		if err := c.SendMail("x@y.example", []string{"a@b.example"}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatalf("send: %v", err)
		}
		if n := len(srv.Messages()); n != 1 {
			t.Errorf("stored %d messages, want 1", n)
		}
	})
}

func TestServerClose(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	srv.Close()
	srv.Close() // idempotent
	if _, err := smtp.Dial(srv.Addr()); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// send delivers body over plain SMTP; go-smtp's SendMail insists on STARTTLS.
func send(addr string, auth sasl.Client, from string, to []string, body *strings.Reader) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.SendMail(from, to, body); err != nil {
		return err
	}
	return c.Quit()
}

func TestServerCountsAndDropsConnections(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if err := c.SendMail("x@y.example", []string{"a@b.example"}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got, open := srv.Connections(), srv.OpenConnections(); got != 1 || open != 1 {
		t.Fatalf("connections %d, open %d; want 1, 1", got, open)
	}

	srv.DropConnections()
	if err := c.Noop(); err == nil {
		t.Fatal("NOOP on a dropped connection succeeded")
	}
	if open := srv.OpenConnections(); open != 0 {
		t.Errorf("open after drop = %d", open)
	}
	// Still listening: a new client is served.
	if err := send(srv.Addr(), nil, "x@y.example", []string{"a@b.example"}, strings.NewReader("Subject: y\r\n\r\ny\r\n")); err != nil {
		t.Fatalf("send after drop: %v", err)
	}
	if got, n := srv.Connections(), len(srv.Messages()); got != 2 || n != 2 {
		t.Errorf("connections %d, messages %d; want 2, 2", got, n)
	}
}

func TestServerHoldData(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	release := srv.HoldData()
	done := make(chan error, 1)
	go func() {
		done <- send(srv.Addr(), nil, "x@y.example", []string{"a@b.example"}, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
	}()
	select {
	case err := <-done:
		t.Fatalf("send returned while DATA was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("send: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("stored %d messages, want 1", n)
	}
}
