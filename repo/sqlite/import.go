package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/repo"
)

// importTx is the SQLite import transaction: one batch (one commit per
// chunk) or every batch of an all-or-nothing import. It holds the store's
// write lock from BeginImport to Commit or Rollback, as withTx does for one
// call: the transaction owns the file, so the lines are decided on one read
// without the row locks the PostgreSQL importer takes, and other writers
// (another chunk among them) wait for it.
type importTx struct {
	s       *Store
	tx      *sqlx.Tx
	confirm []string // channels of payment_received, as with RecordPayment
	release sync.Once
}

// RefreshImportStats does nothing: writers are serialized, so the import's
// own ANALYZE (importTx.Analyze) never runs beside another chunk not yet
// committed, which on PostgreSQL could leave the statistics empty.
func (s *Store) RefreshImportStats(context.Context) error { return nil }

// BeginImport starts an import transaction; it waits for the write lock.
func (s *Store) BeginImport(ctx context.Context, confirmChannels []string) (repo.ImportTx, error) {
	for _, ch := range confirmChannels {
		if ch != "sms" && ch != "email" {
			return nil, fmt.Errorf("import: unknown confirm channel %q", ch)
		}
	}
	if err := s.damaged(); err != nil { // as withTx: nothing is written to a damaged file
		return nil, err
	}
	if err := s.write.lock(ctx); err != nil {
		return nil, fmt.Errorf("begin import: %w", err)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		s.write.unlock()
		return nil, fmt.Errorf("begin import: %w", err)
	}
	return &importTx{s: s, tx: tx, confirm: confirmChannels}, nil
}

func (t *importTx) unlock() { t.release.Do(t.s.write.unlock) }

// Commit commits the import transaction and lets the next writer in.
func (t *importTx) Commit() error {
	err := t.tx.Commit()
	t.unlock()
	if err != nil {
		return t.s.noteDamage(fmt.Errorf("commit import: %w", err))
	}
	return nil
}

// Rollback discards the import transaction (a dry run, a refused atomic
// import, or an error) and lets the next writer in; after Commit it does
// nothing.
func (t *importTx) Rollback() error {
	err := t.tx.Rollback()
	t.unlock()
	return err
}

// Apply writes b at now and returns one result per record, customers
// first, then plans, payments and events. Refused records are left out of
// the writes; the others are written even so. An error (database, or a ref
// repeated within the batch) leaves the transaction unusable: roll it back.
// One that says the file is damaged marks the store damaged, as a write
// through withTx does: an import that met a damaged page left the store
// taking writes and saying it was ready.
func (t *importTx) Apply(ctx context.Context, b repo.ImportBatch, now time.Time) ([]repo.ImportLineResult, error) {
	out, err := t.apply(ctx, b, now)
	return out, t.s.noteDamage(err)
}

func (t *importTx) apply(ctx context.Context, b repo.ImportBatch, now time.Time) ([]repo.ImportLineResult, error) {
	if err := b.CheckUnique(); err != nil {
		return nil, err
	}
	out := make([]repo.ImportLineResult, 0, b.Len())
	// The customers' ids, as the customers step read or wrote them: the
	// plans step looks up only the customers of earlier batches.
	customerIDs := make(map[string]int64, len(b.Customers))
	steps := []func() ([]repo.ImportLineResult, error){
		func() ([]repo.ImportLineResult, error) { return t.customers(ctx, b.Customers, now, customerIDs) },
		func() ([]repo.ImportLineResult, error) { return t.plans(ctx, b.Plans, now, customerIDs) },
		func() ([]repo.ImportLineResult, error) { return t.payments(ctx, b.Payments, now) },
		func() ([]repo.ImportLineResult, error) { return t.events(ctx, b.Events, now) },
	}
	for _, step := range steps {
		res, err := step()
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

// Analyze refreshes the query planner's statistics of the tables an import
// writes, so that after a large load the look-ups by ref keep using the
// indexes (SQLite keeps no statistics until ANALYZE runs).
func (t *importTx) Analyze(ctx context.Context) error {
	for _, table := range []string{"customers", "plans", "installments", "payments", "channel_events"} {
		if _, err := t.tx.ExecContext(ctx, `ANALYZE `+table); err != nil {
			return fmt.Errorf("import: analyze %s: %w", table, err)
		}
	}
	return nil
}

// importJSON is v as a JSON array for json_each, the way lists go into a
// statement here (PostgreSQL takes arrays).
func importJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("import: encode list: %w", err)
	}
	return string(b), nil
}

// importMicros is an instant as stored in a TIMESTAMP column, for a value
// going in through JSON (the driver binds time.Time arguments the same way).
func importMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMicro()
	return &v
}

// customerIDs adds the ids of the customers with refs to ids (refs not
// found are left out).
func (t *importTx) customerIDs(ctx context.Context, refs []string, ids map[string]int64) error {
	if len(refs) == 0 {
		return nil
	}
	list, err := importJSON(refs)
	if err != nil {
		return err
	}
	var custs []struct {
		Ref string `db:"ref"`
		ID  int64  `db:"id"`
	}
	if err := t.tx.SelectContext(ctx, &custs, `
		SELECT ref, id FROM customers WHERE ref IN (SELECT value FROM json_each($1))`, list); err != nil {
		return fmt.Errorf("customers: %w", err)
	}
	for _, c := range custs {
		ids[c.Ref] = c.ID
	}
	return nil
}
