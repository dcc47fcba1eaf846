package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/internal/input"
	"duebell/kinds"
)

// This file holds the scans' rules that are plain Go, run by both stores:
// each store supplies its own SQL (EventTx) and calls these.

// DueScanLookahead is how many days past the UTC date of a scan a due date
// may lie and still be reminded: the earliest stage's lead, and a day of
// slack because the customer's local date may be ahead of UTC's.
func DueScanLookahead(stages []Stage) int {
	lookahead := 0
	for _, s := range stages {
		lookahead = max(lookahead, -s.OffsetDays)
	}
	return lookahead + 1
}

// DigestPairs lists the stage × channel pairs whose notices a scan groups
// into digests (Stage.DigestChannels), as two parallel lists.
func DigestPairs(stages []Stage) (names, channels []string) {
	for _, s := range stages {
		for _, ch := range s.DigestChannels {
			names, channels = append(names, s.Name), append(channels, ch)
		}
	}
	return names, channels
}

// EventScanBatch checks a channel-event scan's arguments and returns the
// batch size to use (DefaultEventBatch when batch is not positive).
func EventScanBatch(batch int, channels []string) (int, error) {
	if batch <= 0 {
		batch = DefaultEventBatch
	}
	for _, ch := range channels {
		if ch != "sms" && ch != "email" {
			return 0, fmt.Errorf("event scan: unknown channel %q", ch)
		}
	}
	return batch, nil
}

// EventRuleOf returns how the scan acts on events of kind; false for an
// unknown kind.
func EventRuleOf(kind string) (EventRule, bool) {
	k, ok := kinds.Of(kind)
	if !ok || k.Event == nil {
		return EventRule{}, false
	}
	return *k.Event, true
}

// ClaimedEvent is an unprocessed event a scan transaction has taken.
type ClaimedEvent struct {
	ID         int64      `db:"id"`
	Ref        string     `db:"ref"`
	Kind       string     `db:"kind"`
	Scope      string     `db:"scope"`
	CustomerID *int64     `db:"customer_id"`
	PlanID     *int64     `db:"plan_id"`
	OccurredAt time.Time  `db:"occurred_at"`
	Payload    JSONObject `db:"payload"`
}

// EventTx is what applying one event needs from a store, inside the scan's
// transaction.
type EventTx interface {
	// LaterCardEvent: has an event of kinds (the repay-method events,
	// kinds.RepayMethodEvents) for an overlapping set of plans of ev's
	// customer that occurred after ev already been processed?
	LaterCardEvent(ctx context.Context, ev *ClaimedEvent, kinds []string) (bool, error)
	// SetRepayMethod switches the customer's active plans (or the one plan)
	// to method, storing card when not "", and returns the plans it changed.
	SetRepayMethod(ctx context.Context, customerID int64, planID *int64, method, card string, now time.Time) ([]int64, error)
	// CancelPlan cancels an active plan; 1 when it changed.
	CancelPlan(ctx context.Context, planID int64, now time.Time) (int, error)
	// SuppressCancelled suppresses the plan's pending, not forced notices
	// of kinds, with the reason "plan cancelled", and counts them.
	SuppressCancelled(ctx context.Context, planID int64, now time.Time, kinds []string) (int, error)
	// QueueEventNotices queues ev's notices (see eventNoticeSQL) and counts
	// them by kind, channel and first status. A plan it picks is one of
	// plans, when not empty (the plans the event changed).
	QueueEventNotices(ctx context.Context, ev *ClaimedEvent, rule EventRule, seq int, now time.Time, channels []string,
		plans []int64) ([]QueuedCount, error)
}

// eventPayload holds the payload fields the scan acts on.
type eventPayload struct {
	CardLast4 string `json:"card_last4"`
	Seq       int    `json:"seq"`
}

var last4 = regexp.MustCompile(`^[0-9]{4}$`)

// ApplyEvent applies one event's side effects and queues its notices
// through tx, adding what it did to res.
func ApplyEvent(ctx context.Context, tx EventTx, now time.Time, ev *ClaimedEvent, channels []string, res *EventScanResult) error {
	rule, ok := EventRuleOf(ev.Kind)
	if !ok || !slices.Contains(rule.Scopes, ev.Scope) || !targetComplete(ev) {
		res.Ignored++
		return nil
	}
	var p eventPayload
	_ = json.Unmarshal(ev.Payload, &p) // a direct writer's odd payload only loses optional fields
	if !last4.MatchString(p.CardLast4) {
		p.CardLast4 = ""
	}
	var changed []int64 // the plans a card event switched: its notice names one of them
	if rule.RepayMethod != "" {
		later, err := tx.LaterCardEvent(ctx, ev, kinds.RepayMethodEvents())
		if err != nil {
			return fmt.Errorf("check later card events: %w", err)
		}
		if later {
			res.Superseded++
			return nil
		}
		if rule.RepayMethod == kinds.RepayManual {
			p.CardLast4 = "" // the unbound card stays on file; see repayMethodSQL
		}
		if changed, err = tx.SetRepayMethod(ctx, *ev.CustomerID, ev.PlanID, rule.RepayMethod, p.CardLast4, now); err != nil {
			return fmt.Errorf("change repay method: %w", err)
		}
		if len(changed) == 0 {
			// The plans already were as the event says (a card unbound
			// from plans that pay manually anyway, a card bound again):
			// nothing changed for the borrower to be told of.
			res.Superseded++
			return nil
		}
		res.PlansChanged += len(changed)
	}
	if rule.CancelsPlan {
		n, err := tx.CancelPlan(ctx, *ev.PlanID, now)
		if err != nil {
			return fmt.Errorf("cancel plan: %w", err)
		}
		res.PlansChanged += n
		// The notices that ask for payment of one installment: a cancelled
		// plan's pending ones are suppressed.
		if n, err = tx.SuppressCancelled(ctx, *ev.PlanID, now, kinds.AsksPayment()); err != nil {
			return fmt.Errorf("suppress reminders: %w", err)
		}
		res.Suppressed += n
	}
	if len(channels) == 0 {
		return nil
	}
	seq := p.Seq
	if !slices.Contains(rule.Payload, "seq") {
		seq = 0 // only a kind that takes payload seq names its installment by it
	}
	counts, err := tx.QueueEventNotices(ctx, ev, rule, seq, now, channels, changed)
	if err != nil {
		return fmt.Errorf("queue notices: %w", err)
	}
	res.Add(EventScanResult{Queued: counts})
	return nil
}

// targetComplete reports whether a row names what its scope needs (rows
// written before the table's constraints may not).
func targetComplete(ev *ClaimedEvent) bool {
	switch ev.Scope {
	case ScopeCustomer:
		return ev.CustomerID != nil
	case ScopePlan:
		return ev.CustomerID != nil && ev.PlanID != nil
	}
	return true
}

// ZoneDay is a time zone customers live in and the local day a scan runs
// on there: the date, and the instants it starts and ends.
type ZoneDay struct {
	Name       string
	Day        Date
	Start, End time.Time
}

// ScanZoneDays reads the time zones customers live in (few: one statement
// per scan serves them all, in either store), resolves them with duebell's
// own zone database (the one the API checked them with and the
// dispatcher's send windows use), never the database server's, and gives
// the local day at now in each. A zone that cannot be loaded is listed in
// unknown: its customers get nothing from the scan (which says so), and the
// others are not held up by it.
func ScanZoneDays(ctx context.Context, q sqlx.QueryerContext, now time.Time) (days []ZoneDay, unknown []string, err error) {
	var names []string
	if err := sqlx.SelectContext(ctx, q, &names, `SELECT DISTINCT timezone FROM customers`); err != nil {
		return nil, nil, fmt.Errorf("list time zones: %w", err)
	}
	for _, n := range names {
		loc, err := input.Zone(n)
		if err != nil {
			unknown = append(unknown, n)
			continue
		}
		y, m, d := now.In(loc).Date()
		days = append(days, ZoneDay{Name: n, Day: NewDate(y, m, d),
			Start: time.Date(y, m, d, 0, 0, 0, 0, loc), End: time.Date(y, m, d+1, 0, 0, 0, 0, loc)})
	}
	slices.Sort(unknown)
	return days, unknown, nil
}
