package scheduler

import "time"

// Defaults of policy.collection.
const (
	DefaultCollectionPerDay  = 1
	DefaultCollectionPerWeek = 3
)

// DefaultCollectionWindow is 08:00-21:00: collection notices go out only in
// these hours (and only inside the send window as well).
var DefaultCollectionWindow = Window{Start: 8 * 60, End: 21 * 60}

// CollectionWeekDays is the span of the weekly limit: the customer's
// current local day and the six before it.
const CollectionWeekDays = 7

// Collection bounds how often one customer is contacted about overdue bills
// (kinds with Collection set in the kinds registry), across all their plans
// and channels: every message that reaches a provider counts once.
//
// Days are the customer's local calendar days; the week is the current day
// and the six before it (a rolling week, so no Monday lets a burst through).
type Collection struct {
	PerDay  int // at most this many a day; 0: no daily limit
	PerWeek int // at most this many in any 7 local days; 0: no weekly limit
	// Window is when collection notices may go out, intersected with the
	// send window of their kind.
	Window Window
}

// Limited reports whether any limit is set.
func (c Collection) Limited() bool { return c.PerDay > 0 || c.PerWeek > 0 }

// Budget is how much of a customer's collection budget is used as of a time.
type Budget struct {
	Today, Week int // collection notices sent today, and in the 7 days ending today
	// Full is true when no more may go out today.
	Full bool
	// FreesOn is, when Full, local midnight of the first day one more may
	// go out (before its window and quiet days are applied).
	FreesOn time.Time
}

// Used reads a customer's budget as of now in their zone loc from the times
// their collection notices went out (older than a week are ignored; times
// after now count as today).
func (c Collection) Used(sent []time.Time, now time.Time, loc *time.Location) Budget {
	today := dayOf(now, loc)
	perDay := map[int]int{} // days before today → count
	var b Budget
	for _, s := range sent {
		ago := max(daysBetween(dayOf(s, loc), today), 0)
		if ago >= CollectionWeekDays {
			continue
		}
		perDay[ago]++
		b.Week++
		if ago == 0 {
			b.Today++
		}
	}
	if !c.over(b.Today, b.Week) {
		return b
	}
	b.Full = true
	// Day k after today: nothing yet on it, and the week then holds the
	// sends of the days at most 6-k days before today.
	week := b.Week
	for k := 1; k <= CollectionWeekDays; k++ {
		week -= perDay[CollectionWeekDays-k]
		if !c.over(0, week) {
			b.FreesOn = time.Date(today.Year(), today.Month(), today.Day()+k, 0, 0, 0, 0, loc)
			break
		}
	}
	return b
}

// over reports whether today's and the week's counts leave no room.
func (c Collection) over(today, week int) bool {
	return c.PerDay > 0 && today >= c.PerDay || c.PerWeek > 0 && week >= c.PerWeek
}

// dayOf is local midnight of t's day in loc, as a UTC date.
func dayOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func daysBetween(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }

// Intersect is the part of the day both windows allow; ok is false when
// they do not overlap.
func (w Window) Intersect(o Window) (Window, bool) {
	out := Window{Start: max(w.Start, o.Start), End: min(w.End, o.End)}
	return out, out.Start < out.End
}
