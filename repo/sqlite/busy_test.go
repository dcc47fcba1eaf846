package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
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

// A full disk is an outage too: the write is refused until space is freed,
// and then the same write succeeds. SQLite says SQLITE_FULL when a write
// would grow the file past what it may take (here max_page_count, as a
// full file system would).
func TestFullDiskIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "duebell.db")
	openAt(t, path)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pages int
	if err := conn.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, detail) VALUES (0, 'test', 'fill', json_quote(?))`,
		strings.Repeat("x", 1<<20))
	if err == nil {
		t.Fatal("a write past the file's limit went through")
	}
	if !repo.IsUnavailable(err) {
		t.Errorf("a full disk: %v; want it reported as unavailable (retry later)", err)
	}
}
