package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"duebell/internal/outage"
)

// leaseKeeper extends the leases of the notices this dispatcher holds every
// third of a lease, by the lease clock (checked whenever outcomes are
// written) and by the wall clock (a ticker, for sends that hang): a live
// worker never loses a claim, however long its batch takes. After a failed
// extension (the database away) the ticker tries again every second, so
// the leases are renewed as soon as the database is back, before they run
// out and another replica's rescue takes them.
type leaseKeeper struct {
	d      *Dispatcher
	mu     sync.Mutex
	last   time.Time   // lease clock at the last extension
	failed bool        // the last extension failed
	outage outage.Once // extensions failing through an outage, said once
	warned bool        // lapsing was logged since the last extension
}

func (d *Dispatcher) newLeaseKeeper() *leaseKeeper {
	return &leaseKeeper{d: d, last: d.cfg.LeaseClock()}
}

// run extends leases on a wall-clock ticker until done is closed.
func (k *leaseKeeper) run(done <-chan struct{}) {
	t := time.NewTicker(min(k.d.cfg.Lease/3, time.Second))
	defer t.Stop()
	due := time.Now().Add(k.d.cfg.Lease / 3)
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			k.mu.Lock()
			retry := k.failed
			k.mu.Unlock()
			if retry || !now.Before(due) {
				due = now.Add(k.d.cfg.Lease / 3)
				k.extendIfDue(true)
			}
		}
	}
}

// extendIfDue extends every lease this dispatcher holds when a third of a
// lease has passed on its clock since the last extension, or when force.
func (k *leaseKeeper) extendIfDue(force bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.d.cfg.LeaseClock() // read under the lock: an extension never goes back in time
	if !force && now.Sub(k.last) < k.d.cfg.Lease/3 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ids, err := k.d.cfg.Store.ExtendLeases(ctx, k.d.cfg.Owner, now, k.d.cfg.Lease)
	k.failed = err != nil
	if err != nil { // retried every second while it fails: said once
		k.d.cfg.Logger.Log(ctx, k.outage.Level(), "extend leases failed", slog.String("error", err.Error()))
		return
	}
	if k.outage.Recovered() {
		k.d.cfg.Logger.Info("leases extended again")
	}
	k.last = now
	k.warned = false
	if len(ids) > 0 {
		k.d.cfg.Logger.Debug("leases extended", slog.Int("count", len(ids)))
	}
}

// lapsing says whether the lease on a notice claimed at claimed (lease
// clock) may be too short for a send to start on it: less than a third of a
// lease is left since the later of its claim and the last extension that
// succeeded. Only a failed extension (the database out of reach) lets so
// much of a lease pass; by its end another replica may rescue the notice
// and send it. It logs the first such notice of each failure at WARN.
func (k *leaseKeeper) lapsing(claimed time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	held := k.last
	if claimed.After(held) {
		held = claimed
	}
	if k.d.cfg.LeaseClock().Sub(held) <= k.d.cfg.Lease*2/3 {
		return false
	}
	if !k.warned {
		k.warned = true
		k.d.cfg.Logger.Warn("leases could not be extended and are running out; giving claimed notices back untried")
	}
	return true
}
