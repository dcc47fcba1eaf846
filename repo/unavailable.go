package repo

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/lib/pq"
)

// IsUnavailable reports whether err says the database could not be reached
// or dropped the connection, rather than refused the statement: the server
// is down, restarting or out of connections, the network to it is lost, or
// the store is closed (a daemon shutting down). The same request may
// succeed later; callers answer "retry later", not "failed". A network
// error counts only when dialling (a read error may be the HTTP client's).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var opErr *net.OpError
	var pqErr *pq.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return true
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return true
	case errors.As(err, &pqErr):
		// Class 08: connection exception; 57P01-03: the server is shutting
		// down, crashed or is starting; 53300: too many connections.
		return pqErr.Code.Class() == "08" || pqErr.Code == "57P01" || pqErr.Code == "57P02" ||
			pqErr.Code == "57P03" || pqErr.Code == "53300"
	}
	// database/sql does not export the error of a closed pool.
	return strings.Contains(err.Error(), "sql: database is closed")
}
