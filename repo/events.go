package repo

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/kinds"
)

// Payment-channel event kinds (their facts are in package kinds).
const (
	EventCardUnbound         = kinds.CardUnbound
	EventCardBound           = kinds.CardBound
	EventAutodebitFailed     = kinds.AutodebitFailed
	EventRepaymentEntryMoved = kinds.RepaymentEntryMoved
	EventPlanCancelled       = kinds.PlanCancelled
	EventServiceClosed       = kinds.ServiceClosed
	EventVerificationChanged = kinds.VerificationChanged
)

// Event scopes: one customer, one plan (and its customer), or every
// customer with an active plan.
const (
	ScopeCustomer = kinds.ScopeCustomer
	ScopePlan     = kinds.ScopePlan
	ScopeAll      = kinds.ScopeAll
)

// EventRule is how the scan turns one kind of event into notices: the
// registry's kinds.Event.
type EventRule = kinds.Event

// EventKinds lists the known event kinds, in the registry's order.
func EventKinds() []string { return kinds.Events() }

// EventScopes returns the scopes an event of kind may have; false for an
// unknown kind.
func EventScopes(kind string) ([]string, bool) {
	r, ok := EventRuleOf(kind)
	if !ok {
		return nil, false
	}
	return slices.Clone(r.Scopes), true
}

// JSONObject is a JSON object stored as jsonb, kept as its bytes.
type JSONObject []byte

// Scan implements sql.Scanner, copying the driver's bytes.
func (j *JSONObject) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		*j = append(JSONObject(nil), v...)
	case string:
		*j = JSONObject(v)
	case nil:
		*j = JSONObject("{}")
	default:
		return fmt.Errorf("cannot scan %T into JSONObject", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (j JSONObject) Value() (driver.Value, error) {
	if len(j) == 0 {
		return "{}", nil
	}
	return string(j), nil
}

// MarshalJSON writes the object as is.
func (j JSONObject) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("{}"), nil
	}
	return j, nil
}

// Event is one payment-channel event as stored.
type Event struct {
	ID          int64      `db:"id" json:"id"`
	Ref         string     `db:"ref" json:"ref"`
	Kind        string     `db:"kind" json:"kind"`
	Scope       string     `db:"scope" json:"scope"`
	CustomerID  *int64     `db:"customer_id" json:"-"`
	PlanID      *int64     `db:"plan_id" json:"-"`
	CustomerRef string     `db:"customer_ref" json:"customer_ref,omitempty"`
	PlanRef     string     `db:"plan_ref" json:"plan_ref,omitempty"`
	Payload     JSONObject `db:"payload" json:"payload"`
	OccurredAt  time.Time  `db:"occurred_at" json:"occurred_at"`
	ReceivedAt  time.Time  `db:"received_at" json:"received_at"`
	ProcessedAt *time.Time `db:"processed_at" json:"processed_at"`
}

// EventInput is an event the lender reports.
type EventInput struct {
	Ref, Kind, Scope     string
	CustomerRef, PlanRef string // as the scope requires; a plan's customer_ref may be given and must match
	OccurredAt           time.Time
	Payload              JSONObject // a JSON object, already validated for the kind
	InstallmentSeq       int        // autodebit_failed: payload "seq", checked to exist on the plan; 0 = none
	Now                  time.Time  // received_at
}

const eventSelect = `SELECT e.*, coalesce(c.ref, '') AS customer_ref, coalesce(p.ref, '') AS plan_ref
FROM channel_events e LEFT JOIN customers c ON c.id = e.customer_id LEFT JOIN plans p ON p.id = e.plan_id`

// RecordEvent stores a reported event, idempotently by ref: a new ref is
// stored (created true); a known ref with the same kind, scope, customer,
// plan, instant and payload (compared as jsonb) returns the stored event; a
// known ref with anything else is ErrConflict. An unknown customer, plan or
// installment is ErrNotFound; a plan that is not customer_ref's is ErrConflict.
func (q Common) RecordEvent(ctx context.Context, in EventInput) (Event, bool, error) {
	if _, ok := EventRuleOf(in.Kind); !ok {
		return Event{}, false, fmt.Errorf("record event: unknown kind %q", in.Kind)
	}
	var (
		out     Event
		created bool
	)
	err := q.withTx(ctx, func(tx *sqlx.Tx) error {
		customerID, planID, err := resolveEventTarget(ctx, tx, in)
		if err != nil {
			return err
		}
		var id int64
		err = tx.GetContext(ctx, &id, `
			INSERT INTO channel_events (ref, kind, scope, customer_id, plan_id, payload, occurred_at, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (ref) DO NOTHING RETURNING id`,
			in.Ref, in.Kind, in.Scope, customerID, planID, in.Payload, in.OccurredAt, in.Now)
		switch {
		case err == nil:
			created = true
		case errors.Is(err, sql.ErrNoRows):
			// The payload is compared as a JSON value (key order, spacing and
			// number spelling aside), the way jsonb equality does.
			var stored struct {
				Same    bool       `db:"same"`
				Payload JSONObject `db:"payload"`
			}
			if err := tx.GetContext(ctx, &stored, `
				SELECT kind = $2 AND scope = $3 AND customer_id IS NOT DISTINCT FROM $4
				   AND plan_id IS NOT DISTINCT FROM $5 AND occurred_at = $6 AS same, payload
				FROM channel_events WHERE ref = $1`,
				in.Ref, in.Kind, in.Scope, customerID, planID, in.OccurredAt); err != nil {
				return fmt.Errorf("compare event: %w", err)
			}
			if !stored.Same || !SameJSON(stored.Payload, in.Payload) {
				return fmt.Errorf("event %q was already recorded with another body: %w", in.Ref, ErrConflict)
			}
		default:
			return fmt.Errorf("insert event: %w", err)
		}
		if err := tx.GetContext(ctx, &out, eventSelect+` WHERE e.ref = $1`, in.Ref); err != nil {
			return fmt.Errorf("load event: %w", err)
		}
		return nil
	})
	return out, created, err
}

// resolveEventTarget looks up the customer and plan an event names.
func resolveEventTarget(ctx context.Context, tx *sqlx.Tx, in EventInput) (customerID, planID *int64, err error) {
	switch in.Scope {
	case ScopeCustomer:
		var id int64
		if err := tx.GetContext(ctx, &id, `SELECT id FROM customers WHERE ref = $1`, in.CustomerRef); err != nil {
			return nil, nil, NotFound(err, fmt.Sprintf("customer %q", in.CustomerRef))
		}
		return &id, nil, nil
	case ScopePlan:
		var p struct {
			ID          int64  `db:"id"`
			CustomerID  int64  `db:"customer_id"`
			CustomerRef string `db:"customer_ref"`
		}
		if err := tx.GetContext(ctx, &p, `SELECT p.id, p.customer_id, c.ref AS customer_ref
			FROM plans p JOIN customers c ON c.id = p.customer_id WHERE p.ref = $1`, in.PlanRef); err != nil {
			return nil, nil, NotFound(err, fmt.Sprintf("plan %q", in.PlanRef))
		}
		if in.CustomerRef != "" && in.CustomerRef != p.CustomerRef {
			return nil, nil, fmt.Errorf("plan %q belongs to another customer than %q: %w", in.PlanRef, in.CustomerRef, ErrConflict)
		}
		if in.InstallmentSeq > 0 {
			var ok bool
			if err := tx.GetContext(ctx, &ok, `SELECT true FROM installments WHERE plan_id = $1 AND seq = $2`,
				p.ID, in.InstallmentSeq); err != nil {
				return nil, nil, NotFound(err, fmt.Sprintf("plan %q installment %d", in.PlanRef, in.InstallmentSeq))
			}
		}
		return &p.CustomerID, &p.ID, nil
	case ScopeAll:
		return nil, nil, nil
	}
	return nil, nil, fmt.Errorf("record event: unknown scope %q", in.Scope)
}

// GetEvent returns the event with ref, or an error wrapping ErrNotFound.
func (q Common) GetEvent(ctx context.Context, ref string) (Event, error) {
	var e Event
	if err := q.db.GetContext(ctx, &e, eventSelect+` WHERE e.ref = $1`, ref); err != nil {
		return Event{}, NotFound(err, fmt.Sprintf("event %q", ref))
	}
	return e, nil
}

// outstandingSQL is, in the claim query (claimed notice "claimed", its event
// "e"), the unpaid balance a notice of the kinds in $6 (kinds.Outstanding:
// service_closed) reports: every pending
// installment of the customer's active plans in the currency of the
// notice's plan "p" (the template prints one currency; a sum across
// currencies would mean nothing), or of the one plan for scope plan. It is computed when the notice is claimed, so it is current when sent.
const outstandingSQL = `CASE WHEN e.kind = ANY($6) THEN coalesce((
	SELECT sum(oi.amount - oi.paid) FROM installments oi JOIN plans op ON op.id = oi.plan_id
	WHERE op.customer_id = claimed.customer_id AND op.status = 'active'
	  AND oi.status = 'pending' AND oi.paid < oi.amount
	  AND op.currency = p.currency AND (e.scope <> 'plan' OR op.id = e.plan_id)), 0)::bigint ELSE 0 END`
