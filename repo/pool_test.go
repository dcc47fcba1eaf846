package repo_test

import (
	"context"
	"database/sql"
	"testing"

	"duebell/repo"
	"duebell/repo/repotest"
)

// After an outage the pool's idle connections are dead, and lib/pq learns
// it of each only when it next uses it; a statement that meets a reset
// there fails rather than being tried on another connection. The first
// statement after the outage finds one dead and may fail; the ones after
// it get connections that work, not one failure per pooled connection
// (a dispatcher would pause and resume once for each).
func TestOutageFailsOneStatementNotOnePerPooledConnection(t *testing.T) {
	t.Parallel()
	for _, outage := range []string{"failover", "backends terminated"} {
		t.Run(outage, func(t *testing.T) {
			t.Parallel()
			r, direct, link := repotest.NewLinked(t)
			if outage == "backends terminated" {
				r = direct // the server closes the connections itself
			}
			const n = 6 // idle connections in the pool when the outage comes
			repotest.FillPool(t, r, n)
			if idle := r.DB().Stats().Idle; idle != n {
				t.Fatalf("%d idle connections, want %d", idle, n)
			}
			switch outage {
			case "failover":
				link.Down()
				link.Up()
			case "backends terminated": // a restart of the server
				terminate(t, r.Schema())
			}
			var failed []int
			for i := range 2 * n {
				if _, _, err := r.NextDue(context.Background()); err != nil {
					if !repo.IsUnavailable(err) {
						t.Errorf("statement %d after the outage: %v, want an outage's error", i+1, err)
					}
					failed = append(failed, i+1)
				}
			}
			if len(failed) > 1 || len(failed) == 1 && failed[0] != 1 {
				t.Errorf("statements %v of %d failed after the outage; want at most the first, which found the pool dead",
					failed, 2*n)
			}
		})
	}
}

// terminate ends the backends of schema's pool and waits until they are
// gone: a statement racing their exit would meet the outage itself, not
// the dead connections it left.
func terminate(t *testing.T, schema string) {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("postgres", repotest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const backends = `SELECT pid FROM pg_stat_activity WHERE application_name = 'duebell/' || $1`
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM (`+backends+`) b`, schema); err != nil {
		t.Fatal(err)
	}
	for left := 1; left > 0; { // polling for the exits, not timing a rule
		if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM (`+backends+`) b`, schema).Scan(&left); err != nil {
			t.Fatal(err)
		}
	}
}
