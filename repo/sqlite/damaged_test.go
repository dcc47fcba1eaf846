package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"duebell/repo"
	"duebell/repo/sqlite"
	"duebell/repo/sqlite/sqlitetest"
	"duebell/repo/storetest"
	"duebell/scheduler"
)

// Once a write has found the file damaged, no write is taken, even one
// that misses the damaged pages (an audit: a new customer, a payment and an
// import were stored after /readyz said the file was damaged): what is
// written then is lost with the file when it is restored from a backup, or
// lands beside a bad page. Each refusal is an outage (503 to the API).
func TestDamagedFileRefusesEveryWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := damagedStore(t, "notifications")
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
	s, path := damagedStore(t, "customers")
	err := s.LockServe()
	if !repo.IsDamaged(err) || !strings.Contains(err.Error(), path+" is damaged") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("serving a damaged file: %v, want refused as damaged, on one line", err)
	}
	if err := s.Ping(context.Background()); !repo.IsDamaged(err) {
		t.Errorf("ready after the check found damage: %v", err)
	}
}

// An import that meets a damaged page marks the file damaged as any other
// write does: it used to fail alone (503), while /readyz said ready and
// the next pushes were stored.
func TestDamageAnImportFindsRefusesTheNextWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := damagedStore(t, "customers")
	tx, err := s.BeginImport(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Apply(ctx, repo.ImportBatch{Customers: []repo.ImportCustomer{{Line: 1, Customer: repo.Customer{
		Ref: "c1", Name: "王五", Phone: "+8613912345678", Locale: "zh-CN", Timezone: "Asia/Shanghai"}}}}, storetest.Now)
	_ = tx.Rollback()
	if !repo.IsDamaged(err) || !strings.Contains(err.Error(), path+" is damaged") {
		t.Fatalf("an import onto the damaged page: %v, want damaged, naming the file", err)
	}
	if err := s.Ping(ctx); !repo.IsDamaged(err) {
		t.Errorf("ready after an import found the damage: %v", err)
	}
	if _, err := s.BeginImport(ctx, nil); !repo.IsDamaged(err) {
		t.Errorf("the next import began: %v, want refused as damaged", err)
	}
	c := repo.Customer{Ref: "c2", Name: "李四", Phone: "+8613912345679", Locale: "zh-CN", Timezone: "Asia/Shanghai"}
	if _, err := s.UpsertCustomer(ctx, c, storetest.Now); !repo.IsDamaged(err) {
		t.Errorf("a push after the import found the damage: %v, want refused as damaged", err)
	}
}

// damagedStore is a store on a file holding customer c1 and c1's plan p1
// (a bill due 24 November) whose table's first page was then damaged,
// opened afresh, and the file's path.
func damagedStore(t *testing.T, table string) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "duebell.db")
	s := openAt(t, path)
	storetest.Customer(t, s, "c1")
	storetest.Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	sqlitetest.DamagePage(t, s, path, table)
	return openAt(t, path), path
}
