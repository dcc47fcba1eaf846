package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"duebell/repo"
	"duebell/repo/storetest"
)

// Another process holding the file's write lock past the busy timeout (an
// all-or-nothing import, a sqlite3 shell left in a transaction) makes the
// store wait and then give up: that is the file being unavailable for now,
// as a PostgreSQL outage is (the API answers 503 with Retry-After, the
// dispatcher pauses with one warning), not a failure of the request.
func TestLockedFileIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "duebell.db")
	s := openAt(t, path)
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, `ROLLBACK`) //nolint:errcheck
	_, err = s.UpsertCustomer(ctx, repo.Customer{Ref: "c1", Name: "张三", Phone: "+8613812345678",
		Locale: "zh-CN", Timezone: "Asia/Shanghai"}, storetest.Now)
	if err == nil {
		t.Fatal("a write went through while another process held the write lock")
	}
	if !repo.IsUnavailable(err) {
		t.Errorf("a locked file: %v; want it reported as unavailable (retry later)", err)
	}
}
