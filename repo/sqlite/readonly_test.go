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
