package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/internal/smtptest"
	"duebell/notify/sms/webhook"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/sqlite"

	"github.com/jmoiron/sqlx"
)

const (
	e2eIngestToken = "e2e-ingest-token-0123456789"
	e2eSMSSecret   = "e2e-sms-gateway-secret"
)

// smsGateway is an httptest SMS gateway that checks each request the way the
// webhook provider documents it (HMAC-SHA256 of the raw body) and records it.
type smsGateway struct {
	*httptest.Server
	mu       sync.Mutex
	received []map[string]string
	failNext map[string]int // phone → how many 503s to answer first
	// onSend, when set, runs for each SMS before the gateway answers (a
	// push landing while a reminder is in the gateway's hands).
	onSend func(to string)
}

func newSMSGateway(t *testing.T) *smsGateway {
	g := &smsGateway{failNext: map[string]int{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !webhook.Verify([]byte(e2eSMSSecret), body, r.Header.Get(webhook.SignatureHeader)) {
			http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
			t.Errorf("SMS gateway: bad signature")
			return
		}
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil || m["to"] == "" || m["body"] == "" || m["out_id"] == "" {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			t.Errorf("SMS gateway: bad body %s", body)
			return
		}
		g.mu.Lock()
		onSend := g.onSend
		g.mu.Unlock()
		if onSend != nil {
			onSend(m["to"])
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.failNext[m["to"]] > 0 {
			g.failNext[m["to"]]--
			http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		g.received = append(g.received, m)
		fmt.Fprintf(w, `{"id":"gw-%d"}`, len(g.received))
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *smsGateway) messages() []map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]map[string]string(nil), g.received...)
}

type e2e struct {
	t      *testing.T
	config string
	base   string // http://addr
	smtp   *smtptest.Server
	sms    *smsGateway
	repo   e2eStore
	clock  *fakeClock // the daemon's clock; one-shot commands take --at
}

// e2eStore is the daemon's store as the test reads it back.
type e2eStore interface {
	store
	DB() *sqlx.DB
	ListAttempts(ctx context.Context, notificationID int64) ([]repo.Attempt, error)
}

// forEachStore runs test against a daemon on each store: PostgreSQL and
// the embedded SQLite file.
func forEachStore(t *testing.T, test func(t *testing.T, store string)) {
	for _, s := range []string{"postgres", "sqlite"} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			test(t, s)
		})
	}
}

// newE2EStore makes an empty, migrated store of kind store ("postgres" or
// "sqlite") and returns it with the [database] table that names it.
func newE2EStore(t *testing.T, store string) (e2eStore, string) {
	t.Helper()
	if store == "sqlite" {
		u := "sqlite:" + filepath.Join(t.TempDir(), "duebell.db")
		s, err := sqlite.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s, fmt.Sprintf("[database]\nurl = %q\n", u)
	}
	r, schema := repotest.NewWithURL(t)
	return r, fmt.Sprintf("[database]\nurl = %q\nschema = %q\n", repotest.URL(), schema)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(rfc3339 string) {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// startE2EOn starts the daemon in-process against a fresh store ("postgres"
// or "sqlite"), a real SMTP server and the signature-checking webhook SMS
// gateway.
func startE2EOn(t *testing.T, store string) *e2e {
	t.Helper()
	return startE2E(t, store, "", true)
}

// startE2E is startE2EOn with extra config after the [sms] tables, and
// requests that queue notices waking the daemon's dispatcher unless quiet
// (see startDaemonWith).
func startE2E(t *testing.T, store, extra string, quiet bool) *e2e {
	t.Helper()
	gw := newSMSGateway(t)
	e := startDaemonWith(t, store, "", fmt.Sprintf(`
[sms]
provider = "webhook"
[sms.webhook]
url = %q
secret = %q`, gw.URL, e2eSMSSecret)+extra, quiet)
	e.sms = gw
	return e
}

// startDaemon serves duebell in-process with a config whose [links] table
// gets the links lines and which ends with extra (the [sms] tables, a
// policy). The daemon's cron and dispatch loop are set a day apart, and
// requests do not wake its dispatcher, so only the test's own `scan --at`
// and `dispatch --once --at` move notices.
func startDaemon(t *testing.T, links, extra string) *e2e {
	t.Helper()
	return startDaemonOn(t, "postgres", links, extra)
}

// startDaemonOn is startDaemon on store ("postgres" or "sqlite").
func startDaemonOn(t *testing.T, store, links, extra string) *e2e {
	t.Helper()
	return startDaemonWith(t, store, links, extra, true)
}

// startDaemonWith is startDaemonOn; quiet keeps requests that queue notices
// (a payment's confirmation, a resend) from waking the daemon's dispatcher,
// which then leaves every notice to the test's dispatch --once.
func startDaemonWith(t *testing.T, store, links, extra string, quiet bool) *e2e {
	t.Helper()
	r, database := newE2EStore(t, store)
	e := &e2e{t: t, smtp: smtptest.Start(t), repo: r, clock: &fakeClock{}}
	e.clock.Set("2026-12-01T12:00:00+08:00")
	e.config = filepath.Join(t.TempDir(), "duebell.toml")
	cfg := fmt.Sprintf(`
%s
[http]
listen = "127.0.0.1:0"
[[admin.tokens]]
name = "lender"
token = %q
role = "ingest"
[links]
base_url = "https://pay.example.com/repay"
allowed_domains = ["example.com"]
signing_key = "e2e-signing-key-0123456789abcdefghij"
%s
[scan]
schedule = "@every 24h"
channel_events_schedule = "@every 24h"
[dispatch]
interval = "24h"
max_attempts = 3
[email]
host = %q
port = %d
tls = "none"
from = "billing@shop.example.com"
from_name = "Example Shop"
[log]
level = "error"
%s`, database, e2eIngestToken, links, e.smtp.Host(), e.smtp.Port(), extra)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), e.config, true)
	if err != nil {
		t.Fatal(err)
	}
	a.now, a.quietRequests = e.clock.Now, quiet
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := make(chan string, 1), make(chan error, 1)
	ln, err := a.listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- a.serve(ctx, ln, func(s string) { addr <- s }) }()
	select {
	case s := <-addr:
		e.base = "http://" + s
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v on shutdown", err)
		}
		a.close()
		// Every app that sent email (serve, dispatch --once) has QUIT its
		// pooled SMTP sessions; the relay closes its side just after.
		for deadline := time.Now().Add(5 * time.Second); e.smtp.OpenConnections() > 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%d SMTP connections still open after shutdown", e.smtp.OpenConnections())
				break
			}
		}
	})
	return e
}

func (e *e2e) call(method, path, body string, want int) map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e2eIngestToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, raw, want)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// run runs a duebell command as an operator would and returns its output.
func (e *e2e) run(args ...string) string {
	e.t.Helper()
	if len(args) > 0 && (args[0] == "scan" || args[0] == "dispatch") {
		args = append(args, "--future") // the scenarios' days are fixed; some are still to come
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), append(args, "--config", e.config), &out, &errOut); code != 0 {
		e.t.Fatalf("duebell %v: exit %d: %s%s", args, code, out.String(), errOut.String())
	}
	return out.String()
}

type e2eNotice struct {
	ID            int64  `db:"id"`
	Kind          string `db:"kind"`
	Channel       string `db:"channel"`
	Status        string `db:"status"`
	Recipient     string `db:"recipient"`
	Body          string `db:"body"`
	Link          string `db:"link"`
	Provider      string `db:"provider"`
	ProviderMsgID string `db:"provider_msg_id"`
	Attempts      int    `db:"attempts"`
	Customer      string `db:"customer"`
	Plan          string `db:"plan"` // "" for a notice of no plan
}

func (e *e2e) notices() []e2eNotice {
	e.t.Helper()
	var out []e2eNotice
	if err := e.repo.DB().Select(&out, `SELECT n.id, n.kind, n.channel, n.status, n.recipient, n.body, n.link, n.provider,
		n.provider_msg_id, n.attempts, c.ref AS customer, coalesce(p.ref, '') AS plan
		FROM notifications n JOIN customers c ON c.id = n.customer_id LEFT JOIN plans p ON p.id = n.plan_id
		ORDER BY n.id`); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestEndToEndDueDateReminders(t *testing.T) {
	forEachStore(t, testEndToEndDueDateReminders)
}

func testEndToEndDueDateReminders(t *testing.T, store string) {
	e := startE2EOn(t, store)

	// The lender's backend pushes two borrowers and their plans.
	e.call("PUT", "/api/v1/customers/li", `{"name":"李雷","phone":"13812345678","email":"li@example.net","locale":"zh-CN"}`, http.StatusCreated)
	e.call("PUT", "/api/v1/customers/alice", `{"name":"Alice","phone":"+8613900000002","email":"alice@example.net","locale":"en","sms_opt_out":false}`, http.StatusCreated)
	plan := func(customer, method, card string) string {
		return fmt.Sprintf(`{"customer_ref":%q,"merchant":"优品手机","title":"Phone X","total":300000,"periods":3,
			"repay_method":%q,"card_last4":%q,"installments":[
			{"seq":1,"due_date":"2026-12-10","amount":100000},
			{"seq":2,"due_date":"2027-01-10","amount":100000},
			{"seq":3,"due_date":"2027-02-10","amount":100000}]}`, customer, method, card)
	}
	e.call("PUT", "/api/v1/plans/li-1", plan("li", "auto_debit", "6789"), http.StatusCreated)
	e.call("PUT", "/api/v1/plans/alice-1", plan("alice", "manual", ""), http.StatusCreated)
	e.sms.failNext["+8613900000002"] = 1 // Alice's first SMS hits a gateway hiccup.

	// Three days before the due date, 10:00 in Shanghai.
	out := e.run("scan", "--at", "2026-12-07T10:00:00+08:00")
	if !strings.Contains(out, "queued 4") {
		t.Fatalf("scan output:\n%s", out)
	}
	out = e.run("dispatch", "--once", "--at", "2026-12-07T10:00:00+08:00")
	if !strings.Contains(out, "sent       3") || !strings.Contains(out, "pending    1") {
		t.Fatalf("dispatch output:\n%s", out)
	}

	ns := e.notices()
	byKey := map[string]e2eNotice{}
	for _, n := range ns {
		byKey[n.Customer+"/"+n.Channel] = n
	}
	li := byKey["li/sms"]
	wantLi := "【优品手机】“Phone X”第1/3期¥1,000.00还有3天（12月10日）到期，将自动扣尾号6789卡，请留足余额。还款：" + li.Link
	sms := e.sms.messages()
	if len(sms) != 1 || sms[0]["to"] != "+8613812345678" || sms[0]["body"] != wantLi || sms[0]["out_id"] != fmt.Sprint(li.ID) {
		t.Fatalf("SMS received:\n%+v\nwant to +8613812345678 body:\n%s", sms, wantLi)
	}
	if li.Status != "sent" || li.Provider != "webhook" || li.ProviderMsgID != "gw-1" || li.Body != wantLi {
		t.Errorf("li sms row %+v", li)
	}

	mails := e.smtp.Messages()
	if len(mails) != 2 {
		t.Fatalf("SMTP received %d messages, want 2", len(mails))
	}
	for _, m := range mails {
		n := byKey[map[string]string{"li@example.net": "li", "alice@example.net": "alice"}[m.To[0]]+"/email"]
		text, _ := m.Text()
		html, _ := m.HTML()
		subject, _ := m.Subject()
		// The Message-ID names the notice by its id and when it was queued
		// (unique across databases), and is what the log stores.
		if id := m.Header.Get("Message-Id"); n.Status != "sent" || id != n.ProviderMsgID ||
			!strings.HasPrefix(id, fmt.Sprintf("<duebell.%d.", n.ID)) || !strings.HasSuffix(id, "@shop.example.com>") ||
			!strings.Contains(text, n.Link) || !strings.Contains(html, "Phone X") || subject == "" {
			t.Errorf("email to %v: row %+v, Message-ID %q, subject %q", m.To, n, m.Header.Get("Message-Id"), subject)
		}
	}
	if !strings.Contains(mustText(t, mails, "alice@example.net"), "due in 3 days") {
		t.Errorf("English email does not say 'due in 3 days'")
	}

	// Every link verifies with the API and names its notice.
	e.clock.Set("2026-12-08T09:00:00+08:00")
	for _, n := range []e2eNotice{byKey["li/sms"], byKey["li/email"], byKey["alice/email"]} {
		u, err := url.Parse(n.Link)
		if err != nil || u.Host != "pay.example.com" {
			t.Fatalf("link %q", n.Link)
		}
		got := e.call("GET", "/api/v1/links/verify?t="+url.QueryEscape(u.Query().Get("t")), "", http.StatusOK)
		if got["notification_id"] != float64(n.ID) || got["plan_ref"] != n.Customer+"-1" {
			t.Errorf("verify %s = %v", n.Link, got)
		}
	}

	// Alice's SMS failed transiently: one attempt logged, retried a minute or two later.
	alice := byKey["alice/sms"]
	if alice.Status != "pending" || alice.Attempts != 1 {
		t.Fatalf("alice sms after a 503: %+v", alice)
	}
	e.run("dispatch", "--once", "--at", "2026-12-07T10:05:00+08:00")
	var attempts []repo.Attempt
	if err := e.repo.DB().Select(&attempts, `SELECT * FROM delivery_attempts WHERE notification_id = $1 ORDER BY n`, alice.ID); err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 2 || attempts[0].Outcome != "transient" || attempts[0].Code != "503" || attempts[1].Outcome != "sent" {
		t.Fatalf("alice attempts %+v", attempts)
	}
	if got := e.sms.messages(); len(got) != 2 || !strings.HasPrefix(got[1]["body"], `优品手机: Your installment 1/3 of "Phone X", ¥1,000.00, is due in 3 days (Dec 10, 2026). It will NOT be debited automatically; please pay here: https://pay.example.com/repay?t=`) {
		t.Fatalf("alice's SMS: %+v", got)
	}

	// Li pays on the 9th: the installment settles, a confirmation SMS is queued
	// and the due-today reminder is never created.
	e.clock.Set("2026-12-09T15:00:05+08:00")
	e.call("POST", "/api/v1/plans/li-1/installments/1/payments", `{"amount":100000,"paid_at":"2026-12-09T15:00:00+08:00","ref":"pay-1"}`, http.StatusCreated)
	e.run("scan", "--at", "2026-12-10T10:00:00+08:00")
	e.run("dispatch", "--once", "--at", "2026-12-10T10:00:00+08:00")
	var kinds []string
	for _, n := range e.notices() {
		if n.Customer == "li" {
			kinds = append(kinds, n.Kind+"/"+n.Channel+"/"+n.Status)
		}
	}
	want := []string{"due_soon/sms/sent", "due_soon/email/sent", "payment_received/sms/sent"}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("li's notices %v, want %v", kinds, want)
	}
	var toLi []string
	for _, m := range e.sms.messages() {
		if m["to"] == "+8613812345678" {
			toLi = append(toLi, m["body"])
		}
	}
	if len(toLi) != 2 || !strings.Contains(toLi[1], "¥1,000.00") || strings.Contains(toLi[1], "http") {
		t.Errorf("SMS to Li after paying: %q, want the due_soon reminder and a link-free confirmation", toLi)
	}

	// Operators can see it: readiness and metrics.
	e.call("GET", "/readyz", "", http.StatusOK)
	res, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// Every series an alert reads exists from start-up, at zero.
	for _, want := range []string{`duebell_queue_depth{channel="sms",status="pending"} 0`, `go_goroutines`,
		`duebell_sends_total{channel="sms",class="account",outcome="transient",provider="webhook"} 0`,
		`duebell_sends_total{channel="email",class="none",outcome="sent",provider="smtp"} 0`,
		`duebell_provider_circuit_open{provider="webhook"} 0`,
		`duebell_oldest_pending_seconds{channel="sms"} 0`,
		`duebell_oldest_pending_seconds{channel="email"} 0`,
		`duebell_scan_duration_seconds_count{scan="due_scan"}`,
		`duebell_scan_last_success_timestamp_seconds{scan="channel_event_scan"}`,
		`duebell_receipts_total{outcome="undelivered",provider="webhook"} 0`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func mustText(t *testing.T, mails []smtptest.Message, to string) string {
	t.Helper()
	for _, m := range mails {
		if m.To[0] == to {
			text, err := m.Text()
			if err != nil {
				t.Fatal(err)
			}
			return text
		}
	}
	t.Fatalf("no mail to %s", to)
	return ""
}
