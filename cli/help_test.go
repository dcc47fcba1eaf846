package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duebell/config"
	"duebell/internal/syncbuf"
	"duebell/repo"
	"duebell/repo/sqlite"
)

// TestEveryCommandAnswersHelp: each command and subcommand prints its
// description and flags on stdout for --help and -h, and exits 0.
func TestEveryCommandAnswersHelp(t *testing.T) {
	for _, cmd := range [][]string{
		{"serve"}, {"migrate"}, {"scan"}, {"dispatch"}, {"demo"}, {"resend"}, {"import"}, {"version"},
		{"templates"}, {"templates", "check"}, {"templates", "preview"},
		{"notifications"}, {"notifications", "list"}, {"notifications", "show"},
		{"report"}, {"report", "effect"},
	} {
		for _, h := range []string{"--help", "-h"} {
			code, out, stderr := runMain(append(cmd, h)...)
			name := strings.Join(cmd, " ")
			if code != 0 || stderr != "" {
				t.Errorf("%s %s: exit %d, stderr %q", name, h, code, stderr)
			}
			if !strings.Contains(out, "Usage: duebell "+name) {
				t.Errorf("%s %s: no usage line:\n%s", name, h, out)
			}
			about := docs[name].about
			if about == "" || !strings.Contains(out, about) {
				t.Errorf("%s %s: no description:\n%s", name, h, out)
			}
			if len(cmd) == 2 || (name != "templates" && name != "notifications" && name != "report") {
				if !strings.Contains(out, "Flags:") || (name != "version" && !strings.Contains(out, "-config")) {
					t.Errorf("%s %s: no flags:\n%s", name, h, out)
				}
			}
		}
	}
	if code, out, _ := runMain("notifications", "list", "--help"); code != 0 || !strings.Contains(out, "-tz") {
		t.Errorf("notifications list --help lacks --tz: %d %s", code, out)
	}
}

// TestUsageMistakesExitTwo: a wrong flag or a missing config is the
// operator's mistake, said plainly, exit 2.
func TestUsageMistakesExitTwo(t *testing.T) {
	t.Setenv("DUEBELL_CONFIG", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--bogus"}, "see duebell scan --help"},
		{[]string{"notifications", "show", "--bogus"}, "see duebell notifications show --help"},
		{[]string{"version", "extra"}, "unexpected argument"},
		{[]string{"migrate"}, "no config file given (use --config or DUEBELL_CONFIG)"},
		{[]string{"serve"}, "no config file given (use --config or DUEBELL_CONFIG)"},
		{[]string{"templates", "check"}, "no config file given (use --config or DUEBELL_CONFIG)"},
	} {
		code, out, stderr := runMain(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", tc.args, code, out, stderr, tc.want)
		}
		if strings.Contains(stderr, "links.signing_key") {
			t.Errorf("%v: a missing config lists missing keys: %q", tc.args, stderr)
		}
	}
}

// TestVersionPrintsStamps: the stamps `make build` sets are printed.
func TestVersionPrintsStamps(t *testing.T) {
	defer func(v, c, d string) { Version, Commit, Date = v, c, d }(Version, Commit, Date)
	Version, Commit, Date = "v1.2.3", "abc1234", "2026-11-29T12:00:00Z"
	code, out, _ := runMain("version")
	if code != 0 || !strings.Contains(out, "duebell v1.2.3") || !strings.Contains(out, "commit  abc1234") ||
		!strings.Contains(out, "built   2026-11-29T12:00:00Z") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
	// Every command takes --config, which version does not need.
	if code, out, stderr := runMain("version", "--config", "duebell.toml"); code != 0 || !strings.Contains(out, "duebell v1.2.3") {
		t.Errorf("version --config: exit %d %q %q", code, out, stderr)
	}
	Version, Commit, Date = "", "", ""
	if code, out, _ := runMain("version"); code != 0 || !strings.Contains(out, "duebell ") || !strings.Contains(out, "commit") {
		t.Errorf("unstamped version: exit %d\n%s", code, out)
	}
}

// runDemoUntilBanner runs `duebell demo` until it prints where to look,
// then stops it and returns what it printed.
func runDemoUntilBanner(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, append([]string{"demo"}, args...), &out, &errOut) }()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(out.String(), "start over:") {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("demo exited %d before its banner: %s %s", code, out.String(), errOut.String())
		case <-deadline:
			cancel()
			t.Fatalf("no demo banner after 60s: %s %s", out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exit %d: %s", code, errOut.String())
	}
	return out.String()
}

// TestDemoSaysWhereToLookAndStartsOver: the demo, on the embedded store as
// duebell.demo.toml runs it, prints the console URL with the operator token
// and the outbox; a re-run that sends nothing says how to start over;
// --reset removes the demo data so it is queued again, with Chinese plan
// titles for the Chinese borrowers.
func TestDemoSaysWhereToLookAndStartsOver(t *testing.T) {
	dir := t.TempDir()
	config := writeDemoConfig(t, dir)

	first := runDemoUntilBanner(t, "--config", config)
	for _, want := range []string{"/console/", "demo-support-token-change-me", filepath.Join(dir, "outbox"),
		"duebell demo --reset --config " + config} {
		if !strings.Contains(first, want) {
			t.Errorf("first run lacks %q:\n%s", want, first)
		}
	}
	if !strings.Contains(first, "seeded 4 demo borrowers") || strings.Contains(first, "queued 0 notices") || strings.Contains(first, "already there") {
		t.Errorf("first run queued nothing:\n%s", first)
	}
	again := runDemoUntilBanner(t, "--config", config)
	if !strings.Contains(again, "found 4 demo borrowers") || !strings.Contains(again, "queued 0 notices") || !strings.Contains(again, "already there") {
		t.Errorf("re-run does not explain why nothing is queued:\n%s", again)
	}
	// The first run's overdue borrowers get one reminder a day (the
	// contact limits): the other waits, and goes from this run.
	if !strings.Contains(again, "still to go") {
		t.Errorf("re-run does not say what is still to go from the first:\n%s", again)
	}
	reset := runDemoUntilBanner(t, "--reset", "--config", config)
	if !strings.Contains(reset, "removed 4 demo borrowers") || strings.Contains(reset, "queued 0 notices") {
		t.Errorf("--reset did not start over:\n%s", reset)
	}

	r, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(dir, "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := r.GetPlan(context.Background(), "demo-plan-han")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Title, "分期") || p.Merchant == "Demo Phone Shop" {
		t.Errorf("zh-CN borrower's plan = %q from %q, want a Chinese title and merchant", p.Title, p.Merchant)
	}
}

// TestDemoRefusesProvidersAndABusyPort: the demo's borrowers are made up
// (their phone numbers look real), so a config that sends through a real
// provider is refused before anything is written; so is a port in use,
// which used to stop the demo only after it had seeded and queued, and the
// next run then said nothing new was sent while it sent those notices.
func TestDemoRefusesProvidersAndABusyPort(t *testing.T) {
	dir := t.TempDir()
	demo := writeDemoConfig(t, dir)
	text, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"migrate", "--config", demo}, &out, &errOut); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errOut.String())
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct{ name, from, to, want string }{
		{"sms-webhook", "[sms]\nprovider = \"outbox\"",
			"[sms]\nprovider = \"webhook\"\n[sms.webhook]\nurl = \"https://sms.example.com/send\"\nsecret = \"0123456789abcdef0123456789abcdef\"",
			`sms.provider is "webhook": the demo sends only to the outbox`},
		{"email-smtp", "[email]\nprovider = \"outbox\"",
			"[email]\nprovider = \"smtp\"\nhost = \"127.0.0.1\"\nport = 2525\nfrom = \"Shop <billing@example.com>\"",
			`email.provider is "smtp": the demo sends only to the outbox`},
		{"busy-port", `listen = "127.0.0.1:0"`, fmt.Sprintf("listen = %q", busy.Addr().String()), "http.listen"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(text), c.from) {
				t.Fatalf("demo config lacks %q", c.from)
			}
			config := filepath.Join(dir, c.name+".toml")
			if err := os.WriteFile(config, []byte(strings.Replace(string(text), c.from, c.to, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := Main(context.Background(), []string{"demo", "--config", config}, &out, &errOut); code != 1 ||
				!strings.Contains(errOut.String(), c.want) {
				t.Fatalf("demo: exit %d, stderr %q; want 1 and %q", code, errOut.String(), c.want)
			}
			if strings.Contains(out.String(), "seeded") {
				t.Errorf("the refused demo seeded its borrowers: %s", out.String())
			}
			if c.name == "busy-port" { // on a new file: it is not created
				fresh := strings.Replace(string(text), c.from, c.to, 1)
				fresh = strings.Replace(fresh, "demo.db", "fresh.db", 1)
				if !strings.Contains(fresh, "fresh.db") {
					t.Fatal("demo config names no demo.db")
				}
				if err := os.WriteFile(config, []byte(fresh), 0o600); err != nil {
					t.Fatal(err)
				}
				if code := Main(context.Background(), []string{"demo", "--config", config}, &out, &errOut); code != 1 {
					t.Fatalf("demo on a new file and a busy port: exit %d", code)
				}
				if _, err := os.Stat(filepath.Join(dir, "fresh.db")); !os.IsNotExist(err) {
					t.Errorf("the refused demo created its store file (%v)", err)
				}
			}
			r, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(dir, "demo.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := r.GetCustomer(context.Background(), "demo-li"); !errors.Is(err, repo.ErrNotFound) {
				t.Errorf("demo borrower in the store after a refused demo (%v)", err)
			}
		})
	}
}

// writeDemoConfig writes a demo config like duebell.demo.toml into dir: the
// embedded store in dir/demo.db, outbox providers writing to dir/outbox.
func writeDemoConfig(t *testing.T, dir string) string {
	t.Helper()
	config := filepath.Join(dir, "demo.toml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `
[database]
url = %q
[http]
listen = "127.0.0.1:0"
[[admin.tokens]]
name = "demo-support"
token = "demo-support-token-change-me"
role = "operator"
[defaults]
send_window = "00:00-24:00"
[links]
base_url = "https://pay.example.com/repay"
allowed_domains = ["example.com"]
signing_key = "demo-signing-key-not-secret-0123456789"
[email]
provider = "outbox"
[sms]
provider = "outbox"
[outbox]
dir = %q
`, "sqlite:"+filepath.Join(dir, "demo.db"), filepath.Join(dir, "outbox")), 0o600); err != nil {
		t.Fatal(err)
	}
	return config
}

// TestSecondDaemonOnAnSQLiteFileRefusesToStart: SQLite is single-node, so a
// serve on a file another daemon holds exits 1 saying so, and sends nothing.
func TestSecondDaemonOnAnSQLiteFileRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	config := writeDemoConfig(t, dir)
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"migrate", "--config", config}, &out, &errOut); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errOut.String())
	}
	first, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(dir, "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.LockServe(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	code := Main(context.Background(), []string{"serve", "--config", config}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "in use by another duebell process") ||
		!strings.Contains(errOut.String(), "single-node") {
		t.Fatalf("second serve: exit %d, stderr %q; want 1 and a message that the file is in use", code, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "outbox")); !os.IsNotExist(err) {
		t.Errorf("the refused daemon created its outbox (%v)", err)
	}
}

// The demo shows every borrower's first reminder whatever the hour it is
// run: duebell.demo.toml opens the send window and the overdue
// (collection) window all day. (The default collection window, 08:00-21:00,
// held the two overdue borrowers' reminders back at night.)
func TestDemoConfigSendsAtAnyHour(t *testing.T) {
	cfg, err := config.Load("../duebell.demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Defaults.SendWindow != "00:00-24:00" || cfg.Policy.Collection.Window != "00:00-24:00" {
		t.Errorf("send window %q, collection window %q; want both 00:00-24:00",
			cfg.Defaults.SendWindow, cfg.Policy.Collection.Window)
	}
}
