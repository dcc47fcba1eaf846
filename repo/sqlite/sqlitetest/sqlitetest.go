// Package sqlitetest holds fixtures for tests of the embedded SQLite store
// that need the file itself, not only the store's methods.
package sqlitetest

import (
	"os"
	"strings"
	"testing"

	"duebell/repo/sqlite"
)

// DamagePage closes s, the store on the file at path, and overwrites the
// root page of table, as a failing disk or a copy of a live file can leave
// it. Open the file again to meet the damage.
func DamagePage(t testing.TB, s *sqlite.Store, path, table string) {
	t.Helper()
	var root, pageSize int64
	if err := s.DB().Get(&root, `SELECT rootpage FROM sqlite_master WHERE name = ?`, table); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Get(&pageSize, `PRAGMA page_size`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff", int(pageSize))), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}
