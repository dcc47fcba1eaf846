package email_test

import (
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"duebell/notify"
	"duebell/notify/email"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	good := email.Config{Host: "smtp.shop.example", From: from}
	if _, err := email.New(good); err != nil {
		t.Fatalf("New(minimal): %v", err)
	}
	for name, mutate := range map[string]func(*email.Config){
		"no host":          func(c *email.Config) { c.Host = "" },
		"bad port":         func(c *email.Config) { c.Port = 70000 },
		"bad tls":          func(c *email.Config) { c.TLS = "ssl" },
		"no from":          func(c *email.Config) { c.From = "" },
		"bad from":         func(c *email.Config) { c.From = "not-an-address" },
		"named from":       func(c *email.Config) { c.From = "Shop <notice@shop.example>" },
		"negative timeout": func(c *email.Config) { c.Timeout = -1 },
		"user no password": func(c *email.Config) { c.Username = "u" },
		"negative pool":    func(c *email.Config) { c.PoolSize = -1 },
		"negative cap":     func(c *email.Config) { c.SessionMessages = -1 },
		"negative idle":    func(c *email.Config) { c.IdleTimeout = -1 },
		"password in clear": func(c *email.Config) {
			c.TLS, c.Username, c.Password = email.TLSNone, "u", "p"
		},
	} {
		cfg := good
		mutate(&cfg)
		if _, err := email.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	local := email.Config{Host: "localhost", Port: 1025, TLS: email.TLSNone, Username: "u", Password: "p", From: from}
	if _, err := email.New(local); err != nil {
		t.Errorf("auth to a loopback relay without TLS: %v", err)
	}
}

func TestBuildMessage(t *testing.T) {
	t.Parallel()
	n := notice(9)
	n.Subject = "到期提醒\r\nBcc: attacker@evil.example"
	msg, err := email.BuildMessage(from, fromName, n)
	if err != nil {
		t.Fatalf("BuildMessage: %v", err)
	}
	if got := msg.GetMessageID(); got != "<duebell.9@shop.example>" {
		t.Errorf("Message-ID = %q", got)
	}
	var b strings.Builder
	if _, err := msg.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\r\nBcc:") {
		t.Errorf("subject injected a header:\n%s", b.String())
	}

	bad := notice(9)
	bad.To = "zhangsan.example.com"
	if _, err := email.BuildMessage(from, fromName, bad); err == nil || strings.Contains(err.Error(), "zhangsan") {
		t.Errorf("bad recipient: err = %v", err)
	}
	if _, err := email.BuildMessage(from, fromName, notice(0)); err == nil {
		t.Error("notification id 0 accepted")
	}
}

// Chinese text goes as base64 (quoted-printable would triple it), English
// as readable quoted-printable; either way the relay gets the text back.
func TestPartEncodingFollowsTheText(t *testing.T) {
	t.Parallel()
	en := notice(10)
	en.ToName, en.Subject = "Alex", "Your installment is due in 3 days"
	en.Text = "Hi Alex, installment 2 of 1,234.56 is due on Jul 1, 2025.\nPay: https://pay.shop.example/r/abc"
	en.HTML = "<p>Hi Alex, installment 2 of <b>1,234.56</b> is due on Jul 1, 2025.</p>"
	for _, c := range []struct {
		name string
		msg  notify.Message
		want string
	}{{"zh-CN", notice(9), "base64"}, {"en", en, "quoted-printable"}} {
		msg, err := email.BuildMessage(from, fromName, c.msg)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if _, err := msg.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), "Content-Transfer-Encoding: "+c.want); n != 2 {
			t.Errorf("%s: %d parts in %s, want both:\n%s", c.name, n, c.want, b.String())
		}
		// Each part's text, decoded, ends its lines CRLF (RFC 2046 4.1.1):
		// base64 keeps whatever line ends it was given.
		m, err := mail.ReadMessage(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
		r := multipart.NewReader(m.Body, params["boundary"])
		for {
			p, err := r.NextPart() // undoes the transfer encoding
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(p)
			if p.Header.Get("Content-Transfer-Encoding") == "base64" { // NextPart undoes quoted-printable only
				if body, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(body))); err != nil {
					t.Fatal(err)
				}
			}
			if bare := strings.Count(string(body), "\n") - strings.Count(string(body), "\r\n"); bare > 0 ||
				(strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") && !strings.Contains(string(body), "\r\n")) {
				t.Errorf("%s %s: %d bare LF line ends in %q", c.name, p.Header.Get("Content-Type"), bare, body)
			}
		}
	}
}
