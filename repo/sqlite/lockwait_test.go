package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/sqlite"
)

// A write that waits too long for the store's write lock (an all-or-nothing
// import holds it for its whole length) fails as an outage, which the API
// answers 503 with Retry-After, as the README says; it used to wait for as
// long as the import ran. Once the import ends, writes go in again.
func TestAWriteBehindALongImportIsAnOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "duebell.db"))
	const wait = 200 * time.Millisecond
	sqlite.SetLockWait(s, wait)
	push := func() error { return pushCustomer(s, "c1") }
	imp, err := s.BeginImport(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = push()
	if err == nil || !repo.IsUnavailable(err) {
		t.Fatalf("a push behind an open import = %v, want an outage", err)
	}
	if waited := time.Since(start); waited < wait || waited > 10*wait {
		t.Errorf("the push gave up after %s, want about %s", waited, wait)
	}
	if err := imp.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := push(); err != nil {
		t.Fatalf("a push once the import ended: %v", err)
	}
}
