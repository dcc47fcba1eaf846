package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Common holds the statements PostgreSQL and SQLite read alike, so each is
// written once: both stores embed it (Repo here, sqlite.Store), and its
// methods are theirs. Reads run on the store's pool; writes go through the
// store's own transaction runner (SQLite serializes its writers there).
type Common struct {
	db     *sqlx.DB
	withTx func(ctx context.Context, fn func(tx *sqlx.Tx) error) error
}

// NewCommon is the shared statements over a store's pool and its
// transaction runner.
func NewCommon(db *sqlx.DB, withTx func(ctx context.Context, fn func(tx *sqlx.Tx) error) error) Common {
	return Common{db: db, withTx: withTx}
}

// NotFound turns sql.ErrNoRows into ErrNotFound naming what was looked up,
// and wraps any other error with it: the error both stores return.
func NotFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
