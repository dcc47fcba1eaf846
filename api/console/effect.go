package console

import (
	"context"
	"sync"
	"time"

	"duebell/repo"
	"duebell/scheduler"
)

// effectTTL is how long the overview reuses an effect report: it reads 90
// days of notices, and payments within days move its shares slowly.
const effectTTL = 10 * time.Minute

// effectCache keeps the overview's effect reports, one per period start
// (viewers in different zones start their day at different instants).
type effectCache struct {
	mu      sync.Mutex
	entries map[time.Time]effectEntry
}

type effectEntry struct {
	rows []repo.EffectRow
	at   time.Time // wall clock when computed
}

// effectReport returns the effect report of the reminders sent from since
// to now, computing it at most once per effectTTL per since.
func (c *Console) effectReport(ctx context.Context, since, now time.Time) ([]repo.EffectRow, error) {
	c.effect.mu.Lock()
	defer c.effect.mu.Unlock()
	wall := c.cfg.Clock()
	if e, ok := c.effect.entries[since]; ok && wall.Sub(e.at) < effectTTL {
		return e.rows, nil
	}
	rows, err := c.cfg.Store.EffectReport(ctx, scheduler.ReminderKinds(), since, now, now)
	if err != nil {
		return nil, err
	}
	if c.effect.entries == nil {
		c.effect.entries = map[time.Time]effectEntry{}
	}
	for k, e := range c.effect.entries { // drop stale entries: the map stays small
		if wall.Sub(e.at) >= effectTTL {
			delete(c.effect.entries, k)
		}
	}
	c.effect.entries[since] = effectEntry{rows: rows, at: wall}
	return rows, nil
}
