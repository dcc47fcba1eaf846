package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// DefaultEventBatch is how many events one scan transaction claims.
const DefaultEventBatch = 100

// EventScanResult is what one channel-event scan did.
type EventScanResult struct {
	Events int // events processed (marked processed_at)
	// Superseded card events changed nothing and told no one: a card event
	// for the same plans that occurred later was already processed, or the
	// plans already were as the event says.
	Superseded int
	// Ignored events were written to the table directly with a kind or
	// scope the scan cannot act on; they are marked processed, nothing else.
	Ignored      int
	PlansChanged int           // plans whose repay method, card or status changed
	Suppressed   int           // pending reminders of cancelled plans suppressed
	Queued       []QueuedCount // notices created, by kind, channel and first status
}

// Total is the number of notices created.
func (s EventScanResult) Total() int {
	n := 0
	for _, q := range s.Queued {
		n += q.Count
	}
	return n
}

// Add adds o's counts to s.
func (s *EventScanResult) Add(o EventScanResult) {
	s.Events += o.Events
	s.Superseded += o.Superseded
	s.Ignored += o.Ignored
	s.PlansChanged += o.PlansChanged
	s.Suppressed += o.Suppressed
	for _, q := range o.Queued {
		i := slices.IndexFunc(s.Queued, func(x QueuedCount) bool {
			return x.Kind == q.Kind && x.Channel == q.Channel && x.Status == q.Status
		})
		if i < 0 {
			s.Queued = append(s.Queued, q)
		} else {
			s.Queued[i].Count += q.Count
		}
	}
}

// ProcessChannelEvents processes every event that occurred by now and is not
// processed yet, oldest first, batch events per transaction. In each
// transaction it applies the events' side effects, queues their notices on
// channels (sms, email) and marks them processed, so an event is applied
// and announced entirely or not at all. Each notice's dedup key is
// event:<event>:<customer>:<channel>: even an event processed twice queues
// nothing twice. Only one replica processes at a time: ErrBusy when another
// holds the lock before the first batch.
func (r *Repo) ProcessChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (EventScanResult, error) {
	return r.eventScan(ctx, now, batch, channels, false)
}

// PreviewChannelEvents reports what ProcessChannelEvents would do as of now,
// writing nothing: the same statements run in one transaction that is rolled back.
func (r *Repo) PreviewChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (EventScanResult, error) {
	return r.eventScan(ctx, now, batch, channels, true)
}

func (r *Repo) eventScan(ctx context.Context, now time.Time, batch int, channels []string, dryRun bool) (EventScanResult, error) {
	batch, err := EventScanBatch(batch, channels)
	if err != nil {
		return EventScanResult{}, err
	}
	var total EventScanResult
	for first := true; ; first = false {
		var res EventScanResult
		var n int
		err := r.withTx(ctx, func(tx *sqlx.Tx) error {
			ok, err := r.tryXactLock(ctx, tx, "scan:events")
			if err != nil {
				return err
			}
			if !ok {
				return ErrBusy
			}
			// A scope-all fan-out joins every customer's plans and bills:
			// planned without their statistics, service_closed's ran over
			// 90 s instead of 4 s at 100k customers (see analyzeStale).
			if err := analyzeStale(ctx, tx, "customers", "plans", "installments"); err != nil {
				return fmt.Errorf("event scan: %w", err)
			}
			// A scope-all fan-out's cost estimate triggers JIT compilation,
			// which costs more than it saves on this insert (measured: 8 s →
			// 6 s for 100k customers).
			if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
				return fmt.Errorf("event scan: %w", err)
			}
			for {
				var got int
				if got, err = r.eventBatch(ctx, tx, now, batch, channels, &res); err != nil {
					return err
				}
				n += got
				// A dry run sees its own marks, so it walks every batch in this
				// one transaction and rolls them all back.
				if !dryRun || got < batch {
					break
				}
			}
			if dryRun {
				return ErrDryRun
			}
			return nil
		})
		switch {
		case errors.Is(err, ErrDryRun):
			total.Add(res)
			return total, nil
		case errors.Is(err, ErrBusy) && !first:
			return total, nil // another replica took over between batches
		case err != nil:
			return total, err
		}
		total.Add(res)
		if n < batch {
			return total, r.analyzeAfterBulk(ctx, total.Total())
		}
	}
}

// eventBatch claims up to limit events and processes them in order.
func (r *Repo) eventBatch(ctx context.Context, tx *sqlx.Tx, now time.Time, limit int, channels []string, res *EventScanResult) (int, error) {
	var evs []ClaimedEvent
	if err := tx.SelectContext(ctx, &evs, `
		SELECT id, ref, kind, scope, customer_id, plan_id, occurred_at, payload FROM channel_events
		WHERE processed_at IS NULL AND occurred_at <= $1
		ORDER BY occurred_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit); err != nil {
		return 0, fmt.Errorf("claim events: %w", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
		if err := ApplyEvent(ctx, pgEventTx{tx}, now, &evs[i], channels, res); err != nil {
			return 0, fmt.Errorf("event %q: %w", evs[i].Ref, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE channel_events SET processed_at = $2 WHERE id = ANY($1)`,
		pq.Array(ids), now); err != nil {
		return 0, fmt.Errorf("mark events processed: %w", err)
	}
	res.Events += len(evs)
	return len(evs), nil
}

// pgEventTx runs ApplyEvent's statements in a scan transaction.
type pgEventTx struct{ tx *sqlx.Tx }

func (t pgEventTx) LaterCardEvent(ctx context.Context, ev *ClaimedEvent, kinds []string) (bool, error) {
	var later bool
	err := t.tx.GetContext(ctx, &later, laterCardEventSQL, *ev.CustomerID, ev.OccurredAt, ev.ID, ev.PlanID, pq.Array(kinds))
	return later, err
}

func (t pgEventTx) SetRepayMethod(ctx context.Context, customerID int64, planID *int64, method, card string, now time.Time) ([]int64, error) {
	var ids []int64
	err := t.tx.SelectContext(ctx, &ids, repayMethodSQL, customerID, planID, method, card, now)
	return ids, err
}

func (t pgEventTx) CancelPlan(ctx context.Context, planID int64, now time.Time) (int, error) {
	return execCount(ctx, t.tx, `UPDATE plans SET status = 'cancelled', updated_at = $2 WHERE id = $1 AND status = 'active'`,
		planID, now)
}

func (t pgEventTx) SuppressCancelled(ctx context.Context, planID int64, now time.Time, kinds []string) (int, error) {
	return execCount(ctx, t.tx, suppressCancelledSQL, planID, now, pq.Array(kinds))
}

// laterCardEventSQL: has an event of kinds $5 (the card events:
// kinds.RepayMethodEvents) for an overlapping set of plans of customer $1
// that occurred after $2 already been processed? Then event $3 arrived late
// and applying it would undo the newer state.
const laterCardEventSQL = `
SELECT EXISTS (SELECT 1 FROM channel_events l
	WHERE l.customer_id = $1 AND l.occurred_at > $2 AND l.id <> $3 AND l.processed_at IS NOT NULL
	  AND l.kind = ANY($5)
	  AND (l.scope = 'customer' OR $4::bigint IS NULL OR l.plan_id = $4))`

// repayMethodSQL switches the customer's active plans (or the one plan $2)
// to repay method $3, returning the plans it changed. card_bound stores the new card $4; card_unbound keeps
// the last card on file: reminders name a card only while the method is
// auto_debit, and the unbound notice can still say which card it was.
const repayMethodSQL = `
UPDATE plans SET repay_method = $3, card_last4 = CASE WHEN $4 <> '' THEN $4 ELSE card_last4 END, updated_at = $5
WHERE customer_id = $1 AND ($2::bigint IS NULL OR id = $2) AND status = 'active'
  AND (repay_method <> $3 OR ($4 <> '' AND card_last4 <> $4))
RETURNING id`

// A notice that leads a digest covering bills of other plans stays pending:
// suppressed here, it would end the digest and those bills, skipped as in
// it, would never be told of the stage. The dispatcher's pre-send re-check
// hands the digest over to the first bill still due, as it does for a plan
// cancelled by a push.
const suppressCancelledSQL = `
UPDATE notifications n SET status = 'suppressed', status_reason = 'plan cancelled', updated_at = $2
WHERE n.plan_id = $1 AND n.status = 'pending' AND NOT n.forced AND n.kind = ANY($3)
  AND NOT (n.digest_of = n.id AND EXISTS (SELECT 1 FROM notifications m
                                          WHERE m.digest_of = n.id AND m.plan_id <> n.plan_id))`

func execCount(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (int, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
