package repo

// The pool after an outage. lib/pq learns that a connection is dead only
// when it next uses it, and database/sql tries the statement again on
// another connection only when the driver says ErrBadConn. A connection
// the database closed (a restart, a failover, pg_terminate_backend) or a
// network reset often fails otherwise: the statement is sent, and the
// answer is a reset ("connection reset by peer"), which lib/pq returns as
// it is. After an outage each dead idle connection failed the statement
// that drew it, one after another, long after the database was back: a
// dispatcher paused and resumed once per pooled connection.
//
// So the first connection found dead, or the first that cannot be opened
// for an outage, marks every connection opened before it stale, as an
// outage kills them all. A stale connection is not handed out again:
// database/sql asks it to reset its session before reuse, it answers
// ErrBadConn, and database/sql closes it and takes another (a new one at
// the third try). Nothing is closed from inside database/sql's locks (as
// SetMaxIdleConns(0) from these hooks would), no statement races a flush,
// and none is failed for it. A stale idle connection the pool does not
// hand out again stays open until the pool closes it, as it would have.

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// connector opens lib/pq connections that tell when they are found dead.
type connector struct {
	*pq.Connector
	// epoch counts the outages seen (a connection found dead, or one that
	// could not be opened): one opened in an earlier epoch is stale.
	epoch *atomic.Int64
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	var raw net.Conn
	cn, err := c.Connector.Connect(context.WithValue(ctx, dialedKey{}, &raw))
	if err != nil {
		if serverLost(err) {
			e := c.epoch.Load()
			c.epoch.CompareAndSwap(e, e+1)
		}
		return nil, err
	}
	pc, ok := cn.(pqConn)
	if !ok {
		_ = cn.Close()
		return nil, fmt.Errorf("lib/pq connection is a %T, without the methods database/sql uses", cn)
	}
	return &watchedConn{pqConn: pc, epoch: c.epoch, born: c.epoch.Load(), raw: raw}, nil
}

// serverLost says whether a connection could not be opened because the
// server or the way to it is gone (refused, reset, a restart): then the
// pooled connections are most likely dead too. Not when the server answered
// that it has no connection left (53300): those it has are alive, and
// dropping them would only ask for more.
func serverLost(err error) bool {
	var pqErr *pq.Error
	return IsUnavailable(err) && !(errors.As(err, &pqErr) && pqErr.Code == "53300")
}

// pqConn is what lib/pq's connection implements and database/sql uses.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// watchedConn is a lib/pq connection of one epoch.
type watchedConn struct {
	pqConn
	epoch *atomic.Int64
	born  int64    // the epoch it was opened in
	raw   net.Conn // its socket (nil if the dial was not seen): see arm
}

// cancelGrace is how long past its context's deadline a statement may wait
// for its answer before its socket stops waiting (see arm).
const cancelGrace = 5 * time.Second

// arm bounds every read on the connection until the next call by ctx's
// deadline plus cancelGrace (none without a deadline). When a context
// ends, lib/pq asks the server to cancel the statement over a new
// connection and goes on waiting on this one; a server that stopped
// answering with the connection open (a hung server, a proxy whose backend
// went away in a failover; TCP_USER_TIMEOUT does not fire, the other end
// acknowledges) never answers either, and the statement, its transaction's
// commit and the rows it returns waited for minutes: a dispatcher's outcome
// writes and the leases it kept renewing on other connections froze its
// claim, unrescued. A read past the deadline fails as a network error: the
// connection is dropped and the caller sees an outage (IsUnavailable).
// The bound stays set after the call returns, so the rows it returns and a
// commit (which lib/pq runs without a context) are bounded too.
func (c *watchedConn) arm(ctx context.Context) {
	if c.raw == nil {
		return
	}
	var at time.Time
	if d, ok := ctx.Deadline(); ok {
		at = d.Add(cancelGrace)
	}
	_ = c.raw.SetReadDeadline(at)
}

func (c *watchedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.arm(ctx)
	return c.pqConn.ExecContext(ctx, query, args)
}

func (c *watchedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.arm(ctx)
	return c.pqConn.QueryContext(ctx, query, args)
}

func (c *watchedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.arm(ctx)
	return c.pqConn.BeginTx(ctx, opts)
}

func (c *watchedConn) Ping(ctx context.Context) error {
	c.arm(ctx)
	return c.pqConn.Ping(ctx)
}

func (c *watchedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.arm(ctx)
	return c.armed(c.pqConn.PrepareContext(ctx, query))
}

// Prepare is used through database/sql's Conn.Raw (the importer's COPY),
// with no context: unbounded.
func (c *watchedConn) Prepare(query string) (driver.Stmt, error) {
	c.arm(context.Background())
	return c.armed(c.pqConn.Prepare(query))
}

// pqStmt is what lib/pq's prepared statement implements.
type pqStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// armedStmt is a prepared statement whose calls arm its connection.
type armedStmt struct {
	pqStmt
	c *watchedConn
}

func (c *watchedConn) armed(st driver.Stmt, err error) (driver.Stmt, error) {
	if ps, ok := st.(pqStmt); ok && err == nil {
		return armedStmt{pqStmt: ps, c: c}, nil
	}
	return st, err
}

func (s armedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.arm(ctx)
	return s.pqStmt.ExecContext(ctx, args)
}

func (s armedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.arm(ctx)
	return s.pqStmt.QueryContext(ctx, args)
}

var _ pqConn = (*watchedConn)(nil)

// stale says whether a connection was found dead since this one opened.
func (c *watchedConn) stale() bool { return c.born < c.epoch.Load() }

// checkDead starts a new epoch when lib/pq marked this connection unusable
// because the database or the network is gone (not because a statement on
// it was cancelled, which also ends it) and it is of the current epoch: a
// stale one found dead is the outage already counted.
func (c *watchedConn) checkDead() {
	// lib/pq's ResetSession returns the error that made the connection
	// unusable, and nothing else.
	if err := c.pqConn.ResetSession(context.Background()); err != nil && IsUnavailable(err) {
		c.epoch.CompareAndSwap(c.born, c.born+1)
	}
}

// ResetSession is called before the pool hands the connection out again:
// a stale one is refused, and database/sql takes another.
func (c *watchedConn) ResetSession(ctx context.Context) error {
	if c.stale() {
		return driver.ErrBadConn
	}
	return c.pqConn.ResetSession(ctx)
}

// IsValid is asked when the connection comes back to the pool: a dead one
// starts a new epoch; a stale one is not kept.
func (c *watchedConn) IsValid() bool {
	if !c.pqConn.IsValid() {
		c.checkDead()
		return false
	}
	return !c.stale()
}

// Close is called, among others, on a connection whose statement failed
// with ErrBadConn (database/sql does not ask IsValid then).
func (c *watchedConn) Close() error {
	if !c.pqConn.IsValid() {
		c.checkDead()
	}
	return c.pqConn.Close()
}
