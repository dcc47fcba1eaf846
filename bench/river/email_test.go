package river

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"
	gomail "github.com/wneessen/go-mail"
)

// backend is an SMTP server that accepts and discards every message.
type backend struct{ got *atomic.Int64 }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return session(b), nil }

type session struct{ got *atomic.Int64 }

func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s session) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.got.Add(1)
	return err
}
func (session) Reset()        {}
func (session) Logout() error { return nil }

type emailArgs struct {
	To, Subject, Text, HTML string
	ID                      int64
}

func (emailArgs) Kind() string { return "email" }

// emailWorker sends one message on its own connection, as a job that knows
// nothing of the jobs beside it does.
type emailWorker struct {
	river.WorkerDefaults[emailArgs]
	client *gomail.Client
}

func (w *emailWorker) Work(ctx context.Context, job *river.Job[emailArgs]) error {
	m := gomail.NewMsg(gomail.WithEncoding(gomail.EncodingB64))
	if err := m.From("billing@example.com"); err != nil {
		return err
	}
	if err := m.To(job.Args.To); err != nil {
		return err
	}
	m.Subject(job.Args.Subject)
	m.SetMessageIDWithValue("duebell." + strconv.FormatInt(job.Args.ID, 10) + "@example.com")
	m.SetBodyString(gomail.TypeTextPlain, job.Args.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, job.Args.HTML)
	return w.client.DialAndSendWithContext(ctx, m)
}

func BenchmarkRiverEmail(b *testing.B) {
	var got atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := smtp.NewServer(backend{got: &got})
	srv.Domain = "localhost"
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	mc, err := gomail.NewClient("127.0.0.1", gomail.WithPort(l.Addr().(*net.TCPAddr).Port),
		gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithTimeout(10*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	// About the size of duebell's default due_soon email (text 0.5 KB, HTML 1.7 KB).
	text := strings.Repeat("您的“iPhone 17 3期”分期第1/3期账单将于2026年12月10日到期，还有3天。", 6)
	html := strings.Repeat(`<p style="margin:0 0 12px;">您的“iPhone 17 3期”分期第1/3期账单将于<strong>2026年12月10日</strong>到期。</p>`, 14)
	runQueue(b, "riverbench_email", &emailWorker{client: mc}, func(i int) emailArgs {
		return emailArgs{To: "li" + strconv.Itoa(i) + "@example.com", Subject: "还款提醒：您的分期账单3天后到期",
			Text: text, HTML: html, ID: int64(i)}
	}, &got)
}
