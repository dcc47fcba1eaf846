package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// ImportBatch is one chunk of a bulk import. Apply writes customers first,
// then plans, then payments, then events, each kind with a few set-based
// statements. A ref (an installment for payments) appears at most once per
// kind in a batch; the caller starts a new batch rather than repeat one.
type ImportBatch struct {
	Customers []ImportCustomer
	Plans     []ImportPlan
	Payments  []ImportPayment
	Events    []ImportEvent
}

// Len is the number of records in the batch.
func (b ImportBatch) Len() int {
	return len(b.Customers) + len(b.Plans) + len(b.Payments) + len(b.Events)
}

// ImportCustomer is one customer line. With KeepSMSOptOut (the line had no
// sms_opt_out) the stored preference is kept (false for a new customer);
// likewise KeepEmailOptOut.
type ImportCustomer struct {
	Line                           int
	Customer                       Customer
	KeepSMSOptOut, KeepEmailOptOut bool
}

// ImportPlan is one plan line with its installments. An installment with
// KeepPaid set gave no paid: the stored paid is kept (0 for a new one).
type ImportPlan struct {
	Line int
	Plan Plan
}

// ImportPayment is one payment line; Payment.Ref is required (it makes a
// re-run change nothing).
type ImportPayment struct {
	Line    int
	Payment PaymentInput
}

// ImportEvent is one channel-event line.
type ImportEvent struct {
	Line  int
	Event EventInput
}

// ImportOutcome is what a line did.
type ImportOutcome string

// Line outcomes.
const (
	ImportCreated   ImportOutcome = "created"
	ImportUpdated   ImportOutcome = "updated"
	ImportUnchanged ImportOutcome = "unchanged"
	ImportRefused   ImportOutcome = "refused"
)

// ImportLineResult is one line's outcome; Err (wrapping ErrNotFound or
// ErrConflict) says why a line was refused.
type ImportLineResult struct {
	Line    int
	Kind    string // customer, plan, payment, event
	Ref     string
	Outcome ImportOutcome
	Err     error
}

// ImportTx is an import transaction, as each store begins it: one batch (one
// commit per chunk) or every batch of an all-or-nothing import.
type ImportTx interface {
	// Apply writes b at now and returns one result per record. Refused
	// records are left out of the writes; the others are written even so.
	// An error (database, or a ref repeated within the batch) leaves the
	// transaction unusable: roll it back.
	Apply(ctx context.Context, b ImportBatch, now time.Time) ([]ImportLineResult, error)
	// Analyze refreshes the planner's statistics after a large import.
	Analyze(ctx context.Context) error
	Commit() error
	// Rollback discards the transaction; after Commit it does nothing.
	Rollback() error
}

// importTx is the PostgreSQL import transaction: one batch (one commit per chunk) or
// every batch of an all-or-nothing import.
type importTx struct {
	conn *sqlx.Conn // the transaction's connection, for the driver's COPY
	tx   *sqlx.Tx
	// ConfirmChannels get a payment_received notice when an imported
	// payment settles an installment, as with RecordPayment.
	ConfirmChannels []string
}

// RefreshImportStats analyzes, before an import begins, those of the tables
// it looks records up in by ref whose statistics are stale (staleStatsSQL),
// outside its transactions. The import's own ANALYZE runs inside a chunk's
// transaction, blind to another worker's chunk not yet committed: a run
// killed before the next one left plans and installments recorded empty,
// and the re-run looked every payment line's bill up by scanning them
// (2,000 lines a minute, against 21,000 in 4 s for a clean import).
func (r *Repo) RefreshImportStats(ctx context.Context) error {
	return r.withTx(ctx, func(tx *sqlx.Tx) error {
		return analyzeStale(ctx, tx, "customers", "plans", "installments", "payments", "channel_events")
	})
}

// BeginImport starts an import transaction.
func (r *Repo) BeginImport(ctx context.Context, confirmChannels []string) (ImportTx, error) {
	for _, ch := range confirmChannels {
		if ch != "sms" && ch != "email" {
			return nil, fmt.Errorf("import: unknown confirm channel %q", ch)
		}
	}
	conn, err := r.db.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin import: %w", err)
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("begin import: %w", err)
	}
	return &importTx{conn: conn, tx: tx, ConfirmChannels: confirmChannels}, nil
}

// Commit commits the import transaction and returns its connection to the
// pool.
func (t *importTx) Commit() error {
	err := t.tx.Commit()
	_ = t.conn.Close()
	if err != nil {
		return fmt.Errorf("commit import: %w", err)
	}
	return nil
}

// Rollback discards the import transaction (a dry run, a refused atomic
// import, or an error) and returns its connection to the pool; after
// Commit it does nothing.
func (t *importTx) Rollback() error {
	err := t.tx.Rollback()
	_ = t.conn.Close()
	return err
}

// Apply writes b at now and returns one result per record. Refused records
// are left out of the writes; the others are written even so. An error
// (database, or a ref repeated within the batch) leaves the transaction
// unusable: roll it back.
func (t *importTx) Apply(ctx context.Context, b ImportBatch, now time.Time) ([]ImportLineResult, error) {
	if err := b.CheckUnique(); err != nil {
		return nil, err
	}
	out := make([]ImportLineResult, 0, b.Len())
	// The customers' ids, as the customers step read or wrote them: the
	// plans step looks up only the customers of earlier batches.
	customerIDs := make(map[string]int64, len(b.Customers))
	steps := []func() ([]ImportLineResult, error){
		func() ([]ImportLineResult, error) { return t.customers(ctx, b.Customers, now, customerIDs) },
		func() ([]ImportLineResult, error) { return t.plans(ctx, b.Plans, now, customerIDs) },
		func() ([]ImportLineResult, error) { return t.payments(ctx, b.Payments, now) },
		func() ([]ImportLineResult, error) { return t.events(ctx, b.Events, now) },
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

// Analyze refreshes the planner's statistics of the tables an import
// writes. Run after a large load: right after one, the statistics still
// describe the smaller tables, and the next chunk's look-ups by ref (or a
// re-run's) would scan whole tables instead of walking the indexes.
func (t *importTx) Analyze(ctx context.Context) error {
	if _, err := t.tx.ExecContext(ctx, `ANALYZE customers, plans, installments, payments, channel_events`); err != nil {
		return fmt.Errorf("import: analyze: %w", err)
	}
	return nil
}
