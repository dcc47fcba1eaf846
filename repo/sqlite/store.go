// Package sqlite is duebell's embedded store: one SQLite file, pure Go
// (modernc.org/sqlite, no cgo, no server), for a trial, a demo or a
// single-node install. It keeps every rule the PostgreSQL store keeps and
// returns the same repo types; the conformance suite (repo/storetest) runs
// the same behaviour against both. PostgreSQL stays the store for several
// replicas: a SQLite file serves one process at a time (see LockServe).
//
// Writes are serialized in the process (one writer at a time, as SQLite
// allows), so a write never waits on SQLite's busy handler; reads run
// beside them (WAL). Where the PostgreSQL store batches with unnest, ANY or
// SKIP LOCKED, this store loops inside one transaction.
package sqlite

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // the "sqlite" driver

	"duebell/repo"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Scheme is how a database.url names an embedded store: sqlite:PATH
// (relative to the working directory) or sqlite:///ABSOLUTE/PATH.
const Scheme = "sqlite:"

// IsURL reports whether dbURL names an embedded SQLite store.
func IsURL(dbURL string) bool { return strings.HasPrefix(dbURL, Scheme) }

// Path returns the file an sqlite: URL names.
func Path(dbURL string) (string, error) {
	if !IsURL(dbURL) {
		return "", fmt.Errorf("database.url: want sqlite:PATH")
	}
	p := strings.TrimPrefix(strings.TrimPrefix(dbURL, Scheme), "//")
	switch {
	case p == "" || strings.HasPrefix(p, ":memory:"):
		return "", fmt.Errorf("database.url %q: name a file, as in sqlite:duebell.db (an in-memory database would vanish with the process)", dbURL)
	case strings.ContainsAny(p, "?#\x00"):
		return "", fmt.Errorf("database.url %q: the file name may not contain ? or #", dbURL)
	}
	return p, nil
}

// MustExist fails, saying what to do, when the file dbURL names does not
// exist: for every command but those that create a store, a missing file
// is a mistyped database.url, not a store to start.
func MustExist(dbURL string) error {
	path, err := Path(dbURL)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("database %s does not exist: correct database.url, or create the store there with `duebell migrate` (or `serve --migrate`)", path)
	}
	return nil
}

// Store is the SQLite store.
type Store struct {
	repo.Common // the statements both stores share
	db          *sqlx.DB
	path        string
	file        os.FileInfo // the file at path when opened (see Ping)

	write writeLock // one writer at a time; see withTx
	lock  *os.File  // held by LockServe until Close

	// damage is the first error that said the file is damaged
	// (repo.IsDamaged) met by a write; Ping reports it from then on.
	damage atomic.Pointer[error]
}

// Open opens (creating when missing) the SQLite file dbURL names.
func Open(ctx context.Context, dbURL string) (*Store, error) {
	path, err := Path(dbURL)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// Every write transaction takes the write lock when it begins, so two
	// never deadlock upgrading a read lock; instants go in as Unix
	// microseconds and TIMESTAMP columns come back as time.Time.
	q.Set("_txlock", "immediate")
	q.Set("_time_integer_format", "unix_micro")
	q.Set("_inttotime", "1")
	db, err := sqlx.Open("sqlite", fileURI(path, q))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Columns a later release's migration added are ignored, not an error
	// (a binary put back after an upgrade keeps running), as on PostgreSQL.
	db = db.Unsafe()
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, openError(path, err)
	}
	file, err := os.Stat(path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	s := &Store{db: db, path: path, file: file, write: newWriteLock()}
	s.Common = repo.NewCommon(db, s.withTx, repo.Dialect{RecordReceipts: recordReceipts, AuditSQL: auditSQL})
	if err := s.checkMoved(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// fileURI is the driver's file: URI for path with the query q. A file: URI
// decodes %XX: the file's own name goes in with its % escaped, or "p%41"
// would open "pA", another file than the one the serve lock, the messages
// and the disk check name.
func fileURI(path string, q url.Values) string {
	return "file:" + strings.ReplaceAll(path, "%", "%25") + "?" + q.Encode()
}

// OpenReadOnly opens the SQLite file at path for reading only, creating
// and writing nothing (Open writes even an empty file: its WAL header), to
// look at a file before it is taken for a store.
func OpenReadOnly(path string) (*sqlx.DB, error) {
	return sqlx.Open("sqlite", fileURI(path, url.Values{"mode": {"ro"}}))
}

// MovedTarget is the audit_log target of the entry `duebell move` leaves in
// a file it copied into PostgreSQL. A file that has it is not opened
// again: everything in it is in PostgreSQL now, and a command run on it by
// habit or from cron (dispatch --once, resend) would send what PostgreSQL
// sends, or write what PostgreSQL never sees.
const MovedTarget = "store:moved"

// ErrMoved is returned by Open for a file `duebell move` copied into
// PostgreSQL.
var ErrMoved = errors.New("moved to PostgreSQL")

// begin begins a write transaction (IMMEDIATE: the file's write lock is
// taken here) on a file not moved meanwhile: a command that waited for the
// lock while `duebell move` held it must not write what PostgreSQL will
// never see, nor claim what PostgreSQL sends.
func (s *Store) begin(ctx context.Context) (*sqlx.Tx, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := s.checkMoved(ctx, tx); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// checkMoved refuses a file that was moved to PostgreSQL, saying where.
func (s *Store) checkMoved(ctx context.Context, q sqlx.QueryerContext) error {
	var m struct {
		At     time.Time `db:"at"`
		Detail string    `db:"detail"`
	}
	err := sqlx.GetContext(ctx, q, &m, `SELECT at, detail FROM audit_log WHERE target = ? ORDER BY id DESC LIMIT 1`, MovedTarget)
	if err != nil {
		return nil // none (or no tables yet: a new file); what else is wrong, the statements that follow say
	}
	var to struct {
		Schema string `json:"schema"`
	}
	_ = json.Unmarshal([]byte(m.Detail), &to)
	return fmt.Errorf("database %s: %w (schema %q) by duebell move at %s: run duebell with the PostgreSQL config; "+
		"this file is kept for the record only (README: Stores)", s.path, ErrMoved, to.Schema, m.At.UTC().Format(time.RFC3339))
}

// ErrInUse is returned by LockServe when another process serves the file.
var ErrInUse = errors.New("in use by another duebell process")

// LockServe takes an exclusive lock on the database file for as long as the
// store is open, so that a second daemon on the same file refuses to start
// instead of sending beside the first. SQLite is single-node: several
// replicas need PostgreSQL. It also refuses a file this process cannot
// write (SQLite opens it for reading): a daemon on it would fail every
// claim, scan and push; and a damaged file (checkIntact), which a daemon
// would serve until a write met a damaged page.
func (s *Store) LockServe() error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	if err := s.checkIntact(); err != nil {
		return err
	}
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("lock %s: %w", s.path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("database %s: %w (SQLite is single-node: stop the other one, or move to PostgreSQL to run several replicas)", s.path, ErrInUse)
		}
		return fmt.Errorf("lock %s: %w", s.path, err)
	}
	s.lock = f
	return nil
}

// checkIntact reads the whole file with PRAGMA quick_check (every page,
// without comparing indexes against their tables: 0.13 s for a 47 MB
// file): a damaged page is found before the daemon serves, and the store
// stays refused, as a write that met the damage would leave it (damaged).
func (s *Store) checkIntact() error {
	var problems []string
	if err := s.db.Select(&problems, `PRAGMA quick_check(5)`); err != nil {
		if err = s.noteDamage(err); repo.IsDamaged(err) { // a page too damaged to check
			return err
		}
		return fmt.Errorf("database %s: check: %w", s.path, err)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		return nil
	}
	return s.noteDamage(corruptError(strings.Join(strings.Fields(strings.Join(problems, "; ")), " ")))
}

// corruptError is the damage PRAGMA quick_check found, with the code SQLite
// gives a damaged page it meets (SQLITE_CORRUPT), so that repo.IsDamaged
// knows it.
type corruptError string

func (e corruptError) Error() string { return "quick_check: " + string(e) }
func (corruptError) Code() int       { return 11 }

// checkWritable writes a row as it is and rolls the write back: on a file
// SQLite could open only for reading it fails with SQLITE_READONLY. Any
// other error (the lock busy, no table yet) is left to the daemon's own
// statements.
func (s *Store) checkWritable() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err == nil {
		// A page written and rolled back: SQLite finds a read-only file
		// when it first writes, not when the transaction begins.
		_, err = tx.ExecContext(ctx, `UPDATE schema_migrations SET version = version
			WHERE version = (SELECT max(version) FROM schema_migrations)`)
		_ = tx.Rollback()
		if err == nil {
			return nil
		}
	}
	if code := sqliteCode(err); code == sqliteReadOnly || code == sqliteCantOpen {
		return openError(s.path, err)
	}
	return nil
}

// SQLite's primary result codes that say the file or its directory is out
// of reach.
const (
	sqliteReadOnly = 8  // SQLITE_READONLY (and _DIRECTORY: no journal there)
	sqliteCantOpen = 14 // SQLITE_CANTOPEN
)

// sqliteCode is err's primary SQLite result code, 0 when it has none.
func sqliteCode(err error) int {
	var coded interface{ Code() int } // modernc.org/sqlite's *Error
	if errors.As(err, &coded) {
		return coded.Code() & 0xff
	}
	return 0
}

// openError says what to fix when the file at path cannot be opened or
// written: a missing directory, or the owner and mode of the file and of
// its directory (SQLite writes its journal beside the file).
func openError(path string, err error) error {
	if code := sqliteCode(err); code == sqliteReadOnly || code == sqliteCantOpen {
		dir := filepath.Dir(path)
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("database %s: directory %s does not exist: create it, or correct database.url", path, dir)
		}
		verb := "opened"
		if code == sqliteReadOnly {
			verb = "written"
		}
		return fmt.Errorf("database %s: cannot be %s (%v): check the owner and mode of the file and of its directory", path, verb, err)
	}
	return fmt.Errorf("open database %s: %w", path, err)
}

// Close closes the pool, then releases the serve lock. The daemon's store
// (the one holding the serve lock) first copies the WAL into the file and
// empties it: SQLite does that itself when the last connection closes, but
// not while another process still has the file open (a support command, a
// sqlite3 shell), and a stopped daemon's file copied without its -wal
// then lacked what the WAL held (README: back up by copying the file while
// the daemon is stopped).
func (s *Store) Close() error {
	if s.lock != nil {
		ctx, cancel := context.WithTimeout(context.Background(), lockWait)
		_, _ = s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`) // best effort: a reader may hold it back
		cancel()
	}
	err := s.db.Close()
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	return err
}

// MinFreeBytes is the free space under which Ping reports the store not
// ready: a little more than what a claim, a scan or an import's chunk
// writes to the file and its WAL. Below it writes soon fail (SQLITE_FULL,
// answered 503 as an outage), and /readyz says so first.
const MinFreeBytes = 16 << 20

// Ping checks that the file answers, that no write found it damaged (a
// damaged page answers only the reads that miss it), and that its
// filesystem has room to grow (MinFreeBytes): a store on a full disk
// answers reads but refuses every write. A file removed or replaced while
// open is not ready either: what is written to it is lost at the stop, and
// a restart opens the other (or none).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return err
	}
	if now, err := os.Stat(s.path); err != nil || !os.SameFile(now, s.file) {
		return fmt.Errorf("database %s: the file was removed or replaced while duebell had it open: what it writes "+
			"now is lost when it stops; restore the file and restart duebell", s.path)
	}
	if err := s.damaged(); err != nil {
		return err
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(s.path), &fs); err != nil {
		return fmt.Errorf("database %s: free space: %w", s.path, err)
	}
	if free := fs.Bavail * uint64(fs.Bsize); free < MinFreeBytes {
		return fmt.Errorf("database %s: disk nearly full: %d KB free, under %d MB; writes will fail until space is freed",
			s.path, free>>10, MinFreeBytes>>20)
	}
	return nil
}

// Schema names where the tables live: the file.
func (s *Store) Schema() string { return s.path }

// DB exposes the pool to test helpers; application code uses methods.
func (s *Store) DB() *sqlx.DB { return s.db }

// lockWait is how long a writer waits for the store's write lock, as
// busy_timeout has one in another process wait for the file's.
const lockWait = 10 * time.Second

// writeLock lets one writer of the process in at a time. A writer that
// waits longer than lockWait (behind an all-or-nothing import, say) gets
// errLockWait, an outage: the API answers 503 with Retry-After, the
// dispatcher and scans pause, as after SQLITE_BUSY from another process.
type writeLock struct {
	ch   chan struct{}
	wait time.Duration // lockWait; tests shorten it
}

func newWriteLock() writeLock { return writeLock{ch: make(chan struct{}, 1), wait: lockWait} }

func (l *writeLock) lock(ctx context.Context) error {
	select {
	case l.ch <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errLockWait{l.wait}
	}
}

func (l *writeLock) unlock() { <-l.ch }

// errLockWait is a write that waited too long for the write lock. Its
// Code is SQLITE_BUSY's, which repo.IsUnavailable reads as an outage.
type errLockWait struct{ waited time.Duration }

func (e errLockWait) Error() string {
	return fmt.Sprintf("database is locked: waited over %s to write (a long write holds the file: an import, a scan, "+
		"another process on it)", e.waited)
}

func (errLockWait) Code() int { return 5 } // SQLITE_BUSY

// withTx runs fn in a write transaction, committing when fn returns nil.
// Writers queue on the store's write lock rather than on SQLite's busy
// handler; inside fn use tx only (the pool would wait for the lock fn
// holds).
func (s *Store) withTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if err := s.damaged(); err != nil {
		// Found damaged: what is written now would be lost with the file
		// when it is restored from a backup, or land beside a bad page.
		return err
	}
	if err := s.write.lock(ctx); err != nil {
		return err
	}
	defer s.write.unlock()
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return s.noteDamage(err)
	}
	return s.noteDamage(repo.CommitError(ctx, tx.Commit()))
}

// damaged is the error of a store found damaged (by a write, or by
// LockServe's check), nil while it is not: it wraps what found it, so it
// is repo.IsDamaged, an outage to callers (503).
func (s *Store) damaged() error {
	if err := s.damage.Load(); err != nil {
		return fmt.Errorf("database %s is damaged (%w): stop duebell, restore the file from a backup "+
			"(or recover what it holds with sqlite3's .recover) and start again", s.path, *err)
	}
	return nil
}

// noteDamage remembers err when it says the file is damaged, and returns
// it: as damaged() words it when it does.
func (s *Store) noteDamage(err error) error {
	if repo.IsDamaged(err) {
		s.damage.CompareAndSwap(nil, &err)
		return s.damaged() // with the file's name and what to do
	}
	return err
}

// PendingMigrations returns the migrations not yet applied to the file.
func (s *Store) PendingMigrations(ctx context.Context) ([]repo.Migration, error) {
	all, done, err := s.migrations(ctx)
	return repo.Pending(all, done), err
}

// NewerMigrations returns the versions applied to the file that this build
// does not know: a later release migrated it.
func (s *Store) NewerMigrations(ctx context.Context) ([]int, error) {
	all, done, err := s.migrations(ctx)
	return repo.Newer(all, done), err
}

// migrations returns the migrations this build embeds and the versions
// applied to the file (none before its first migrate).
func (s *Store) migrations(ctx context.Context) (all []repo.Migration, done []int, err error) {
	if all, err = repo.ReadMigrations(migrationFS); err != nil {
		return nil, nil, err
	}
	var exists bool
	if err := s.db.GetContext(ctx, &exists,
		`SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`); err != nil {
		return nil, nil, fmt.Errorf("check migrations table: %w", err)
	}
	if !exists {
		return all, nil, nil
	}
	if err := s.db.SelectContext(ctx, &done, `SELECT version FROM schema_migrations`); err != nil {
		return nil, nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return all, done, nil
}

// Migrate applies every pending migration, each in its own transaction, and
// returns their names.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	if err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL,
			applied_at TIMESTAMP NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)))`)
		return err
	}); err != nil {
		return nil, fmt.Errorf("migrate: create version table: %w", err)
	}
	pending, err := s.PendingMigrations(ctx)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range pending {
		if err := s.withTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.Version, m.Name)
			return err
		}); err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}
