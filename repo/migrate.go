package repo

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded PostgreSQL migrations in order.
func Migrations() ([]Migration, error) { return ReadMigrations(migrationFS) }

// ReadMigrations lists the migrations in fsys's migrations directory (each
// store embeds its own), ordered by the number each file name starts with.
func ReadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", e.Name())
		}
		body, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(e.Name(), ".sql"), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// PendingMigrations returns the migrations not yet applied to the schema.
func (r *Repo) PendingMigrations(ctx context.Context) ([]Migration, error) {
	all, done, err := r.migrations(ctx)
	return Pending(all, done), err
}

// NewerMigrations returns the versions applied to the schema that this
// build does not know: a later release migrated it.
func (r *Repo) NewerMigrations(ctx context.Context) ([]int, error) {
	all, done, err := r.migrations(ctx)
	return Newer(all, done), err
}

// migrations returns the migrations this build embeds and the versions
// applied to the schema (none before its first migrate).
func (r *Repo) migrations(ctx context.Context) (all []Migration, done []int, err error) {
	if all, err = Migrations(); err != nil {
		return nil, nil, err
	}
	var exists bool
	if err := r.db.GetContext(ctx, &exists,
		`SELECT to_regclass(quote_ident($1) || '.schema_migrations') IS NOT NULL`, r.schema); err != nil {
		return nil, nil, fmt.Errorf("check migrations table: %w", err)
	}
	if !exists {
		return all, nil, nil
	}
	if err := r.db.SelectContext(ctx, &done, `SELECT version FROM schema_migrations`); err != nil {
		return nil, nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return all, done, nil
}

// Pending is the migrations of all whose versions are not in applied.
func Pending(all []Migration, applied []int) []Migration {
	var pending []Migration
	for _, m := range all {
		if !slices.Contains(applied, m.Version) {
			pending = append(pending, m)
		}
	}
	return pending
}

// Newer is the versions in applied that all lacks, in order: migrations
// of a later release than the one that embeds all.
func Newer(all []Migration, applied []int) []int {
	var newer []int
	for _, v := range applied {
		if !slices.ContainsFunc(all, func(m Migration) bool { return m.Version == v }) {
			newer = append(newer, v)
		}
	}
	slices.Sort(newer)
	return newer
}

// Migrate creates the schema if needed and applies every pending migration,
// each in its own transaction. An advisory lock keeps concurrent replicas from
// migrating at the same time. It returns the names of the migrations applied.
func (r *Repo) Migrate(ctx context.Context) ([]string, error) {
	conn, err := r.db.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	lock := advisoryKey(r.schema + ":migrate")
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lock); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lock)

	if _, err := conn.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+quoteIdent(r.schema)); err != nil {
		return nil, fmt.Errorf("migrate: create schema: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate: create version table: %w", err)
	}
	pending, err := r.PendingMigrations(ctx)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range pending {
		if err := applyMigration(ctx, conn, m); err != nil {
			return applied, err
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

func applyMigration(ctx context.Context, conn *sqlx.Conn, m Migration) error {
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("migration %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
