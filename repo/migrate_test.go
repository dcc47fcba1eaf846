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
