package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Common holds the statements PostgreSQL and SQLite read alike, so each is
// written once: both stores embed it (Repo here, sqlite.Store), and its
// methods are theirs. Reads run on the store's pool; writes go through the
// store's own transaction runner (SQLite serializes its writers there).
type Common struct {
	db     *sqlx.DB
	withTx func(ctx context.Context, fn func(tx *sqlx.Tx) error) error
	d      Dialect
}

// Dialect is what a store says its own way inside a method Common runs.
type Dialect struct {
	// RecordReceipts stores receipts ins, received at now, in tx and applies
	// each to the notice it matches, leaving what it did to each in the
	// same place of res; the receipts are valid and a chunk of a batch (see
	// RecordReceipts). It keeps the rules RecordReceipts states: PostgreSQL
	// does so set-based, SQLite one receipt at a time.
	RecordReceipts func(ctx context.Context, tx *sqlx.Tx, ins []Receipt, now time.Time, res []ReceiptResult) error
	// AuditSQL appends an audit_log row: $1 when (NULL: the database's
	// clock), $2 actor, $3 action, $4 target, $5 the detail as JSON text.
	AuditSQL string
}

// NewCommon is the shared statements over a store's pool, its transaction
// runner and its dialect.
func NewCommon(db *sqlx.DB, withTx func(ctx context.Context, fn func(tx *sqlx.Tx) error) error, d Dialect) Common {
	return Common{db: db, withTx: withTx, d: d}
}

// NotFound turns sql.ErrNoRows into ErrNotFound naming what was looked up,
// and wraps any other error with it: the error both stores return.
func NotFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
