package repo_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"

	"github.com/lib/pq"
)

// Every connection asks PostgreSQL to check that its client is still there
// while a statement runs; an operator's own setting in database.url wins.
func TestOpenChecksTheClientUnlessTheURLSays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	show := func(r *repo.Repo) string { return showSetting(t, r, "client_connection_check_interval") }
	if v := show(repotest.New(t)); v != repo.DefaultConnectionCheck {
		t.Errorf("default check interval %q, want %q", v, repo.DefaultConnectionCheck)
	}
	r, err := repo.Open(ctx, withParam(t, "client_connection_check_interval", "0"), "public")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v := show(r); v != "0" {
		t.Errorf("database.url set the check off, got %q", v)
	}
}

// Every connection gives up on a silent network after tcp_user_timeout
// (30 s unless database.url says; PostgreSQL is told too, for its end), in
// either form of database.url; a value that is not whole milliseconds is
// refused before anything connects.
func TestOpenSetsTheTCPUserTimeoutUnlessTheURLSays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// PostgreSQL shows the socket's own setting, with or without a unit
	// ("30s", "30000", "2500").
	show := func(r *repo.Repo) string {
		v := showSetting(t, r, "tcp_user_timeout")
		if s, ok := strings.CutSuffix(v, "s"); ok && !strings.HasSuffix(s, "m") {
			return s + "000"
		}
		return strings.TrimSuffix(v, "ms")
	}
	if v := show(repotest.New(t)); v != "30000" {
		t.Errorf("default tcp_user_timeout %q ms, want 30000", v)
	}
	u, err := url.Parse(withParam(t, "tcp_user_timeout", "2500"))
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	kv := fmt.Sprintf("host=%s port=%s user=%s password='%s' dbname=%s sslmode=disable tcp_user_timeout=2500",
		u.Hostname(), u.Port(), u.User.Username(), pass, strings.TrimPrefix(u.Path, "/"))
	for _, dsn := range []string{u.String(), kv} {
		r, err := repo.Open(ctx, dsn, "public")
		if err != nil {
			t.Fatal(err)
		}
		if v := show(r); v != "2500" {
			t.Errorf("database.url set 2500 ms, got %q", v)
		}
		r.Close()
	}
	for _, bad := range []string{"30s", "-1", "1e9"} {
		if _, err := repo.Open(ctx, withParam(t, "tcp_user_timeout", bad), "public"); err == nil ||
			!strings.Contains(err.Error(), "tcp_user_timeout") {
			t.Errorf("tcp_user_timeout=%s: %v, want it refused by name", bad, err)
		}
	}
}

// A daemon killed in the middle of a long statement (a scan) does not leave
// it running in PostgreSQL: the backend notices the dead client and ends it.
func TestStatementOfAKilledDaemonEnds(t *testing.T) {
	if os.Getenv("DUEBELL_ORPHAN_SCHEMA") != "" {
		runOrphan(t)
		return
	}
	t.Parallel()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "orphan_" + hex.EncodeToString(b)
	child := exec.Command(os.Args[0], "-test.run=^TestStatementOfAKilledDaemonEnds$")
	child.Env = append(os.Environ(), "DUEBELL_ORPHAN_SCHEMA="+schema)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	admin := repotest.New(t)
	running := func() int {
		var n int
		if err := admin.DB().Get(&n, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`, "duebell/"+schema); err != nil {
			t.Fatal(err)
		}
		return n
	}
	wait := func(what string, within time.Duration, done func() bool) {
		t.Helper()
		for end := time.Now().Add(within); !done(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: not within %v", what, within)
			}
		}
	}
	wait("the daemon's statement to start", 30*time.Second, func() bool { return running() == 1 })
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killed := time.Now()
	// The default check is 10 s; the child asked for 1 s to keep this short.
	wait("the orphaned statement to end", 15*time.Second, func() bool { return running() == 0 })
	t.Logf("the orphaned statement ended %v after the kill", time.Since(killed).Round(time.Millisecond))
}

// runOrphan is the child of TestStatementOfAKilledDaemonEnds: a daemon's
// connection running a ten-minute statement until it is killed.
func runOrphan(t *testing.T) {
	r, err := repo.Open(context.Background(), withParam(t, "client_connection_check_interval", "1s"),
		os.Getenv("DUEBELL_ORPHAN_SCHEMA"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.DB().Exec(`SELECT pg_sleep(600)`)
	t.Fatalf("the statement ended while its daemon lived: %v", err)
}

// withParam is the test database URL with one query parameter set.
// showSetting is what SHOW says of a setting on one of r's connections.
func showSetting(t *testing.T, r *repo.Repo, name string) string {
	t.Helper()
	var v string
	if err := r.DB().GetContext(context.Background(), &v, `SHOW `+name); err != nil {
		t.Fatal(err)
	}
	return v
}

func withParam(t *testing.T, k, v string) string {
	u, err := url.Parse(repotest.URL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// A URL's scheme is case-insensitive: POSTGRES://… opens like postgres://…
// (lib/pq read it as key=value pairs and quoted it, password and all, in
// its error), and a URL that does not parse is refused without being
// quoted.
func TestOpenTakesTheSchemeInAnyCase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := repotest.URL()
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		t.Skipf("test database URL %q is not a URL", u)
	}
	r, err := repo.Open(ctx, strings.ToUpper(scheme)+"://"+rest, "public")
	if err != nil {
		t.Fatalf("open with an upper-case scheme: %v", err)
	}
	defer r.Close()
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	_, err = repo.Open(ctx, "Postgres://u:s3cret@%zz/db", "public")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("open of a URL that does not parse: %v; want it refused without the password", err)
	}
}

// A schema name PostgreSQL would cut short, or one of its own schemas, is
// refused before duebell creates anything: an audit had duebell's tables
// migrated into information_schema, and a 70-character name truncated.
func TestOpenRefusesSchemaNamesItCannotOwn(t *testing.T) {
	t.Parallel()
	for schema, want := range map[string]string{
		strings.Repeat("s", 64): "at most 63 characters",
		"information_schema":    "PostgreSQL's own",
		"pg_catalog":            "PostgreSQL's own",
		"pg_temp_1":             "PostgreSQL's own",
		"Duebell":               "lower-case letters",
	} {
		if r, err := repo.Open(context.Background(), repotest.URL(), schema); err == nil || !strings.Contains(err.Error(), want) {
			if r != nil {
				r.Close()
			}
			t.Errorf("schema %q: %v, want an error saying %q", schema, err, want)
		}
	}
	r, err := repo.Open(context.Background(), repotest.URL(), strings.Repeat("s", 63))
	if err != nil {
		t.Fatalf("a 63-character schema: %v", err)
	}
	r.Close()
}

// A transaction left idle (its connection gone silent between two
// statements) is ended by the server after idle_in_transaction_session_timeout
// (a minute unless database.url says), and its locks with it: another
// replica's writes no longer wait on them for as long as the socket stays
// open.
func TestIdleTransactionIsEndedAndItsLocksFreed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if v := showSetting(t, repotest.New(t), "idle_in_transaction_session_timeout"); v != "1min" {
		t.Errorf("default idle-in-transaction timeout %q, want 1min", v)
	}
	r, err := repo.Open(ctx, withParam(t, "idle_in_transaction_session_timeout", "1s"), "public")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tx, err := r.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	key := time.Now().UnixNano()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
		t.Fatal(err)
	}
	// The holder goes quiet; another connection waits for the lock.
	other, err := repo.Open(ctx, repotest.URL(), "public")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := other.DB().ExecContext(lctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
		t.Fatalf("the lock of an idle transaction was not freed: %v after %v", err, time.Since(start))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the lock was freed after %v, want about the 1 s timeout", took)
	}
}

// A pooled connection the server closed (a failover, pg_terminate_backend,
// an idle reaper) does not make Ping, and so /readyz, report the database
// as down: the database answers on a new connection. Ping said "driver:
// bad connection" once after each such close (an audit).
func TestPingAfterTheServerClosedAPooledConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, schema := repotest.NewWithURL(t)
	// A pool of its own: the test's dead connections stay out of the one
	// that drops the schema afterwards.
	r, err := repo.Open(ctx, repotest.URL(), schema)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Three pooled connections, all closed by the server, as in a failover.
	var pids []int
	var txs []*sql.Tx
	for range 3 {
		tx, err := r.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids, txs = append(pids, pid), append(txs, tx)
	}
	for _, tx := range txs {
		_ = tx.Rollback()
	}
	admin := repotest.New(t)
	var killed int
	if err := admin.DB().GetContext(ctx, &killed, `SELECT count(*) FILTER (WHERE pg_terminate_backend(p))
		FROM unnest($1::int[]) p`, pq.Array(pids)); err != nil || killed != 3 {
		t.Fatalf("terminate the pooled connections: %d %v", killed, err)
	}
	for i := range 2 {
		if err := r.Ping(ctx); err != nil {
			t.Fatalf("ping %d after the server closed the pooled connections: %v", i+1, err)
		}
	}
}
