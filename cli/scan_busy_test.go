package cli

import (
	"context"
	"hash/fnv"
	"strings"
	"testing"

	"duebell/repo/repotest"
)

// scanLockKey is the advisory lock a scan of schema takes (repo/lock.go).
func scanLockKey(schema, scan string) int64 {
	h := fnv.New64a()
	h.Write([]byte(schema + ":scan:" + scan))
	return int64(h.Sum64())
}

func TestScanSkipsWhileAnotherReplicaScansAndExitsZero(t *testing.T) {
	t.Parallel()
	r, schema := repotest.NewWithURL(t)
	config := outboxConfig(t, schema)
	// Another replica holds both scan locks for the whole command.
	conn, err := r.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, scan := range []string{"events", "due"} {
		if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1)`, scanLockKey(schema, scan)); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr := runMain("scan", "--config", config)
	if code != 0 {
		t.Fatalf("scan while another replica scans: exit %d, %q %q; want 0", code, out, stderr)
	}
	for _, want := range []string{"channel-event scan skipped: another replica is scanning",
		"due-date scan skipped: another replica is scanning"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var n int
	if err := r.DB().Get(&n, `SELECT count(*) FROM notifications`); err != nil || n != 0 {
		t.Errorf("a skipped scan queued %d notices (%v)", n, err)
	}
}
