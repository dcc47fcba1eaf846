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
	if os.Geteuid() == 0 { // root writes whatever the mode: make the file immutable
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Skipf("cannot make the file read-only as root (chattr: %v: %s)", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
	} else if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
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
	if os.Geteuid() == 0 { // root writes whatever the mode: make the directory immutable
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot make the directory read-only as root (chattr: %v: %s)", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
	} else if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	} else {
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	}
	s, err := sqlite.Open(ctx, "sqlite:"+path)
	if err == nil {
		err = s.LockServe()
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "check the owner and mode of the file and of its directory") {
		t.Errorf("open in a read-only directory: %v", err)
	}
}
