// Package repo holds every SQL statement duebell runs. Callers get one method
// per query; PostgreSQL specifics stay behind this API.
package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // also registers the "postgres" driver others open
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write contradicts what is stored.
var ErrConflict = errors.New("conflict")

// ErrStale is the conflict of a plan push whose as_of is older than what
// duebell already knows of the plan: a payment or reversal recorded since,
// or the as_of of the last push written. It wraps ErrConflict.
var ErrStale = fmt.Errorf("stale: %w", ErrConflict)

// DefaultSchema is the PostgreSQL schema duebell keeps its tables in.
const DefaultSchema = "duebell"

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Repo is the PostgreSQL store.
type Repo struct {
	Common // the statements both stores share
	db     *sqlx.DB
	schema string

	stmtMu sync.Mutex
	stmts  map[string]*sqlx.Stmt // see prepared
}

// checkIntervalParam is PostgreSQL's setting (14 and later) for how often a
// backend running a statement checks that its client is still connected.
// Without it, a statement whose client died (a daemon killed or cut off
// mid-scan) runs to its end: an orphaned digest scan was once seen running
// for 44 minutes. Open sets DefaultConnectionCheck unless database.url sets
// the parameter itself (0 turns the check off).
const checkIntervalParam = "client_connection_check_interval"

// DefaultConnectionCheck is the client check interval Open sets.
const DefaultConnectionCheck = "10s"

// idleTxParam is PostgreSQL's setting that ends a session left idle inside
// a transaction. A connection that went silent with a transaction open (a
// proxy whose backend stayed while the daemon's side went, a daemon cut
// off between two statements of an outcome write) kept its row and
// advisory locks for as long as the server saw the socket open: an audit
// saw another replica's rescue of the stalled one's notices wait on them,
// and the stalled replica's own writes and scans freeze behind them.
// duebell never leaves a transaction idle for long (its statements follow
// each other, an import's reads of its body stop after 10 s), so a minute
// frees the locks well before a lease runs out. database.url may set it.
const idleTxParam = "idle_in_transaction_session_timeout"

// DefaultIdleInTransaction is the idle-in-transaction timeout Open sets.
const DefaultIdleInTransaction = "60s"

// Open connects to PostgreSQL at url and uses schema for every table. The
// schema is set as the connection's search_path, so statements stay unqualified.
func Open(ctx context.Context, dbURL, schema string) (*Repo, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	switch {
	case len(schema) > 63:
		return nil, fmt.Errorf("database.schema %q: at most 63 characters (PostgreSQL's limit for a name)", schema)
	case !schemaName.MatchString(schema):
		return nil, fmt.Errorf("database.schema %q: use lower-case letters, digits and underscores", schema)
	case schema == "information_schema" || strings.HasPrefix(schema, "pg_"):
		return nil, fmt.Errorf("database.schema %q: a schema of PostgreSQL's own; choose another name", schema)
	}
	// The application name tells operators (and a test that cuts this
	// pool's connections) which daemon and schema a backend serves.
	params := [][2]string{{"search_path", schema}, {"fallback_application_name", "duebell/" + schema}}
	// Settings database.url may choose, and their values when it does not.
	defaults := [][2]string{{checkIntervalParam, DefaultConnectionCheck}, {idleTxParam, DefaultIdleInTransaction},
		{tcpUserTimeoutParam, DefaultTCPUserTimeout}}
	dsn, userTimeout := dbURL, DefaultTCPUserTimeout
	// A URL's scheme is case-insensitive (RFC 3986); lib/pq reads only a
	// lower-case one, and took POSTGRES://… for key=value pairs, quoting
	// it, password and all, in its error. url.Parse lowers it.
	if scheme, _, ok := strings.Cut(dbURL, "://"); ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql")) {
		u, err := url.Parse(dbURL)
		if err != nil {
			return nil, errors.New("database.url: not a valid URL") // url's error quotes it, password and all
		}
		q := u.Query()
		for _, p := range params {
			q.Set(p[0], p[1])
		}
		for _, p := range defaults {
			if !q.Has(p[0]) {
				q.Set(p[0], p[1])
			}
		}
		userTimeout = q.Get(tcpUserTimeoutParam)
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		for _, p := range params {
			dsn += " " + p[0] + "=" + p[1]
		}
		for _, p := range defaults {
			if !strings.Contains(dsn, p[0]) {
				dsn += " " + p[0] + "=" + p[1]
			}
		}
		if m := userTimeoutKV.FindStringSubmatch(dsn); m != nil {
			userTimeout = m[1]
		}
	}
	timeout, err := parseUserTimeout(userTimeout)
	if err != nil {
		return nil, err
	}
	pc, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pc.Dialer(newDialer(timeout))
	// Connections found dead after an outage are not reused (pool.go).
	// Columns a later release's migration added are ignored, not an error:
	// a replica whose binary is older than the schema keeps running while
	// the replicas are rolled (README, Production: Upgrade).
	db := sqlx.NewDb(sql.OpenDB(connector{Connector: pc, epoch: new(atomic.Int64)}), "postgres").Unsafe()
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect database: %w", err)
	}
	r := &Repo{db: db, schema: schema, stmts: map[string]*sqlx.Stmt{}}
	r.Common = NewCommon(db, r.withTx, Dialect{RecordReceipts: r.recordReceipts, AuditSQL: auditSQL})
	return r, nil
}

// prepared returns the queries prepared on the pool (database/sql prepares
// each on a connection the first time it runs there, and again after that
// connection is lost). The dispatcher's statements run thousands of times a
// minute: planning them anew each time was a tenth of PostgreSQL's CPU.
// Use it for those only, and outside a transaction (preparing takes a
// connection of its own); in one, run them with tx.StmtxContext.
func (r *Repo) prepared(ctx context.Context, queries ...string) ([]*sqlx.Stmt, error) {
	r.stmtMu.Lock()
	defer r.stmtMu.Unlock()
	out := make([]*sqlx.Stmt, len(queries))
	for i, q := range queries {
		s, ok := r.stmts[q]
		if !ok {
			var err error
			if s, err = r.db.PreparexContext(ctx, q); err != nil {
				return nil, fmt.Errorf("prepare: %w", err)
			}
			r.stmts[q] = s
		}
		out[i] = s
	}
	return out, nil
}

// forget drops the prepared statement of q, to be prepared afresh when next
// used: a migration changed the columns it returns (isStalePlan).
func (r *Repo) forget(q string) {
	r.stmtMu.Lock()
	defer r.stmtMu.Unlock()
	if s, ok := r.stmts[q]; ok {
		_ = s.Close()
		delete(r.stmts, q)
	}
}

// Close closes the pool.
func (r *Repo) Close() error { return r.db.Close() }

// Ping checks that the database answers. A pooled connection the server
// closed (a failover, pg_terminate_backend, an idle reaper) fails one ping
// and is dropped; the database answering on a new one is up. /readyz said
// 503 "driver: bad connection" once after each such close, on every replica
// at once (an audit).
func (r *Repo) Ping(ctx context.Context) error {
	err := r.db.PingContext(ctx)
	if err != nil && ctx.Err() == nil && IsUnavailable(err) {
		err = r.db.PingContext(ctx)
	}
	return err
}

// Schema is the schema the tables live in.
func (r *Repo) Schema() string { return r.schema }

// DB exposes the pool to sibling test helpers; application code uses methods.
func (r *Repo) DB() *sqlx.DB { return r.db }

// withTx runs fn in a transaction, committing when fn returns nil. Rollback
// uses a context that is not cancelled, so a cancelled caller still releases locks.
func (r *Repo) withTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return CommitError(ctx, tx.Commit())
}
