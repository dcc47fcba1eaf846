package sqlite_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/sqlite"
)

// A store whose disk fills up answers reads, so /readyz (the store's Ping)
// said ready while every push, claim and scan failed. Ping now reports a
// disk nearly full before writes fail, and ready again once space is freed.
// The file lives on a small tmpfs of its own, which needs root.
func TestPingReportsADiskNearlyFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	ctx := context.Background()
	s := openAt(t, filepath.Join(dir, "duebell.db"))
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping with 40 MB free: %v", err)
	}
	push := func(ref string) error { return pushCustomer(s, ref) }

	// Leave less than MinFreeBytes: still writable, but not ready.
	filler := filepath.Join(dir, "filler")
	fill(t, filler, free(t, dir)-sqlite.MinFreeBytes/2)
	err := s.Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "disk nearly full") {
		t.Fatalf("ping with %d KB free = %v, want the disk reported nearly full", free(t, dir)>>10, err)
	}
	if err := push("c1"); err != nil {
		t.Fatalf("a push with %d KB free: %v", free(t, dir)>>10, err)
	}

	// Full: a write fails as an outage (503, retry later), not as bad data.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	fill(t, filler, free(t, dir))
	if err := push("c2"); err == nil || !repo.IsUnavailable(err) {
		t.Fatalf("a push on a full disk = %v, want an outage", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping once space is freed: %v", err)
	}
	if err := push("c2"); err != nil {
		t.Fatalf("a push once space is freed: %v", err)
	}
}

// free is what an unprivileged writer may still use on dir's filesystem.
func free(t *testing.T, dir string) int64 {
	t.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return int64(fs.Bavail) * fs.Bsize
}

// fill writes a file of n bytes (as many as fit, on a full disk).
func fill(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n > 0 {
		w, err := f.Write(chunk[:min(n, int64(len(chunk)))])
		n -= int64(w)
		if err != nil {
			return // ENOSPC: as full as it gets
		}
	}
}

// pushCustomer writes customer ref as a push does: a write the store must
// take the write lock and room on its disk for.
func pushCustomer(s *sqlite.Store, ref string) error {
	_, err := s.UpsertCustomer(context.Background(), repo.Customer{Ref: ref, Name: "Li", Phone: "+8613812345678",
		Locale: "zh-CN", Timezone: "Asia/Shanghai"}, time.Now())
	return err
}

// A file removed (or replaced) under a running store answered every read
// and write from the open descriptor, and /readyz said ready, while all it
// wrote was lost at the stop. Ping reports it.
func TestPingReportsAFileRemovedWhileOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "duebell.db")
	s := openAt(t, path)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := s.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "removed or replaced") {
		t.Fatalf("ping after the file was removed = %v, want it reported", err)
	}
}
