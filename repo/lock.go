package repo

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/jmoiron/sqlx"
)

// advisoryKey maps a name to a PostgreSQL advisory lock key.
func advisoryKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// LockKey is the PostgreSQL advisory lock key that a scan or cleaner named
// name ("scan:due", "scan:events", "retention") takes in this schema; an
// operator can see it in pg_locks (classid, objid are its halves).
func (r *Repo) LockKey(name string) int64 { return advisoryKey(r.schema + ":" + name) }

// tryXactLock takes a transaction-scoped advisory lock named name within
// this schema, reporting false (without waiting) when another session holds
// it. Scans use it so that only one replica runs a given scan at a time.
func (r *Repo) tryXactLock(ctx context.Context, tx *sqlx.Tx, name string) (bool, error) {
	var ok bool
	if err := tx.GetContext(ctx, &ok, `SELECT pg_try_advisory_xact_lock($1)`, r.LockKey(name)); err != nil {
		return false, fmt.Errorf("advisory lock %s: %w", name, err)
	}
	return ok, nil
}
