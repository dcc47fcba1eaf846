package sqlite_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"duebell/repo/sqlite"
)

// A file the daemon cannot write (restored with the wrong owner or mode,
// or made immutable) opens for reading, and serve used to start on it:
// then every claim and scan failed with an ERROR each second while
// /readyz said ready. LockServe, which serve and demo take first, refuses
// such a file, saying so.
func TestServeRefusesAFileItCannotWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "duebell.db")
	openAt(t, path).Close()
	readOnly(t, path, 0o444)
	s, err := sqlite.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.LockServe()
	if err == nil || !strings.Contains(err.Error(), "cannot be written") {
		t.Fatalf("serve on a read-only file: %v; want it refused as one that cannot be written", err)
	}
}

// A file in a directory that does not exist, or in one the daemon cannot
// write (SQLite writes its journal beside the file), is refused at open
// saying what to fix, not with SQLite's "unable to open database file
// (14)" or "attempt to write a readonly database (1544)".
func TestOpenSaysWhatToFix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "nope", "duebell.db")
	if _, err := sqlite.Open(ctx, "sqlite:"+missing); err == nil ||
		!strings.Contains(err.Error(), "directory "+filepath.Dir(missing)+" does not exist") {
		t.Errorf("open in a missing directory: %v", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "duebell.db")
	openAt(t, path).Close()
	for _, side := range []string{"-wal", "-shm"} {
		_ = os.Remove(path + side)
	}
	readOnly(t, dir, 0o555)
	s, err := sqlite.Open(ctx, "sqlite:"+path)
	if err == nil {
		err = s.LockServe()
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "check the owner and mode of the file and of its directory") {
		t.Errorf("open in a read-only directory: %v", err)
	}
}

// readOnly makes path (a file or a directory) read-only for this process
// until the test ends: mode, or, as root, who writes whatever the mode,
// the immutable attribute (skipped where chattr cannot set it).
func readOnly(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(path, mode|0o200) })
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s read-only as root (chattr: %v: %s)", path, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
}

// A % in the file's name is a %: the driver's file: URI decoded "p%41" to
// "pA", so duebell wrote another file than the one its messages, its disk
// check and its serve lock named, and two daemons ran on one file, each
// locking a different name.
func TestPercentInThePathNamesTheFileItself(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	for _, d := range []string{"p%41", "pA"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	literal := filepath.Join(dir, "p%41", "x.db")
	s, err := sqlite.Open(ctx, "sqlite:"+literal)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.LockServe(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(literal); err != nil {
		t.Errorf("the file named %s was not written: %v", literal, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pA", "x.db")); !os.IsNotExist(err) {
		t.Errorf("a file in pA/ was written instead (%v)", err)
	}
	second, err := sqlite.Open(ctx, "sqlite:"+literal)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.LockServe(); err == nil || !strings.Contains(err.Error(), "in use by another duebell process") {
		t.Errorf("a second daemon on the same file: %v, want it refused", err)
	}
}

// A stopped daemon's file holds everything it wrote, even while another
// process still has the file open (SQLite then keeps the WAL, and a copy
// of the file alone, the README's backup, lacked what the WAL held).
func TestStoppedDaemonsFileHoldsItsWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "duebell.db")
	s, err := sqlite.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.LockServe(); err != nil {
		t.Fatal(err)
	}
	other := openAt(t, path) // another process with the file open
	defer other.Close()
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', 'backup.check')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "copy.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c := openAt(t, copied)
	var n int
	if err := c.DB().Get(&n, `SELECT count(*) FROM audit_log WHERE action = 'backup.check'`); err != nil || n != 1 {
		t.Errorf("the file copied after the daemon stopped holds %d of its writes (%v), want 1", n, err)
	}
}
