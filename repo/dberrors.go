package repo

// How the stores' errors are told apart: a database that is away (retry
// later) from one that refused what it was given (retrying changes nothing).

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/lib/pq"
)

// RetryAfter is how long a caller told of an outage (IsUnavailable) is
// asked to wait before trying again (HTTP Retry-After): long enough for a
// restart or a failover, short enough that a provider's receipt or a
// borrower's link check is not held up for long.
const RetryAfter = 30 * time.Second

// IsUnavailable reports whether err says the database could not be reached
// or dropped the connection, rather than refused the statement: the server
// is down, restarting or out of connections, the network to it is lost, its
// disk is full, an SQLite file is locked by another process past the busy
// timeout, the store is closed (a daemon shutting down), or its files are
// damaged (IsDamaged: nothing is stored until an operator restores them). The same request may
// succeed later; callers answer "retry later", not "failed". Any network
// error counts, and an EOF: a proxy or load balancer in front of a server
// that is down accepts the connection and closes it at once, and the
// driver returns the read's error (reset, EOF) from the connection's
// startup. A statement that got no answer by its deadline
// (context.DeadlineExceeded: a database that stopped answering, its
// connections still open) counts too. It is for errors of a store's calls: a caller that also reads
// from elsewhere (a request body) tells those errors apart itself.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var opErr *net.OpError
	var pqErr *pq.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &opErr),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &pqErr):
		// Class 08: connection exception; 57P01-03: the server is shutting
		// down, crashed or is starting; 53300: too many connections; 53100:
		// its disk is full; 57014: the statement was cancelled, as lib/pq
		// has the server do when the statement's deadline runs out (it
		// waited on locks a silent connection's transaction held, say).
		return pqErr.Code.Class() == "08" || pqErr.Code == "57P01" || pqErr.Code == "57P02" ||
			pqErr.Code == "57P03" || pqErr.Code == "53300" || pqErr.Code == "53100" || pqErr.Code == "57014"
	}
	// SQLite: another process held the file's lock past the busy timeout
	// (an all-or-nothing import, a shell left in a transaction), or the
	// disk is full.
	var coded interface{ Code() int } // modernc.org/sqlite's *Error
	if errors.As(err, &coded) {
		const busy, locked, full = 5, 6, 13 // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL
		if c := coded.Code() & 0xff; c == busy || c == locked || c == full {
			return true
		}
	}
	if IsDamaged(err) {
		return true
	}
	// database/sql does not export the error of a closed pool.
	return strings.Contains(err.Error(), "sql: database is closed")
}

// IsDamaged reports whether err says the database's own files are damaged:
// SQLite's "database disk image is malformed" (SQLITE_CORRUPT) and "file is
// not a database" (SQLITE_NOTADB), PostgreSQL's data_corrupted and
// index_corrupted (XX001, XX002). It is an outage to callers (IsUnavailable):
// what they asked is refused now and may succeed once an operator has
// restored the database from a backup or rebuilt the index.
func IsDamaged(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "XX001" || pe.Code == "XX002"
	}
	var coded interface{ Code() int } // modernc.org/sqlite's *Error
	if errors.As(err, &coded) {
		const corrupt, notADB = 11, 26 // SQLITE_CORRUPT, SQLITE_NOTADB
		c := coded.Code() & 0xff
		return c == corrupt || c == notADB
	}
	return false
}

// IsDataError reports whether the database refused a statement for the data
// it carried (PostgreSQL SQLSTATE classes 22, a data exception, and 23, an
// integrity constraint violation; SQLite's constraint, type mismatch and
// too-big errors) rather than because it could not run it (an outage, a
// timeout): the same write would be refused again, however often it is
// retried.
func IsDataError(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		class := pe.Code.Class()
		return class == "22" || class == "23"
	}
	var coded interface{ Code() int } // modernc.org/sqlite's *Error
	if errors.As(err, &coded) {
		const tooBig, constraint, mismatch = 18, 19, 20 // SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH
		switch coded.Code() & 0xff {                    // the primary result code of an extended one
		case tooBig, constraint, mismatch:
			return true
		}
	}
	return false
}

// isStalePlan reports whether err says a prepared statement returns other
// columns than when it was prepared: a migration added or changed a column
// (a later release's, run while this binary serves). PostgreSQL refuses to
// run the statement on that connection again, before it changes anything;
// prepared afresh, it runs.
func isStalePlan(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "0A000" && strings.Contains(pe.Message, "cached plan must not change result type")
}

// CommitError is the error of committing tx, begun on ctx: when ctx ended
// first, database/sql has rolled the transaction back and says only that
// it is done (sql.ErrTxDone), which reads like a bug; it is ctx's error,
// an outage when a deadline ran out (IsUnavailable).
func CommitError(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
