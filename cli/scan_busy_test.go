package cli

import (
	"strings"
	"testing"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
)

func TestScanSkipsWhileAnotherReplicaScansAndExitsZero(t *testing.T) {
	t.Parallel()
	r, schema := repotest.NewWithURL(t)
	config := outboxConfig(t, schema)
	// A bill due in three days: a scan that ran would queue its due_soon.
	storetest.Customer(t, r, "c1")
	storetest.Plan(t, r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	// Another replica holds both scan locks for the whole command.
	repotest.HoldLock(t, r, "scan:events")
	repotest.HoldLock(t, r, "scan:due")
	code, out, stderr := runMain("scan", "--at", "2026-11-21T10:00:00+08:00", "--config", config)
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
