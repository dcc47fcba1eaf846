package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"duebell/kinds"
	"duebell/repo"
	"duebell/scheduler"
)

// Contact limits for collection notices (Config.Collection): per customer,
// across plans and channels, so many a day and a week. The excess waits,
// pending, for the first window opening the budget allows, without spending
// an attempt; nothing is dropped.
//
// Several dispatchers and their workers decide at once, so the count of a
// customer's notices is:
//
//   - those that reached a provider (read once per claimed batch, at the
//     batch's first collection notice, after its claim committed);
//   - those this dispatcher let through and has not yet written back: the
//     ledger, checked and updated under one lock by every worker;
//   - those other dispatchers hold right now: while any could still push the
//     customer over a limit, the notice looks again in capRecheck. Of two
//     dispatchers whose claims race, the one that reads second sees the
//     other's claim, so they never both send past a limit.

// collectionLedger is what this dispatcher let through, by customer and
// notice, each with the order it was let through in.
type collectionLedger struct {
	mu  sync.Mutex
	seq uint64
	let map[int64]map[int64]letThrough
}

type letThrough struct {
	seq uint64
	at  time.Time
}

// collectionSnapshot is the database's counts as one batch first read them;
// seq is the ledger's order when the read began.
type collectionSnapshot struct {
	once   sync.Once
	seq    uint64
	counts map[int64]repo.CollectionCount
	err    error
}

// collectionPrune is how long a written-back entry stays in the ledger: a
// batch that read the database before the entry's outcome was written may
// still need it. A batch lives about one lease.
func (d *Dispatcher) collectionPrune() time.Duration { return max(time.Hour, 10*d.cfg.Lease) }

// contactHold applies the per-customer limits just before a send: the
// collection limits to a collection notice, then the SMS cap. A notice both
// let through is recorded against the collection budget.
func (d *Dispatcher) contactHold(now time.Time, loc *time.Location, c *repo.Claim, gate *capGate) (repo.Outcome, bool) {
	lim := d.cfg.Collection
	if !facts(c.Kind).Collection || !lim.Limited() {
		return d.capHold(now, loc, c, gate)
	}
	snap := d.collectionCounts(now, gate)
	if snap.err != nil {
		d.log(c, slog.LevelWarn, "collection counts unavailable, deferred", slog.String("error", snap.err.Error()))
		return postpone(c, now.Add(capRecheck), "waiting: collection limit could not be checked")
	}
	cc := snap.counts[c.Customer.ID]
	l := &d.collection
	l.mu.Lock()
	defer l.mu.Unlock()
	sent := cc.Sent
	held := map[int64]bool{}
	for _, id := range cc.Held {
		held[id] = true
	}
	for id, e := range l.let[c.Customer.ID] {
		switch {
		case id == c.ID:
		case e.seq > snap.seq || held[id]: // not yet written back when the batch read
			sent = append(sent[:len(sent):len(sent)], e.at)
		case now.Sub(e.at) > d.collectionPrune():
			delete(l.let[c.Customer.ID], id)
		}
	}
	b := lim.Used(sent, now, loc)
	if b.Full {
		next, _ := scheduler.NextAllowed(d.window(c.Kind), d.cfg.Calendar, d.cfg.StageQuiet[c.Stage], b.FreesOn, loc)
		d.log(c, slog.LevelInfo, "collection limit reached, deferred", slog.Int("today", b.Today),
			slog.Int("week", b.Week), slog.Time("next", next))
		return postpone(c, next, collectionReason(lim, b))
	}
	if cc.InFlight > 0 && lim.Used(append(sent[:len(sent):len(sent)], inFlight(now, cc.InFlight)...), now, loc).Full {
		return postpone(c, now.Add(capRecheck+time.Duration(d.cfg.Jitter()*float64(capRecheck))),
			"waiting: collection limit, other overdue notices to this customer in flight")
	}
	if held, ok := d.capHold(now, loc, c, gate); ok {
		return held, true
	}
	if l.let[c.Customer.ID] == nil {
		l.let[c.Customer.ID] = map[int64]letThrough{}
	}
	l.seq++
	l.let[c.Customer.ID][c.ID] = letThrough{seq: l.seq, at: now}
	return repo.Outcome{}, false
}

// collectionCounts reads the database's counts once per claimed batch.
func (d *Dispatcher) collectionCounts(now time.Time, gate *capGate) *collectionSnapshot {
	s := &gate.collection
	s.once.Do(func() {
		d.collection.mu.Lock()
		s.seq = d.collection.seq
		if d.collection.let == nil {
			d.collection.let = map[int64]map[int64]letThrough{}
		}
		d.collection.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		since := now.AddDate(0, 0, -(scheduler.CollectionWeekDays + 1))
		s.counts, s.err = d.cfg.Store.CollectionCounts(ctx, d.cfg.Owner, d.cfg.LeaseClock(), since, kinds.Collection())
	})
	return s
}

// inFlight counts n notices held elsewhere as going out now.
func inFlight(now time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = now
	}
	return out
}

// collectionReason says which limit a deferred notice waits for: the weekly
// one when it is full (it sets the longer wait), else the daily one.
func collectionReason(lim scheduler.Collection, b scheduler.Budget) string {
	if lim.PerWeek > 0 && b.Week >= lim.PerWeek {
		return fmt.Sprintf("waiting: collection limit (%d in 7 days)", lim.PerWeek)
	}
	return fmt.Sprintf("waiting: collection limit (%d a day)", lim.PerDay)
}

// collectionWindow is w narrowed to the collection window for a collection
// kind.
func (d *Dispatcher) collectionWindow(kind string, w scheduler.Window) scheduler.Window {
	if !facts(kind).Collection {
		return w
	}
	if in, ok := w.Intersect(d.cfg.Collection.Window); ok {
		return in
	}
	return w // New refuses windows that do not overlap
}

// checkCollection fills the collection window's default and refuses one
// that leaves a collection kind no hour to go out in.
func checkCollection(cfg *Config) error {
	if cfg.Collection.PerDay < 0 || cfg.Collection.PerWeek < 0 {
		return fmt.Errorf("dispatcher: collection limits must not be negative")
	}
	if cfg.Collection.Window == (scheduler.Window{}) {
		cfg.Collection.Window = scheduler.DefaultCollectionWindow
	}
	for _, k := range kinds.Collection() {
		w := cfg.Window
		if kw, ok := cfg.KindWindows[k]; ok {
			w = kw
		}
		if _, ok := w.Intersect(cfg.Collection.Window); !ok {
			return fmt.Errorf("dispatcher: collection window %v does not overlap the %s send window %v",
				cfg.Collection.Window, k, w)
		}
	}
	return nil
}
