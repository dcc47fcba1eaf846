package api_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"duebell/repo/sqlite"
	"duebell/repo/sqlite/sqlitetest"
)

// An SQLite file with a damaged page answered the reads that missed it, so
// /readyz said ready while every push that touched the page failed with a
// 500. A push now gets 503 with Retry-After (nothing is stored: it may be
// sent again once the file is restored), and from then on /readyz says the
// file is damaged and what to do.
func TestDamagedSQLiteFileAnswers503AndIsNotReady(t *testing.T) {
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
	b := setupWith(t, s, nil)
	b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c1", ingestToken, customerJSON)
	sqlitetest.DamagePage(t, s, path, "customers")

	s, err = sqlite.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b = setupWith(t, s, nil)
	if res := b.do(t, "GET", "/readyz", "", ""); res.status != http.StatusOK {
		t.Fatalf("readyz before any write met the damage = %d %s", res.status, res.raw)
	}
	res := b.do(t, "PUT", "/api/v1/customers/c2", ingestToken, `{"name":"韩梅梅","phone":"+86 139-1234-5678"}`)
	if code, _ := res.errorOf(); res.status != http.StatusServiceUnavailable || code != "unavailable" || res.header.Get("Retry-After") == "" {
		t.Fatalf("a push onto the damaged page = %d %s (Retry-After %q), want 503 unavailable with Retry-After",
			res.status, res.raw, res.header.Get("Retry-After"))
	}
	res = b.do(t, "GET", "/readyz", "", "")
	if _, msg := res.errorOf(); res.status != http.StatusServiceUnavailable || !strings.Contains(msg, "is damaged") ||
		!strings.Contains(msg, "restore the file from a backup") {
		t.Errorf("readyz after a write met the damage = %d %s, want 503 saying the file is damaged and what to do", res.status, res.raw)
	}
	if logs := b.logs.String(); !strings.Contains(logs, "malformed") || strings.Contains(logs, "韩梅梅") || strings.Contains(logs, "1234") {
		t.Errorf("log does not name the damage, or names the customer:\n%s", logs)
	}
}
