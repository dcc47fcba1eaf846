package repo_test

import (
	"testing"

	"duebell/repo/repotest"
	"duebell/repo/storetest"
)

// Migration 047 on a log that holds receipts twice.
func TestMigrationKeepsEachReceiptOnce(t *testing.T) {
	t.Parallel()
	storetest.ReceiptsOnceMigration(t, repotest.New(t), 47, "047_receipts_once")
}

// A schema a later release migrated while this binary served (one
// connection: the claim prepared before the migration runs again on it).
func TestNewerSchemaKeepsWorking(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	r.DB().SetMaxOpenConns(1)
	storetest.NewerSchema(t, r)
}
