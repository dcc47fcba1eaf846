package console

import (
	"context"
	"time"

	"duebell/kinds"
	"duebell/repo"
	"duebell/scheduler"
)

// collectionBudget is how much of a customer's contact budget for overdue
// notices (policy.collection) is used as of now.
type collectionBudget struct {
	Limited         bool // any limit is set
	PerDay, PerWeek int  // the limits; 0 is none
	Window          string
	scheduler.Budget
}

// collectionBudget reads the customer's collection notices of the last
// week and counts them in their own zone, as the dispatcher does.
func (c *Console) collectionBudget(ctx context.Context, cust repo.Customer) (collectionBudget, error) {
	lim := c.cfg.Collection
	out := collectionBudget{Limited: lim.Limited(), PerDay: lim.PerDay, PerWeek: lim.PerWeek, Window: lim.Window.String()}
	if !out.Limited {
		return out, nil
	}
	loc, err := time.LoadLocation(cust.Timezone)
	if err != nil || cust.Timezone == "" {
		loc = c.cfg.Location
	}
	now := c.cfg.Now()
	sent, err := c.cfg.Store.CollectionSent(ctx, cust.ID, now.AddDate(0, 0, -(scheduler.CollectionWeekDays+1)), kinds.Collection())
	if err != nil {
		return out, err
	}
	out.Budget = lim.Used(sent, now, loc)
	return out, nil
}

// FreesDate is the customer-local day the budget allows the next one.
func (b collectionBudget) FreesDate() string { return b.FreesOn.Format("2006-01-02") }
