package cli

import (
	"context"
	"duebell/config"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"duebell/repo"
	"duebell/repo/move"
	"duebell/repo/sqlite"
)

// runMove copies an embedded SQLite store into the PostgreSQL schema the
// config names, whole (README, Stores: moving to PostgreSQL).
func runMove(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("move", &c)
	from := fs.String("from", "", "the SQLite store to move: sqlite:PATH, as its database.url said")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !sqlite.IsURL(*from) {
		return fmt.Errorf("%w: --from: want the SQLite store's database.url, as in --from sqlite:duebell.db", errUsage)
	}
	a, err := loadWith(config.LoadDatabase, c.config)
	if err != nil {
		return err
	}
	if sqlite.IsURL(a.cfg.Database.URL) {
		return fmt.Errorf("%w: database.url is an SQLite file; move copies into PostgreSQL: give a config whose database.url is the PostgreSQL server", errUsage)
	}
	src, err := openMoveSource(ctx, *from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := repo.Open(ctx, a.cfg.Database.URL, a.cfg.Database.Schema)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := move.CheckTarget(ctx, dst); err != nil {
		return notEmpty(dst, err)
	}
	applied, err := dst.Migrate(ctx)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintf(out, "applied %s to schema %q\n", m, dst.Schema())
	}
	start := time.Now()
	tables, err := move.Copy(ctx, src.DB(), dst, src.Schema(), func(t move.Table) {
		fmt.Fprintf(out, "  %-25s %d rows\n", t.Name, t.Rows)
	})
	if errors.Is(err, move.ErrNotEmpty) {
		return notEmpty(dst, err)
	}
	if err != nil {
		return fmt.Errorf("move %s to schema %q: %w (nothing was written to PostgreSQL)", src.Schema(), dst.Schema(), err)
	}
	var rows int64
	for _, t := range tables {
		rows += t.Rows
	}
	fmt.Fprintf(out, "moved %s to schema %q: %d rows in %d tables, %.1f s\n"+
		"Serve from this config from now on; the file is marked moved, and duebell refuses it.\n",
		src.Schema(), dst.Schema(), rows, len(tables), time.Since(start).Seconds())
	return nil
}

// openMoveSource opens the SQLite store at url for a move: it must exist
// (opening would otherwise create an empty one) and be a duebell store
// (nothing is written to another file), no daemon may serve it (the serve
// lock: rows it sent during the move would be sent again), and its tables
// are brought to this build's version first, as serve --migrate would.
func openMoveSource(ctx context.Context, url string) (*sqlite.Store, error) {
	path, err := sqlite.Path(url)
	if err != nil {
		return nil, fmt.Errorf("%w: --from: %w", errUsage, err)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--from: %s does not exist", path)
	}
	if err := move.CheckSource(ctx, path); err != nil {
		return nil, fmt.Errorf("--from %s: %w", path, err)
	}
	s, err := sqlite.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := s.LockServe(); err != nil {
		s.Close()
		if errors.Is(err, sqlite.ErrInUse) { // not LockServe's hint, to move to PostgreSQL: that is what this does
			return nil, fmt.Errorf("--from %s: %w: stop the daemon serving it (and any dispatch --once from cron), then move", path, sqlite.ErrInUse)
		}
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// notEmpty is the usage error of a move into a schema that holds a book.
func notEmpty(dst *repo.Repo, err error) error {
	if errors.Is(err, move.ErrNotEmpty) {
		return fmt.Errorf("%w: schema %q: %w", errUsage, dst.Schema(), err)
	}
	return err
}
