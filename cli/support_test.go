package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"duebell/cli"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
)

var cliT0 = time.Date(2026, 11, 10, 2, 0, 0, 0, time.UTC)

type cliBundle struct {
	r      *repo.Repo
	config string
	failed int64 // c1's SMS that failed at cliT0+10m
	paid   int64 // c2's SMS that went out; c2 has paid since
}

// cliSetup writes a config (outbox providers) pointing at a fresh schema
// holding c1's failed reminder and c2's sent one, paid since.
func cliSetup(t *testing.T) cliBundle {
	t.Helper()
	r, schema := repotest.NewWithURL(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "duebell.toml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`
[database]
url = %q
schema = %q
[links]
base_url = "https://pay.example.com/repay"
allowed_domains = ["example.com"]
signing_key = "test-signing-key-0123456789abcdef0123"
[email]
provider = "outbox"
[sms]
provider = "outbox"
[outbox]
dir = %q
[log]
level = "error"
`, repotest.URL(), schema, filepath.Join(dir, "outbox"))), 0o600); err != nil {
		t.Fatal(err)
	}
	b := cliBundle{r: r, config: config}
	dues := []repo.Date{repo.NewDate(2026, 11, 12)}
	storetest.Customer(t, r, "c1")
	p1 := storetest.Plan(t, r, "p1", "c1", dues)
	storetest.Customer(t, r, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	p2 := storetest.Plan(t, r, "p2", "c2", dues)
	b.failed = b.notice(t, p1)
	b.finish(t, cliT0.Add(10*time.Minute), repo.StatusFailed)
	b.paid = b.notice(t, p2)
	b.finish(t, cliT0.Add(20*time.Minute), repo.StatusSent)
	if _, err := r.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: "p2", Seq: 1, Amount: 50000, Now: cliT0}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b cliBundle) notice(t *testing.T, p repo.Plan) int64 {
	t.Helper()
	var id int64
	if err := b.r.DB().GetContext(context.Background(), &id, `
		INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
			channel, locale, status, not_before, next_attempt_at, created_at, updated_at)
		VALUES ($1::bigint || ':due_soon:sms', $2, $3, $1::bigint, 'due_soon', 'due_soon', -3, 'sms', 'zh-CN', 'pending', $4, $4, $4, $4)
		RETURNING id`, p.Installments[0].ID, p.CustomerID, p.ID, cliT0); err != nil {
		t.Fatal(err)
	}
	return id
}

func (b cliBundle) finish(t *testing.T, at time.Time, status string) {
	t.Helper()
	ctx := context.Background()
	claims, err := b.r.ClaimNotifications(ctx, "test", at, at, time.Minute, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var outs []repo.Outcome
	for _, c := range claims {
		o := repo.Outcome{ID: c.ID, Status: status, Provider: "aliyun", Recipient: c.Customer.Phone, Body: "您的账单即将到期",
			Attempt: &repo.Attempt{N: 1, Channel: "sms", Provider: "aliyun", StartedAt: at, FinishedAt: at, Outcome: repo.OutcomeSent}}
		if status == repo.StatusFailed {
			o.LastError, o.Attempt.Outcome, o.Attempt.Code, o.Attempt.Error = "quota exceeded", repo.OutcomePermanent, "isv.DAY_LIMIT", "quota exceeded"
		}
		outs = append(outs, o)
	}
	if err := b.r.FinishNotifications(ctx, "test", at, outs); err != nil {
		t.Fatal(err)
	}
}

// run runs duebell with args and the test config; it returns the exit
// status, stdout and stderr.
func (b cliBundle) run(args ...string) (int, string, string) {
	var out, errw bytes.Buffer
	args = append(slices.Clone(args), "--config", b.config)
	code := cli.Main(context.Background(), args, &out, &errw)
	return code, out.String(), errw.String()
}

func TestCLINotifications(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	code, out, errw := b.run("notifications", "list", "--phone", "138 1234 5678")
	if code != 0 || !strings.Contains(out, fmt.Sprint(b.failed)) || !strings.Contains(out, "failed") ||
		strings.Contains(out, "c2") || !strings.Contains(out, "+8613812345678") {
		t.Errorf("list --phone = %d\n%s%s", code, out, errw)
	}
	code, out, _ = b.run("notifications", "list", "--status", "sent", "--json")
	var page repo.NoticePage
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Notices) != 1 || page.Notices[0].ID != b.paid {
		t.Errorf("list --json = %d %s (%v)", code, out, err)
	}
	code, out, _ = b.run("notifications", "list", "--limit", "1")
	if code != 0 || !strings.Contains(out, "--cursor "+fmt.Sprint(b.paid)) {
		t.Errorf("list --limit 1 = %d\n%s", code, out)
	}
	code, out, _ = b.run("notifications", "show", fmt.Sprint(b.failed))
	for _, want := range []string{"failed", "quota exceeded", "isv.DAY_LIMIT", "p1", "您的账单即将到期", "attempts: 1"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	for _, args := range [][]string{
		{"notifications"}, {"notifications", "drop"}, {"notifications", "show"}, {"notifications", "show", "x"},
		{"notifications", "list", "--phone", "123"}, {"notifications", "list", "--since", "yesterday"},
		{"notifications", "list", "--cursor", "zz"},
	} {
		if code, _, errw := b.run(args...); code != 2 || errw == "" {
			t.Errorf("%v = %d %q, want usage error 2", args, code, errw)
		}
	}
	if code, _, errw := b.run("notifications", "show", "987654"); code != 1 || !strings.Contains(errw, "not found") {
		t.Errorf("show unknown = %d %q", code, errw)
	}
}

func TestCLIResendOne(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	if code, _, errw := b.run("resend", fmt.Sprint(b.failed)); code != 2 || !strings.Contains(errw, "--reason") {
		t.Errorf("without --reason = %d %q", code, errw)
	}
	code, out, errw := b.run("resend", fmt.Sprint(b.failed), "--reason", "客户来电说没收到", "--actor", "alice")
	if code != 0 || !strings.Contains(out, "resend of "+fmt.Sprint(b.failed)) || !strings.Contains(out, "alice") {
		t.Fatalf("resend = %d %s %s", code, out, errw)
	}
	var row struct {
		By     string `db:"requested_by"`
		Reason string `db:"resend_reason"`
		Status string `db:"status"`
	}
	if err := b.r.DB().GetContext(context.Background(), &row, `SELECT requested_by, resend_reason, status FROM notifications
		WHERE resend_of = $1`, b.failed); err != nil || row.By != "alice" || row.Reason != "客户来电说没收到" || row.Status != "pending" {
		t.Errorf("resend row = %+v, %v", row, err)
	}
	entries, err := b.r.ListAudit(context.Background(), time.Time{}, "alice", 10)
	if err != nil || len(entries) != 1 || entries[0].Action != repo.ActionResend {
		t.Errorf("audit = %+v, %v", entries, err)
	}

	// Paid since: refused, even forced (it would ask for nothing owed).
	for _, force := range [][]string{nil, {"--force"}} {
		code, _, errw = b.run(append(append([]string{"resend"}, force...), fmt.Sprint(b.paid), "--reason", "客户要求")...)
		if code != 1 || !strings.Contains(errw, "installment paid; a reminder would ask for nothing owed") {
			t.Errorf("paid %v = %d %q", force, code, errw)
		}
	}
	var n int
	if err := b.r.DB().GetContext(context.Background(), &n, `SELECT count(*) FROM notifications WHERE resend_of = $1`, b.paid); err != nil || n != 0 {
		t.Errorf("%d resends of the paid reminder, %v; want none", n, err)
	}
	// Its plan cancelled since: refused, then forced; the actor defaults to the OS user.
	p1, err := b.r.GetPlan(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	p1.Status = repo.PlanCancelled
	if _, err := b.r.UpsertPlan(context.Background(), p1, cliT0); err != nil {
		t.Fatal(err)
	}
	code, _, errw = b.run("resend", fmt.Sprint(b.failed), "--reason", "客户要求")
	if code != 1 || !strings.Contains(errw, "plan cancelled") || !strings.Contains(errw, "force") {
		t.Errorf("cancelled = %d %q", code, errw)
	}
	if code, _, errw := b.run("resend", "--force", fmt.Sprint(b.failed), "--reason", "客户要求"); code != 0 {
		t.Errorf("forced = %d %q", code, errw)
	}
	me, _ := user.Current()
	if entries, _ := b.r.ListAudit(context.Background(), time.Time{}, me.Username, 10); len(entries) != 1 {
		t.Errorf("audit rows as the OS user %q = %+v", me.Username, entries)
	}
	for _, args := range [][]string{
		{"resend", fmt.Sprint(b.failed), "--reason", "x", "--dry-run"},
		{"resend", "--reason", "x"},
		{"resend", "--failed", "--force", "--reason", "x", "--since", "2026-11-10T00:00:00Z", "--until", "2026-11-11T00:00:00Z"},
		{"resend", fmt.Sprint(b.failed), "--reason", "x", "--channel", "fax"},
		{"resend", fmt.Sprint(b.failed), "--reason", "bad\xff"},
		{"resend", "--failed", "--reason", "x", "--since", "0000-01-01T00:00:00Z", "--until", "9999-12-31T00:00:00Z", "--dry-run"},
		{"resend", "--failed", "--reason", "x", "--kind", "overdue_1", "--since", "2026-11-10T00:00:00Z",
			"--until", "2026-11-11T00:00:00Z", "--dry-run"},
	} {
		if code, _, errw := b.run(args...); code != 2 {
			t.Errorf("%v = %d %q, want 2", args, code, errw)
		}
	}
}

func TestCLIResendBulk(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	window := []string{"--since", cliT0.Format(time.RFC3339), "--until", cliT0.Add(time.Hour).Format(time.RFC3339)}
	args := append([]string{"resend", "--failed", "--channel", "sms", "--reason", "短信通道故障", "--actor", "ops"}, window...)

	code, out, errw := b.run(append(args, "--dry-run")...)
	if code != 0 || !strings.Contains(out, "would queue 1 resends of 1 matching") || !strings.Contains(out, fmt.Sprint(b.failed)) {
		t.Fatalf("dry run = %d\n%s%s", code, out, errw)
	}
	if entries, _ := b.r.ListAudit(context.Background(), time.Time{}, "", 10); len(entries) != 0 {
		t.Errorf("dry run audited: %+v", entries)
	}
	code, out, errw = b.run(args...)
	if code != 0 || !strings.Contains(out, "queued 1 resends of 1 matching") || !strings.Contains(out, "audited as ops") {
		t.Fatalf("bulk = %d\n%s%s", code, out, errw)
	}
	entries, err := b.r.ListAudit(context.Background(), time.Time{}, "ops", 10)
	if err != nil || len(entries) != 1 || entries[0].Action != repo.ActionBulkResend {
		t.Errorf("audit = %+v, %v", entries, err)
	}
	code, out, _ = b.run(args...)
	if code != 0 || !strings.Contains(out, "queued 0 resends") || !strings.Contains(out, "1 already resent") {
		t.Errorf("second run = %d\n%s", code, out)
	}
	if code, _, errw := b.run("resend", "--failed", "--reason", "x"); code != 2 || !strings.Contains(errw, "since") {
		t.Errorf("without a window = %d %q", code, errw)
	}
}

// A pending notice's page says when it is next tried: "not before" is only
// the earliest it could go, and a notice waiting for its window, a quiet
// day or a limit goes at its next try.
func TestCLIShowSaysWhenAPendingNoticeIsNextTried(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	id := b.notice(t, storetest.Plan(t, b.r, "p3", "c1", []repo.Date{repo.NewDate(2026, 11, 24)}))
	next := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	if _, err := b.r.DB().Exec(`UPDATE notifications SET next_attempt_at = $1, status_reason = 'waiting for send window'
		WHERE id = $2`, next, id); err != nil {
		t.Fatal(err)
	}
	code, out, errw := b.run("notifications", "show", fmt.Sprint(id), "--tz", "UTC")
	if code != 0 || !strings.Contains(out, "next try    2026-11-22T01:00:00Z") {
		t.Errorf("show = %d, want the next try 2026-11-22T01:00:00Z:\n%s%s", code, out, errw)
	}
	if _, out, _ = b.run("notifications", "show", fmt.Sprint(b.failed), "--tz", "UTC"); strings.Contains(out, "next try") {
		t.Errorf("a failed notice shows a next try:\n%s", out)
	}
}

// A notice being sent says by whom and when another worker takes it over:
// its try is not logged yet, and after a crash support read "tries 1,
// attempts: 0" as "not sent yet" while the gateway had it.
func TestCLIShowSaysWhoIsSendingANotice(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	id := b.notice(t, storetest.Plan(t, b.r, "p3", "c1", []repo.Date{repo.NewDate(2026, 11, 24)}))
	expires := time.Date(2026, 11, 22, 1, 0, 30, 0, time.UTC)
	if _, err := b.r.DB().Exec(`UPDATE notifications SET status = 'sending', attempts = 1, lease_owner = 'host-a:4711',
		lease_expires_at = $1 WHERE id = $2`, expires, id); err != nil {
		t.Fatal(err)
	}
	code, out, errw := b.run("notifications", "show", fmt.Sprint(id), "--tz", "UTC")
	if code != 0 || !strings.Contains(out, "being sent  by host-a:4711; the try in progress is logged when it ends") ||
		!strings.Contains(out, "as unknown when another takes it over at 2026-11-22T01:00:30Z") {
		t.Errorf("show = %d, want who sends it and when it is taken over:\n%s%s", code, out, errw)
	}
}
