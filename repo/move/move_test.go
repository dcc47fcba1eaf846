package move_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/move"
	"duebell/repo/repotest"
	"duebell/repo/sqlite"
	"duebell/repo/storetest"
)

// A command that writes to the file while it is being moved (a cron's
// dispatch --once, a resend) waits for the move's lock, and then finds the
// file moved: it writes nothing that PostgreSQL would never see. An audit
// had a dispatch --once send 2,000 SMS from the file during a move, which
// PostgreSQL then sent again.
func TestWriterDuringAMoveWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := "sqlite:" + filepath.Join(t.TempDir(), "duebell.db")
	src, err := sqlite.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.Customer(t, src, "c1")
	other, err := sqlite.Open(ctx, url) // another process on the file
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	dst := repotest.New(t)

	wrote := make(chan error, 1)
	_, err = move.Copy(ctx, src.DB(), dst, url, func(tb move.Table) {
		if tb.Name == move.Tables[0] {
			go func() {
				wrote <- other.AppendAudit(ctx, repo.AuditEntry{At: time.Now(), Actor: "cron", Action: "during.move", Target: "x"})
			}()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; !errors.Is(err, sqlite.ErrMoved) {
		t.Fatalf("a write that waited for the move: %v, want ErrMoved", err)
	}
	var n int
	if err := src.DB().Get(&n, `SELECT count(*) FROM audit_log WHERE action = 'during.move'`); err != nil || n != 0 {
		t.Errorf("the file holds %d writes made during the move (%v), want none", n, err)
	}
	if _, err := sqlite.Open(ctx, url); !errors.Is(err, sqlite.ErrMoved) {
		t.Errorf("opening the moved file: %v, want ErrMoved", err)
	}
}
