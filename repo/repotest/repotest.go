// Package repotest gives each test its own PostgreSQL schema, migrated to the
// current version, so tests run in parallel against a real database.
package repotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"duebell/repo"
)

// DefaultURL is used when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL is the test database URL.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// New opens a migrated repo in a fresh schema. The schema is dropped when the
// test passes and kept (its name logged) when it fails, as evidence.
func New(t testing.TB) *repo.Repo {
	t.Helper()
	r, _ := NewWithURL(t)
	return r
}

// NewWithURL is New that also returns the schema name, for tests that start
// the whole daemon against the same schema.
func NewWithURL(t testing.TB) (*repo.Repo, string) {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	r, err := repo.Open(ctx, URL(), schema)
	if err != nil {
		t.Fatalf("open test database (set TEST_DATABASE_URL): %v", err)
	}
	if _, err := r.Migrate(ctx); err != nil {
		r.Close()
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("test schema kept for inspection: %s", schema)
		} else {
			_, _ = r.DB().ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		}
		r.Close()
	})
	return r, schema
}

// HoldLock holds the advisory lock named name (see repo.LockKey) on a
// connection of its own until the test ends, as another replica would.
func HoldLock(t testing.TB, r *repo.Repo, name string) {
	t.Helper()
	conn, err := r.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1)`, r.LockKey(name)); err != nil {
		t.Fatal(err)
	}
}
