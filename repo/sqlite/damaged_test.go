package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duebell/repo"
	"duebell/repo/sqlite"
	"duebell/repo/storetest"
	"duebell/scheduler"
)

// damagePage overwrites the root page of table in the file at path, as a
// failing disk or a copy of a live file can leave it.
func damagePage(t *testing.T, s *sqlite.Store, path, table string) {
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

// Once a write has found the file damaged, no write is taken, even one
// that misses the damaged pages (an audit: a new customer, a payment and an
// import were stored after /readyz said the file was damaged): what is
// written then is lost with the file when it is restored from a backup, or
// lands beside a bad page. Each refusal is an outage (503 to the API).
func TestDamagedFileRefusesEveryWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "duebell.db")
	s := openAt(t, path)
	storetest.Customer(t, s, "c1")
	storetest.Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	damagePage(t, s, path, "notifications")

	s = openAt(t, path)
	if _, err := s.QueueDueReminders(ctx, storetest.Now, scheduler.DefaultStages()); !repo.IsDamaged(err) {
		t.Fatalf("a scan onto the damaged log: %v, want damaged", err)
	}
	c := repo.Customer{Ref: "c2", Name: "李四", Phone: "+8613912345678", Locale: "zh-CN", Timezone: "Asia/Shanghai"}
	if _, err := s.UpsertCustomer(ctx, c, storetest.Now); !repo.IsDamaged(err) || !repo.IsUnavailable(err) ||
		!strings.Contains(err.Error(), "restore the file from a backup") {
		t.Fatalf("a push beside the damage after it was found: %v, want refused as damaged", err)
	}
	var n int
	if err := s.DB().Get(&n, `SELECT count(*) FROM customers WHERE ref = 'c2'`); err != nil || n != 0 {
		t.Errorf("the refused push stored %d rows (%v)", n, err)
	}
}

// serve does not start on a damaged file: PRAGMA quick_check finds the
// damage before the daemon sends anything from it (an audit: 184 SMS went
// out before a claim met the damaged page), and says what to do.
func TestDamagedFileIsNotServed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "duebell.db")
	s := openAt(t, path)
	storetest.Customer(t, s, "c1")
	damagePage(t, s, path, "customers")

	s = openAt(t, path)
	err := s.LockServe()
	if !repo.IsDamaged(err) || !strings.Contains(err.Error(), path+" is damaged") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("serving a damaged file: %v, want refused as damaged, on one line", err)
	}
	if err := s.Ping(context.Background()); !repo.IsDamaged(err) {
		t.Errorf("ready after the check found damage: %v", err)
	}
}
