package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"duebell/repo/sqlite"
	"duebell/repo/storetest"
)

var _ storetest.Store = (*sqlite.Store)(nil)

// open returns a migrated store in a file of t's own.
func open(t testing.TB) storetest.Store { return openAt(t, filepath.Join(t.TempDir(), "duebell.db")) }

// openAt returns a migrated store in the file at path, closed when t ends.
func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs the conformance suite against SQLite.
func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}
