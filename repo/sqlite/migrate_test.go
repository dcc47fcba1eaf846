package sqlite_test

import (
	"path/filepath"
	"testing"

	"duebell/repo/storetest"
)

// Migration 002 on a file that holds receipts twice.
func TestMigrationKeepsEachReceiptOnce(t *testing.T) {
	t.Parallel()
	s := openAt(t, filepath.Join(t.TempDir(), "duebell.db"))
	storetest.ReceiptsOnceMigration(t, s, 2, "002_receipts_once")
}

// A file a later release migrated while this binary served.
func TestNewerSchemaKeepsWorking(t *testing.T) {
	t.Parallel()
	s := openAt(t, filepath.Join(t.TempDir(), "duebell.db"))
	storetest.NewerSchema(t, s)
}
