package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo/move"
	"duebell/repo/repotest"
	"duebell/repo/sqlite"
)

// moveBook is a lender's book: bills due in three days, today and eight
// days ago, one paid, a borrower who opted out of email, and a payment
// channel event.
const moveBook = `{"type":"customer","ref":"c1","name":"李雷","phone":"+8613812345678","email":"li@example.com"}
{"type":"customer","ref":"c2","name":"Ann","phone":"+8613912345678","email":"ann@example.com","locale":"en","email_opt_out":true}
{"type":"plan","ref":"p1","customer_ref":"c1","merchant":"Shop","title":"Phone","total":30000,"periods":3,"installments":[{"seq":1,"due_date":"2026-11-23","amount":10000},{"seq":2,"due_date":"2026-12-01","amount":10000},{"seq":3,"due_date":"2026-12-04","amount":10000}]}
{"type":"plan","ref":"p2","customer_ref":"c2","merchant":"Shop","title":"Laptop","total":20000,"periods":2,"installments":[{"seq":1,"due_date":"2026-12-04","amount":10000},{"seq":2,"due_date":"2027-01-04","amount":10000}]}
{"type":"payment","plan_ref":"p1","seq":1,"amount":4000,"ref":"pay-1"}
{"type":"event","ref":"evt-1","kind":"card_unbound","scope":"customer","customer_ref":"c1","occurred_at":"2026-11-30T09:00:00+08:00","payload":{"card_last4":"6789"}}
`

// An SQLite store moved into PostgreSQL arrives whole, row for row, and
// the daemon on PostgreSQL then sends nothing the file had sent and
// everything it had not.
func TestMoveSQLiteToPostgres(t *testing.T) {
	dir := t.TempDir()
	file := "sqlite:" + filepath.Join(dir, "duebell.db")
	from := storeConfig(t, fmt.Sprintf("[database]\nurl = %q\n", file), "[sms]\nprovider = \"outbox\"\n")
	book := filepath.Join(dir, "book.ndjson")
	if err := os.WriteFile(book, []byte(moveBook), 0o600); err != nil {
		t.Fatal(err)
	}
	must := func(config string, args ...string) string {
		t.Helper()
		code, out, stderr := runMain(append(args, "--config", config)...)
		if code != 0 {
			t.Fatalf("duebell %v: exit %d %s%s", args, code, out, stderr)
		}
		return out
	}
	must(from, "migrate")
	must(from, "import", book)
	must(from, "scan", "--at", "2026-12-01T10:00:00+08:00")
	must(from, "dispatch", "--once", "--at", "2026-12-01T10:00:00+08:00")
	must(from, "resend", "1", "--reason", "customer asked", "--actor", "support-1")
	must(from, "dispatch", "--once", "--at", "2026-12-01T10:05:00+08:00")
	sentBefore := outboxCount(t, from)
	if sentBefore < 5 {
		t.Fatalf("the file sent %d messages before the move; the book should give at least 5", sentBefore)
	}

	r, schema := repotest.NewWithURL(t)
	to := testConfig(t, schema, "[sms]\nprovider = \"outbox\"\n")

	// Not while a daemon serves the file: what it sent meanwhile would be
	// sent again from PostgreSQL.
	serving, err := sqlite.Open(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	if err := serving.LockServe(); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runMain("move", "--from", file, "--config", to)
	want := map[string][]string{}
	for _, table := range move.Tables {
		want[table] = dumpTable(t, serving.DB(), table)
	}
	serving.Close()
	if code != 1 || !strings.Contains(stderr, "in use by another duebell process: stop the daemon serving it") ||
		strings.Contains(stderr, "move to PostgreSQL") || count(t, r.DB(), "customers") != 0 {
		t.Fatalf("move beside a daemon: exit %d %q %q; want 1, the file in use, nothing moved", code, out, stderr)
	}

	out = must(to, "move", "--from", file)
	if !strings.Contains(out, "notifications") || !strings.Contains(out, "moved "+filepath.Join(dir, "duebell.db")) {
		t.Errorf("move printed %q", out)
	}
	for _, table := range move.Tables {
		want, got := want[table], dumpTable(t, r.DB(), table)
		if table == "audit_log" { // PostgreSQL's holds the move's entry too
			if len(got) != len(want)+1 || !strings.Contains(got[len(got)-1], "store.moved") {
				t.Errorf("audit_log after the move: %q", got)
			}
			got = got[:len(want)]
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s in PostgreSQL differs from the file:\n%s\nwant\n%s", table, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if n := count(t, r.DB(), "customer_opt_out_changes"); n != 1 {
		t.Errorf("%d opt-out history rows, want c2's one (the triggers may not add theirs)", n)
	}

	// The file is not used again: a command run on it by habit says where
	// the book went.
	if code, _, stderr := runMain("notifications", "list", "--config", from); code != 1 ||
		!strings.Contains(stderr, "moved to PostgreSQL") || !strings.Contains(stderr, schema) {
		t.Errorf("a command on the moved file: exit %d %q; want 1 and where it went", code, stderr)
	}

	// The same morning again on PostgreSQL: nothing new to send.
	if out := must(to, "scan", "--at", "2026-12-01T10:10:00+08:00"); !strings.Contains(out, "due-date scan as of 2026-12-01T10:10:00+08:00: queued 0,") {
		t.Errorf("scan after the move: %q, want queued 0", out)
	}
	must(to, "dispatch", "--once", "--at", "2026-12-01T10:10:00+08:00")
	if n := outboxCount(t, to); n != 0 {
		t.Errorf("PostgreSQL sent %d messages the file had sent", n)
	}
	// The next day's stage (c1's bill due today is overdue then, SMS and
	// email) is queued under ids after the file's and goes out.
	var lastID int64
	if err := r.DB().Get(&lastID, `SELECT max(id) FROM notifications`); err != nil {
		t.Fatal(err)
	}
	if out := must(to, "scan", "--at", "2026-12-02T10:00:00+08:00"); !strings.Contains(out, "due-date scan as of 2026-12-02T10:00:00+08:00: queued 2,") {
		t.Errorf("next day's scan: %q, want the overdue stage queued", out)
	}
	must(to, "dispatch", "--once", "--at", "2026-12-02T10:00:00+08:00")
	if n := outboxCount(t, to); n == 0 {
		t.Error("PostgreSQL sent nothing the next day")
	}
	var newIDs []int64
	// The next day's scan's notices (created at its --at: the resend above
	// was created on the real clock, so no later-than filter tells them apart).
	if err := r.DB().Select(&newIDs, `SELECT id FROM notifications WHERE created_at = '2026-12-02T10:00:00+08:00'`); err != nil || len(newIDs) != 2 {
		t.Fatalf("the next day's notices: %v (%v), want 2", newIDs, err)
	}
	for _, id := range newIDs {
		if id <= lastID {
			t.Errorf("new notice %d reuses an id the file gave (up to %d)", id, lastID)
		}
	}

	// A second move of the file: refused, nothing changed.
	before := count(t, r.DB(), "notifications")
	code, _, stderr = runMain("move", "--from", file, "--config", to)
	if code != 1 || !strings.Contains(stderr, "moved to PostgreSQL") || count(t, r.DB(), "notifications") != before {
		t.Errorf("second move: exit %d %q; want 1 and that the file was moved", code, stderr)
	}
}

// Moving into the config's own SQLite file, or from something that is not
// an SQLite store, is a usage mistake; a missing file is not created.
func TestMoveRefusesWhatIsNotAMove(t *testing.T) {
	dir := t.TempDir()
	file := "sqlite:" + filepath.Join(dir, "duebell.db")
	sqliteConfig := storeConfig(t, fmt.Sprintf("[database]\nurl = %q\n", file), "[sms]\nprovider = \"outbox\"\n")
	r, schema := repotest.NewWithURL(t)
	pgConfig := testConfig(t, schema, "[sms]\nprovider = \"outbox\"\n")
	// An empty file (left by a command run in the wrong directory) and
	// another program's database are not duebell stores: nothing is
	// written to them, nor to the schema.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "photos.db")
	db, err := sqlx.Open("sqlite", "file:"+foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--from", file, "--config", sqliteConfig}, 2, "move copies into PostgreSQL"},
		{[]string{"--from", repotest.URL(), "--config", pgConfig}, 2, "want the SQLite store's database.url"},
		{[]string{"--config", pgConfig}, 2, "want the SQLite store's database.url"},
		{[]string{"--from", "sqlite:" + filepath.Join(dir, "missing.db"), "--config", pgConfig}, 1, "does not exist"},
		{[]string{"--from", "sqlite:" + empty, "--config", pgConfig}, 1, "not a duebell store"},
		{[]string{"--from", "sqlite:" + foreign, "--config", pgConfig}, 1, "not a duebell store"},
	} {
		code, _, stderr := runMain(append([]string{"move"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("move %v: exit %d %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !os.IsNotExist(err) {
		t.Errorf("move created the missing file (%v)", err)
	}
	if st, err := os.Stat(empty); err != nil || st.Size() != 0 {
		t.Errorf("move wrote to the empty file (%v)", err)
	}
	db, err = sqlx.Open("sqlite", "file:"+foreign)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	if err := db.Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table'`); err != nil || len(tables) != 1 {
		t.Errorf("the other program's database holds tables %v (%v), want its own photos only", tables, err)
	}
	var migrations int
	if err := r.DB().Get(&migrations, `SELECT count(*) FROM schema_migrations`); err != nil || count(t, r.DB(), "audit_log") != 0 {
		t.Errorf("the schema changed for a refused move (%v)", err)
	}
}

// A move into a schema that holds a book is refused before the schema is
// touched: it was migrated first, upgrading under its daemons the schema
// of a book the move then refused.
func TestMoveIntoABookChangesNothing(t *testing.T) {
	dir := t.TempDir()
	file := "sqlite:" + filepath.Join(dir, "duebell.db")
	from := storeConfig(t, fmt.Sprintf("[database]\nurl = %q\n", file), "[sms]\nprovider = \"outbox\"\n")
	if code, _, stderr := runMain("migrate", "--config", from); code != 0 {
		t.Fatal(stderr)
	}
	r, schema := repotest.NewWithURL(t)
	if _, err := r.DB().Exec(`INSERT INTO customers (ref) VALUES ('held')`); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DB().Exec(`DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runMain("move", "--from", file, "--config", testConfig(t, schema, "[sms]\nprovider = \"outbox\"\n"))
	if code != 2 || !strings.Contains(stderr, "table customers: not empty") {
		t.Errorf("move into a book: exit %d %q; want 2 and not empty", code, stderr)
	}
	if pending, err := r.PendingMigrations(context.Background()); err != nil || len(pending) != 1 {
		t.Errorf("%d migrations pending after the refused move (%v), want the 1 left pending", len(pending), err)
	}
}

func count(t *testing.T, db *sqlx.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

// outboxCount is how many messages the outbox beside config holds.
func outboxCount(t *testing.T, config string) int {
	t.Helper()
	dir := filepath.Join(filepath.Dir(config), "outbox")
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.Name(), ".eml"):
			n++
		case strings.HasSuffix(e.Name(), ".jsonl"):
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			n += strings.Count(string(b), "\n")
		}
	}
	return n
}

// dumpTable is table's rows in id (or key) order, each value written the
// same way whichever store it came from: instants in UTC, booleans as 0/1,
// dates as YYYY-MM-DD, JSON re-encoded.
func dumpTable(t *testing.T, db *sqlx.DB, table string) []string {
	t.Helper()
	rows, err := db.Queryx(`SELECT * FROM ` + table + ` ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals, err := rows.SliceScan()
		if err != nil {
			t.Fatal(err)
		}
		fields := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			switch x := v.(type) {
			case time.Time:
				if cols[i] == "due_date" {
					v = x.Format(time.DateOnly)
				} else {
					v = x.UTC().Format(time.RFC3339Nano)
				}
			case bool:
				v = 0
				if x {
					v = 1
				}
			case string:
				if cols[i] == "payload" || cols[i] == "detail" {
					var j any
					if json.Unmarshal([]byte(x), &j) == nil {
						b, _ := json.Marshal(j)
						v = string(b)
					}
				}
			}
			fields[i] = fmt.Sprintf("%s=%v", cols[i], v)
		}
		slices.Sort(fields) // the columns of one table, in either store's order
		out = append(out, strings.Join(fields, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
