package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// outboxConfig writes a config for schema with the outbox providers.
func outboxConfig(t *testing.T, schema string) string {
	return testConfig(t, schema, "[sms]\nprovider = \"outbox\"\n")
}

// testConfig writes a config for schema: outbox email, the outbox
// directory in a temporary one, and extra, which holds the [sms] table and
// any other.
func testConfig(t *testing.T, schema, extra string) string {
	t.Helper()
	return storeConfig(t, fmt.Sprintf("[database]\nurl = %q\nschema = %q\n", repotest.URL(), schema), extra)
}

// storeConfig is testConfig for the store the [database] table names.
func storeConfig(t *testing.T, database, extra string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "duebell.toml")
	cfg := fmt.Sprintf(`
%s
[links]
base_url = "https://pay.example.com/repay"
allowed_domains = ["example.com"]
signing_key = "cli-test-signing-key-0123456789abcdef"
[email]
provider = "outbox"
[outbox]
dir = %q
%s`, database, filepath.Join(dir, "outbox"), extra)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandsRefusePendingMigrations(t *testing.T) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_cli_" + hex.EncodeToString(b)
	config := outboxConfig(t, schema)
	t.Cleanup(func() {
		r, err := repo.Open(context.Background(), repotest.URL(), schema)
		if err == nil {
			_, _ = r.DB().Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`)
			r.Close()
		}
	})

	for _, cmd := range [][]string{{"serve"}, {"scan"}, {"dispatch", "--once"}} {
		code, _, stderr := runMain(append(cmd, "--config", config)...)
		if code != 1 || !strings.Contains(stderr, "pending") || !strings.Contains(stderr, "duebell migrate") {
			t.Errorf("%v on an empty schema: exit %d, %q; want a refusal pointing at migrate", cmd, code, stderr)
		}
	}
	code, out, stderr := runMain("migrate", "--config", config)
	if code != 0 || !strings.Contains(out, "applied 001_init") {
		t.Fatalf("migrate: exit %d %q %q", code, out, stderr)
	}
	if code, out, _ = runMain("migrate", "--config", config); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: exit %d %q", code, out)
	}
	code, out, stderr = runMain("scan", "--dry-run", "--at", "2026-12-07T10:00:00+08:00", "--config", config)
	if code != 0 || !strings.Contains(out, "would queue 0") {
		t.Fatalf("dry-run scan: exit %d %q %q", code, out, stderr)
	}
}

// A mistyped SQLite path: every command but migrate and serve --migrate
// refuses it without creating the file. They used to create an empty store
// there and advise migrating it, and a book pushed again into that new
// store would remind every stage the real file had sent.
func TestCommandsDoNotCreateAMissingSQLiteFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "typo.db")
	config := storeConfig(t, fmt.Sprintf("[database]\nurl = %q\n", "sqlite:"+file), "[sms]\nprovider = \"outbox\"\n")
	for _, cmd := range [][]string{{"serve"}, {"scan"}, {"dispatch", "--once"}, {"notifications", "list"},
		{"report", "effect", "--since", "2026-11-01"}} {
		code, _, stderr := runMain(append(cmd, "--config", config)...)
		if code != 1 || !strings.Contains(stderr, file+" does not exist") || !strings.Contains(stderr, "duebell migrate") {
			t.Errorf("%v on a missing file: exit %d, %q; want a refusal naming the file", cmd, code, stderr)
		}
		if _, err := os.Stat(file); err == nil {
			t.Fatalf("%v created %s", cmd, file)
		}
	}
	if code, out, stderr := runMain("migrate", "--config", config); code != 0 || !strings.Contains(out, "applied 001_init") {
		t.Fatalf("migrate: exit %d %q %q", code, out, stderr)
	}
	if code, out, stderr := runMain("scan", "--dry-run", "--config", config); code != 0 || !strings.Contains(out, "would queue 0") {
		t.Fatalf("dry-run scan on the migrated file: exit %d %q %q", code, out, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	tomorrow := time.Now().Add(24 * time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		args []string
		want string
	}{
		// A mistyped date would queue or send a day not yet come.
		{[]string{"scan", "--at", tomorrow}, "is in the future: pass --future"},
		{[]string{"dispatch", "--once", "--at", tomorrow}, "is in the future: pass --future"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{}, "no command given"}, // exited 0: a script with an empty command variable saw success
		{[]string{"scan", "--at", "tomorrow"}, "RFC 3339"},
		{[]string{"scan", "--at", "0000-01-01T00:00:00Z", "--dry-run"}, "must lie between 2000-01-01 and 2100-01-01"},
		{[]string{"dispatch", "--once", "--at", "2026-12-01T10:00:00+16:00"}, "UTC offset beyond ±14:00"},
		{[]string{"notifications", "list", "--since", "2026-12-01T10:00:00-20:00"}, "UTC offset beyond ±14:00"},
		{[]string{"dispatch"}, "--once"},
		{[]string{"templates", "lint"}, "unknown templates command"},
		{[]string{"templates", "preview", "--kind", "bogus"}, "--kind"},
		{[]string{"templates", "preview", "--locale", "fr"}, "--locale"},
		{[]string{"templates", "preview", "--channel", "fax"}, "--channel"},
		// As in the API's paths, an id is plain digits: 01 and +1 are not 1.
		{[]string{"notifications", "show", "01"}, "not a notification id"},
		{[]string{"notifications", "show", "+1"}, "not a notification id"},
		{[]string{"resend", "01", "--reason", "x"}, "not a notification id"},
		// --workers is how many chunks are applied at once: not below 1
		// (it used to fall back to the default silently), nor absurdly many.
		{[]string{"import", "book.ndjson", "--workers", "-1"}, "--workers -1: want 1 to 64"},
		{[]string{"import", "--workers", "0", "book.ndjson"}, "--workers 0: want 1 to 64"},
		{[]string{"import", "book.ndjson", "--workers", "65"}, "--workers 65: want 1 to 64"},
		{[]string{"import", "book.ndjson", "--chunk", "-5"}, "--chunk -5: want a positive number"},
		// A search for an address or a phone with a control character in
		// it is a mistake (or a paste of an escape sequence), not a search.
		{[]string{"notifications", "list", "--email", "a\x01b@example.com"}, "email: must not contain control characters"},
		{[]string{"notifications", "list", "--email", "a\x1b[2J@example.com"}, "email: must not contain control characters"},
		{[]string{"notifications", "list", "--email", "a\xffb@example.com"}, "email: is not valid UTF-8"},
		{[]string{"notifications", "list", "--phone", "\v13812345678"}, "phone: must not contain control characters"},
		{[]string{"notifications", "list", "--phone", "13812345678\u0085"}, "phone: must not contain control characters"},
		{[]string{"notifications", "list", "--phone", "138\xff12345678"}, "phone: is not valid UTF-8"},
	} {
		code, _, stderr := runMain(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
		if strings.ContainsAny(stderr, "\x01\x1b\v") {
			t.Errorf("%q: the message echoes a control character: %q", tc.args, stderr)
		}
	}
}

// A binary put back after an upgrade finds a schema a later release
// migrated: migrate applies nothing, says the schema is ahead (not "up to
// date") and exits 0, so a unit whose ExecStartPre migrates still starts.
func TestMigrateOnANewerSchemaSaysSo(t *testing.T) {
	r, schema := repotest.NewWithURL(t)
	if _, err := r.DB().Exec(`INSERT INTO schema_migrations (version, name) VALUES (999, '999_later'), (1000, '1000_later')`); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runMain("migrate", "--config", outboxConfig(t, schema))
	want := fmt.Sprintf("schema %q is ahead of this build: a later release applied migration(s) 999, 1000", schema)
	if code != 0 || !strings.Contains(out, want) || strings.Contains(out, "up to date") {
		t.Fatalf("migrate: exit %d, %q %q; want 0 and %q", code, out, stderr, want)
	}
}

// serve --migrate logs each migration it applies, so the log of a deploy
// shows when the schema changed.
func TestServeMigrateLogsWhatItApplied(t *testing.T) {
	a, err := openApp(context.Background(), writeDemoConfig(t, t.TempDir()), true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var logs bytes.Buffer
	a.log = slog.New(slog.NewTextHandler(&logs, nil))
	if err := a.migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `level=INFO msg="migration applied" migration=001_`) ||
		!strings.Contains(logs.String(), "migration=002_receipts_once") {
		t.Fatalf("serve --migrate logged:\n%s", logs.String())
	}
	logs.Reset()
	if err := a.migrate(context.Background()); err != nil || logs.Len() != 0 {
		t.Fatalf("a second migrate: %v, logged %q; want nothing", err, logs.String())
	}
}

// A migration job needs the database and nothing else: migrate takes a
// config with only [database], no provider secret and no link signing key
// (it refused one for each), while a command that sends still asks for them.
// A bad database.url or log level is still refused, naming the key.
func TestMigrateNeedsOnlyTheDatabase(t *testing.T) {
	_, schema := repotest.NewWithURL(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	config := write("migrate.toml", fmt.Sprintf("[database]\nurl = %q\nschema = %q\n", repotest.URL(), schema))
	if code, out, stderr := runMain("migrate", "--config", config); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate with only [database]: exit %d %q %q", code, out, stderr)
	}
	if code, _, stderr := runMain("scan", "--dry-run", "--config", config); code != 1 || !strings.Contains(stderr, "links.signing_key") {
		t.Errorf("scan with only [database]: exit %d %q; want the missing signing key named", code, stderr)
	}
	bad := write("bad.toml", fmt.Sprintf("[database]\nurl = %q\n[log]\nlevel = \"loud\"\n", repotest.URL()))
	if code, _, stderr := runMain("migrate", "--config", bad); code != 1 || !strings.Contains(stderr, "log.level") {
		t.Errorf("migrate with a bad log level: exit %d %q; want it named", code, stderr)
	}
}

// templates preview and check render with the configured support phone:
// they used a sample one, so a long or odd phone that broke every email
// or pushed security SMS past two segments passed the check.
func TestTemplatesRenderTheConfiguredSupportPhone(t *testing.T) {
	t.Parallel()
	config := storeConfig(t, "[database]\nurl = \"sqlite:"+filepath.Join(t.TempDir(), "x.db")+"\"\n",
		"[sms]\nprovider = \"outbox\"\n[support]\nphone = \"400-820-8820 转 5\"\n")
	code, out, errOut := runMain("templates", "preview", "--kind", "verification_changed", "--locale", "zh-CN",
		"--channel", "sms", "--config", config)
	if code != 0 || !strings.Contains(out, "400-820-8820 转 5") || strings.Contains(out, "400-000-0000") {
		t.Errorf("preview: exit %d, want the configured phone:\n%s%s", code, out, errOut)
	}
}
