// Package move copies an embedded SQLite store, whole, into an empty
// PostgreSQL schema: the book, and the delivery log with its dedup keys, so
// that a lender outgrowing one node moves without a repeated reminder and
// without splitting support's history between two databases.
//
// Both stores have the same tables and columns (the SQLite schema is the
// PostgreSQL one in SQLite's terms), so a table is copied column by column,
// rows in id order, with COPY; ids are kept, and each id sequence continues
// after the file's highest id ever given. The copy is one PostgreSQL
// transaction: a copy that fails leaves the schema as empty as it found it.
package move

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"duebell/repo"
	"duebell/repo/sqlite"
)

// Tables is every table of a store but schema_migrations, parents before
// the rows that refer to them.
var Tables = []string{
	"customers", "customer_opt_out_changes", "plans", "installments", "payments",
	"channel_events", "notifications", "delivery_attempts", "sms_receipts",
	"idempotency_keys", "audit_log", "console_revoked_sessions", "provider_circuits",
}

// ErrNotEmpty is returned when the PostgreSQL schema already holds rows:
// a move does not merge two books.
var ErrNotEmpty = errors.New("not empty")

// ErrNotAStore is returned for a source file that is not a duebell store.
var ErrNotAStore = errors.New("not a duebell store")

// Table is how many rows a table brought.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// CheckSource refuses a file that is not a duebell store (no
// schema_migrations table: an empty file left by a command run in the
// wrong directory, another program's database), reading it only.
func CheckSource(ctx context.Context, path string) error {
	db, err := sqlite.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`); err != nil {
		return fmt.Errorf("%w: %w", ErrNotAStore, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: it has no schema_migrations table (give the file the daemon served)", ErrNotAStore)
	}
	return nil
}

// CheckTarget refuses a PostgreSQL schema that already holds rows of
// duebell's tables, before anything (a migration) is done to it: a move
// does not merge two books, nor upgrade the schema of a book it refuses.
func CheckTarget(ctx context.Context, dst *repo.Repo) error {
	return checkEmpty(ctx, dst.DB())
}

// checkEmpty says which of duebell's tables in the schema holds rows; a
// table not created yet holds none.
func checkEmpty(ctx context.Context, q sqlx.QueryerContext) error {
	for _, t := range Tables {
		var exists, held bool
		if err := sqlx.GetContext(ctx, q, &exists, `SELECT to_regclass($1) IS NOT NULL`, t); err != nil {
			return err
		}
		if !exists {
			continue
		}
		if err := sqlx.GetContext(ctx, q, &held, `SELECT EXISTS (SELECT FROM `+t+`)`); err != nil {
			return err
		}
		if held {
			return fmt.Errorf("table %s: %w: move into a schema that holds nothing yet (a new database.schema)", t, ErrNotEmpty)
		}
	}
	return nil
}

// Copy copies every table of src (an SQLite store, migrated to this
// build's version, no daemon serving it) into dst (a PostgreSQL schema
// migrated to this build's version, with no rows yet), appends an audit
// entry saying so in dst, and marks src moved (sqlite.MovedTarget), so
// that no duebell command opens it again. src's write lock is held from
// the first row read to the mark: a one-shot command (dispatch --once, a
// resend, an import) writing to the file meanwhile would have its work
// lost in PostgreSQL, and what it sent sent again from there; it waits,
// and fails as on a locked file. done, when set, is called after each table.
func Copy(ctx context.Context, src *sqlx.DB, dst *repo.Repo, from string, done func(Table)) ([]Table, error) {
	// A write transaction on src (the store begins every one IMMEDIATE):
	// the rows of every table are of one moment, and stay the last.
	stx, err := src.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("lock %s against writers: %w", from, err)
	}
	defer stx.Rollback()
	dtx, err := dst.DB().BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer dtx.Rollback()
	if err := checkEmpty(ctx, dtx); err != nil {
		return nil, err
	}
	moved := make([]Table, 0, len(Tables))
	for _, t := range Tables {
		n, err := copyTable(ctx, stx, dtx, t)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", t, err)
		}
		moved = append(moved, Table{Name: t, Rows: n})
		if done != nil {
			done(moved[len(moved)-1])
		}
	}
	detail := map[string]any{"from": from, "tables": moved}
	if err := dst.Audit(ctx, dtx, time.Time{}, "duebell", "store.moved", "store", detail); err != nil {
		return nil, err
	}
	mark, err := json.Marshal(map[string]any{"schema": dst.Schema(), "tables": moved})
	if err != nil {
		return nil, err
	}
	if _, err := stx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, 'duebell', 'store.moved', ?, ?)`,
		time.Now(), sqlite.MovedTarget, string(mark)); err != nil {
		return nil, fmt.Errorf("mark %s moved: %w", from, err)
	}
	if err := dtx.Commit(); err != nil {
		return nil, err
	}
	if err := stx.Commit(); err != nil {
		return moved, fmt.Errorf("the rows are in PostgreSQL, but %s could not be marked moved (%w): do not run duebell on it again", from, err)
	}
	// Fresh statistics for the planner: the tables went from empty to full
	// in one transaction, and autovacuum may be off.
	for _, t := range Tables {
		if _, err := dst.DB().ExecContext(ctx, `ANALYZE `+t); err != nil {
			return moved, fmt.Errorf("analyze %s: %w", t, err)
		}
	}
	return moved, nil
}

// copyTable copies table t's rows, in id order, and moves its id sequence
// past the highest id the file ever gave (AUTOINCREMENT's, which retention
// may have deleted since: ids keep increasing, as "newest first" pages rely
// on). The table's own triggers are off while the rows go in: they record
// opt-out history the copy brings anyway, and check links the file's
// foreign keys have kept.
func copyTable(ctx context.Context, src, dst *sqlx.Tx, t string) (int64, error) {
	var cols, dstCols []string
	if err := src.SelectContext(ctx, &cols, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, t); err != nil {
		return 0, err
	}
	if err := dst.SelectContext(ctx, &dstCols, `SELECT column_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, t); err != nil {
		return 0, err
	}
	if len(cols) == 0 {
		return 0, errors.New("not in the SQLite file: migrate it with this build first")
	}
	for _, c := range cols {
		if !slices.Contains(dstCols, c) {
			return 0, fmt.Errorf("column %s is not in PostgreSQL: migrate the schema with the build that made the file", c)
		}
	}
	if _, err := dst.ExecContext(ctx, `ALTER TABLE `+t+` DISABLE TRIGGER USER`); err != nil {
		return 0, err
	}
	n, err := copyRows(ctx, src, dst, t, cols)
	if err != nil {
		return 0, err
	}
	if _, err := dst.ExecContext(ctx, `ALTER TABLE `+t+` ENABLE TRIGGER USER`); err != nil {
		return 0, err
	}
	var got int64
	if err := dst.GetContext(ctx, &got, `SELECT count(*) FROM `+t); err != nil {
		return 0, err
	}
	if got != n {
		return 0, fmt.Errorf("read %d rows, PostgreSQL holds %d", n, got)
	}
	if !slices.Contains(cols, "id") {
		return n, nil
	}
	var last sql.NullInt64
	if err := src.GetContext(ctx, &last, `SELECT max(m) FROM (
		SELECT max(id) AS m FROM `+t+` UNION ALL SELECT seq FROM sqlite_sequence WHERE name = ?)`, t); err != nil {
		return 0, err
	}
	if last.Valid && last.Int64 > 0 {
		if _, err := dst.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, t, last.Int64); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// copyRows streams t's rows from src into a COPY on dst.
func copyRows(ctx context.Context, src, dst *sqlx.Tx, t string, cols []string) (int64, error) {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pq.QuoteIdentifier(c)
	}
	list := strings.Join(quoted, ", ")
	rows, err := src.QueryContext(ctx, `SELECT `+list+` FROM `+t+` ORDER BY rowid`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	stmt, err := dst.PrepareContext(ctx, `COPY `+t+` (`+list+`) FROM STDIN`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		for i, v := range vals {
			// Text SQLite hands over as bytes is text here too (lib/pq
			// would send []byte as bytea).
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return 0, fmt.Errorf("row %d: %w", n+1, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return 0, err
	}
	return n, stmt.Close()
}
