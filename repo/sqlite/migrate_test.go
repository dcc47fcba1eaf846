package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"duebell/repo/sqlite"
	"duebell/repo/storetest"
)

// Migration 002 on a file that holds receipts twice.
func TestMigrationKeepsEachReceiptOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "duebell.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.ReceiptsOnceMigration(t, s, 2, "002_receipts_once")
}

// A file a later release migrated while this binary served.
func TestNewerSchemaKeepsWorking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "duebell.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.NewerSchema(t, s)
}
